"""PREFECT_API_URL and PREFECT_API_AUTH_STRING in the active Prefect profile, the way `prefect config set`
stores them, and read back without importing Prefect (for `mlops doctor`)."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from pathlib import Path

from .errors import ClientError

ENV_AUTH_STRING = "PREFECT_API_AUTH_STRING"


def require_prefect() -> None:
    """Fail before anything is written when Prefect is missing (importing it takes seconds, so only look)."""
    if importlib.util.find_spec("prefect") is None:
        raise ClientError(
            "Prefect is not installed in this Python environment",
            "install it with `pip install 'mlops-stack[prefect]'`, or drop --prefect-api-url",
        )


def profiles_path() -> Path:
    """Where Prefect keeps its profiles (PREFECT_PROFILES_PATH, else PREFECT_HOME/profiles.toml)."""
    if path := os.environ.get("PREFECT_PROFILES_PATH"):
        return Path(path).expanduser()
    return Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser() / "profiles.toml"


def set_prefect_api(url: str, auth_string: str | None) -> str:
    """Persist the URL (and the auth string, when given) in the current profile; returns its name. The
    profiles file then holds a secret, so it is made readable by its owner only."""
    require_prefect()
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, update_current_profile

    changes: dict = {PREFECT_API_URL: url}
    if auth_string:
        changes[PREFECT_API_AUTH_STRING] = auth_string
    try:
        profile = update_current_profile(changes)
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        raise ClientError(
            f"Prefect refused PREFECT_API_URL={url!r} ({err})", "pass the API URL, ending in /api"
        ) from err
    if auth_string:
        profiles_path().chmod(0o600)
    return profile.name


def auth_string() -> str | None:
    """PREFECT_API_AUTH_STRING from the environment, else from the active profile, else None."""
    if value := os.environ.get(ENV_AUTH_STRING):
        return value
    path = profiles_path()
    if not path.is_file():
        return None
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    return profiles.get("profiles", {}).get(active, {}).get(ENV_AUTH_STRING)

"""PREFECT_API_URL in the active Prefect profile, the way `prefect config set` stores it."""

from __future__ import annotations

import importlib.util

from .errors import ClientError


def require_prefect() -> None:
    """Fail before anything is written when Prefect is missing (importing it takes seconds, so only look)."""
    if importlib.util.find_spec("prefect") is None:
        raise ClientError(
            "Prefect is not installed in this Python environment",
            "install it with `pip install 'mlops-stack[prefect]'`, or drop --prefect-api-url",
        )


def set_prefect_api_url(url: str) -> str:
    """Persist the URL in the current profile; returns the profile's name."""
    require_prefect()
    from prefect.settings import PREFECT_API_URL, update_current_profile

    try:
        profile = update_current_profile({PREFECT_API_URL: url})
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        raise ClientError(
            f"Prefect refused PREFECT_API_URL={url!r} ({err})", "pass the API URL, ending in /api"
        ) from err
    return profile.name

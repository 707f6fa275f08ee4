"""MLflow's own credentials file: `mlops init` writes it, MLflow's client reads it.

MLflow (mlflow/utils/credentials.py) reads `~/.mlflow/credentials`, section `[mlflow]`, keys
`mlflow_tracking_username` and `mlflow_tracking_password`; the environment variables
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD win over the file. The path has no override.
The same rules are re-implemented here because importing MLflow takes seconds; a test checks that both
agree.
"""

from __future__ import annotations

import configparser
import io
import os
from pathlib import Path

from .files import write_private_file

SECTION = "mlflow"
USERNAME_KEY = "mlflow_tracking_username"
PASSWORD_KEY = "mlflow_tracking_password"  # noqa: S105 (a key name, not a password)


def credentials_path() -> Path:
    return Path(os.path.expanduser("~/.mlflow/credentials"))


def save_credentials(username: str, password: str) -> Path:
    """Store the login in MLflow's file (mode 0600), keeping any other keys already in it."""
    path = credentials_path()
    parser = configparser.ConfigParser()  # MLflow's reader interpolates, so "%" is written as "%%"
    if path.is_file():
        parser.read(path, encoding="utf-8")
    if not parser.has_section(SECTION):
        parser.add_section(SECTION)
    parser[SECTION][USERNAME_KEY] = username.replace("%", "%%")
    parser[SECTION][PASSWORD_KEY] = password.replace("%", "%%")
    text = io.StringIO()
    parser.write(text)
    write_private_file(path, text.getvalue())
    return path


def current_login() -> tuple[str | None, str | None]:
    """The username and password MLflow will send: each environment variable wins over the file."""
    from_file: tuple[str | None, str | None] = (None, None)
    path = credentials_path()
    if path.is_file():
        parser = configparser.ConfigParser()
        parser.read(path, encoding="utf-8")
        if parser.has_section(SECTION):
            from_file = (parser[SECTION].get(USERNAME_KEY), parser[SECTION].get(PASSWORD_KEY))
    return (
        os.environ.get("MLFLOW_TRACKING_USERNAME") or from_file[0],
        os.environ.get("MLFLOW_TRACKING_PASSWORD") or from_file[1],
    )


def env_overrides() -> list[str]:
    """Environment variables that hide what the file says (worth naming when a login fails)."""
    return [name for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD") if os.environ.get(name)]

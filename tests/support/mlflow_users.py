"""MLflow basic-auth users, created the way an admin does it (REST API, admin credentials)."""

from __future__ import annotations

import secrets

import requests


def create_user(tracking_uri: str, admin: tuple[str, str], username: str, password: str | None = None) -> str:
    """Create `username` on the tracking server at `tracking_uri` as `admin` (user, password); returns the
    new user's password (a random one unless given)."""
    password = password or secrets.token_urlsafe(16)
    response = requests.post(
        f"{tracking_uri}/api/2.0/mlflow/users/create",
        json={"username": username, "password": password},
        auth=admin,
        timeout=30,
    )
    response.raise_for_status()
    return password

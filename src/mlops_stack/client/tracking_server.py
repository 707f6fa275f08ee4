"""Plain HTTP checks against the MLflow tracking server.

Uses `requests` rather than MLflow's client (importing MLflow takes seconds), honouring the same TLS
settings MLflow's client honours: MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH and
MLFLOW_TRACKING_CLIENT_CERT_PATH.
"""

from __future__ import annotations

import os

import requests

from .errors import ClientError

TIMEOUT = 10


class LoginRejected(ClientError):
    """HTTP 401 from a reachable server: the username or password is wrong (or missing)."""


def _tls_options() -> dict[str, object]:
    verify: bool | str = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() not in ("true", "1")
    if server_ca := os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        verify = server_ca
    options: dict[str, object] = {"verify": verify}
    if client_cert := os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        options["cert"] = client_cert
    return options


def _get(
    uri: str, endpoint: str, username: str | None = None, password: str | None = None
) -> requests.Response:
    auth = (username, password) if username and password else None
    try:
        return requests.get(f"{uri.rstrip('/')}{endpoint}", auth=auth, timeout=TIMEOUT, **_tls_options())
    except requests.RequestException as err:
        raise ClientError(
            f"cannot reach the MLflow server at {uri} ({type(err).__name__}: {_first_line(err)})",
            "check the URL (scheme, host, port) and that you are on the right network/VPN",
        ) from err


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def check_health(uri: str) -> None:
    """`/health` answers without a login; anything but 200 means this is not a healthy MLflow."""
    response = _get(uri, "/health")
    if response.status_code != 200:
        raise ClientError(
            f"{uri}/health answered HTTP {response.status_code}, not 200",
            "check the URL points at the MLflow server (not a proxy error page) and that it is running",
        )


def server_version(uri: str, username: str | None, password: str | None) -> str:
    """The server's MLflow version; `/version` needs a valid login under basic-auth, so this checks it too."""
    response = _get(uri, "/version", username, password)
    if response.status_code == 401:
        who = f"user {username!r}" if username else "an anonymous request (no username configured)"
        raise LoginRejected(
            f"HTTP 401 Unauthorized: the server rejected {who}: wrong username or password",
            "run `mlops init` again with the right password (your MLflow admin can reset it)",
        )
    if response.status_code != 200:
        raise ClientError(
            f"{uri}/version answered HTTP {response.status_code}: {response.text.strip()[:200]}",
            "check the URL points at the MLflow server itself",
        )
    return response.text.strip()

"""The Prefect API of the stack, checked with its auth string: it answers, it accepts the credential, and
the stack's work pool has a live worker. Plain HTTP (requests): importing Prefect takes seconds."""

from __future__ import annotations

import base64

import requests

from .errors import ClientError

TIMEOUT = 10
# A worker is ONLINE while its heartbeats arrive (Prefect marks it OFFLINE after missed heartbeats).
ONLINE = "ONLINE"


def _headers(auth_string: str | None) -> dict[str, str]:
    if not auth_string:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(auth_string.encode()).decode()}


def _request(method: str, url: str, auth_string: str | None, **kwargs: object) -> requests.Response:
    try:
        return requests.request(method, url, headers=_headers(auth_string), timeout=TIMEOUT, **kwargs)
    except requests.RequestException as err:
        raise ClientError(
            f"the Prefect API at {url.rsplit('/api', 1)[0]}/api is unreachable ({type(err).__name__})",
            "check the Prefect API URL (it ends in /api) and the network",
        ) from err


def _refused(api_url: str, response: requests.Response) -> ClientError:
    if response.status_code == 401:
        return ClientError(
            f"the Prefect API at {api_url} refused the auth string (HTTP 401)",
            "give the stack's auth string (user:password, from your platform admin): "
            "--prefect-auth-string-file or PREFECT_API_AUTH_STRING",
        )
    return ClientError(
        f"the Prefect API at {api_url} answered HTTP {response.status_code}",
        "check the Prefect API URL: it is the server's address followed by /api",
    )


def server_version(api_url: str, auth_string: str | None) -> str:
    """The server's version, read with the credential (/admin/version needs it when auth is on)."""
    api_url = api_url.rstrip("/")
    response = _request("GET", f"{api_url}/admin/version", auth_string)
    if response.status_code != 200:
        raise _refused(api_url, response)
    return str(response.json())


def live_workers(api_url: str, auth_string: str | None, pool: str) -> list[str]:
    """Names of the ONLINE workers of `pool`; ClientError when the pool does not exist."""
    api_url = api_url.rstrip("/")
    response = _request("POST", f"{api_url}/work_pools/{pool}/workers/filter", auth_string, json={})
    if response.status_code == 404:
        raise ClientError(
            f"the Prefect server has no work pool {pool!r}",
            "check the pool's name with your platform admin (the chart's prefect.worker.workPool, "
            "default mlops): `mlops init --prefect-work-pool NAME`",
        )
    if response.status_code != 200:
        raise _refused(api_url, response)
    return sorted(w["name"] for w in response.json() if w.get("status") == ONLINE)

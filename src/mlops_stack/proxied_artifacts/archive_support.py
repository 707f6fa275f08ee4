"""Whether the tracking server takes artifact archives (mlops_stack.artifact_archives), asked once per
server and process; MLOPS_ARTIFACT_ARCHIVES=0 keeps to one request per file."""

from __future__ import annotations

import os
import threading

from mlflow.exceptions import MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from mlops_stack.artifact_archives import FEATURE_PATH, FEATURE_VERSION

SWITCH_VARIABLE = "MLOPS_ARTIFACT_ARCHIVES"
PROXY_ROOT = "/api/2.0/mlflow-artifacts/artifacts"

_answers: dict[str, bool] = {}
_lock = threading.Lock()


def archives_enabled() -> bool:
    value = os.environ.get(SWITCH_VARIABLE, "1").strip()
    if value not in ("0", "1"):
        raise MlflowException(
            f"{SWITCH_VARIABLE}={value!r}: set 1 to send folders as archives (the default) or 0 for one"
            " request per file"
        )
    return value == "1"


def server_takes_archives(artifact_uri: str) -> bool:
    """True when the server behind this `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` URI speaks the
    archive protocol. A stock MLflow server answers 404 (remembered); an unreachable one raises after
    MLflow's usual retries (not remembered)."""
    if not archives_enabled() or PROXY_ROOT not in artifact_uri:
        return False
    server = artifact_uri.split(PROXY_ROOT, maxsplit=1)[0]
    with _lock:
        if server in _answers:
            return _answers[server]
    response = http_request(get_default_host_creds(server), FEATURE_PATH, "GET")
    takes = response.status_code == 200 and _version(response) == FEATURE_VERSION
    with _lock:
        _answers[server] = takes
    return takes


def _version(response) -> int | None:
    try:
        return response.json().get("version")
    except ValueError:
        return None

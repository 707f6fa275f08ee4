"""The MLflow pod's metrics container: the server's real metrics, to the scrape token only.

Prometheus gets its own token (the chart's metrics Secret), never the MLflow admin password: with the
token it reads the metrics, with the admin's basic-auth it is refused, and it reaches nothing else.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests
from tests.images.conftest import mount_folder
from tests.images.test_mlflow import ADMIN, METRICS_DIR, MLflowStack, start_stack
from tests.support.containers import RestrictedContainer, Sandbox

pytestmark = pytest.mark.images

TOKEN_DIR = "/etc/mlflow-metrics"
PORT = 9102


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def metrics_dir(mount_root: Path) -> Path:
    # What an emptyDir is: writable by whatever UID the pod's containers run as (removed with mount_root).
    folder = mount_root / "metrics"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


@pytest.fixture(scope="module")
def stack(sandbox: Sandbox, mount_root: Path, metrics_dir: Path) -> MLflowStack:
    return start_stack(sandbox, mount_root, metrics_dir=metrics_dir)


def start_metrics(sandbox: Sandbox, metrics_dir: Path, token_dir: Path, name: str, **env: str):
    return sandbox.run(
        "mlflow",
        name=name,
        command=["metrics"],
        env={"MLOPS_METRICS_DIR": METRICS_DIR, "MLOPS_METRICS_TOKEN_FILE": f"{TOKEN_DIR}/token", **env},
        tmpfs={"/tmp": "size=16m"},
        volumes={str(metrics_dir): METRICS_DIR, str(token_dir): TOKEN_DIR},
        read_only_mounts=[METRICS_DIR, TOKEN_DIR],
    )


@pytest.fixture(scope="module")
def exporter(stack: MLflowStack, metrics_dir: Path, mount_root: Path, token: str) -> RestrictedContainer:
    token_dir = mount_folder(mount_root, "metrics-token", {"token": token + "\n"})
    container = start_metrics(stack.sandbox, metrics_dir, token_dir, "metrics")
    container.wait_for_http(PORT, "/healthz", timeout=60)
    return container


def _scrape(exporter: RestrictedContainer, **kwargs) -> requests.Response:
    return requests.get(exporter.url(PORT, "/metrics"), timeout=10, **kwargs)


def test_the_token_reads_the_servers_own_request_metrics(stack, exporter, token):
    # Authenticated API calls (/version and /health are not counted by MLflow), then the worker's count.
    search = f"{stack.url}/api/2.0/mlflow/experiments/search?max_results=1"
    for _ in range(3):
        assert requests.get(search, auth=(ADMIN, stack.admin_password), timeout=10).ok
    response = _scrape(exporter, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line.startswith("mlflow_http_request_total{") and 'status="200"' in line and "GET" in line
    ]
    assert sum(counted) >= 3, response.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-of-enough-length-0123456789"}, {"Authorization": "Bearer "}],
    ids=["none", "wrong", "empty"],
)
def test_without_the_token_the_metrics_are_refused(exporter, headers):
    response = _scrape(exporter, headers=headers)
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"')
    assert "mlflow_" not in response.text


def test_the_admin_password_does_not_open_the_metrics_port(stack, exporter):
    response = _scrape(exporter, auth=(ADMIN, stack.admin_password))
    assert response.status_code == 401


def test_the_metrics_port_serves_nothing_else(exporter, token):
    for path in ("/", "/api/2.0/mlflow/experiments/search", "/metrics/../api"):
        response = requests.get(
            exporter.url(PORT, path), headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 404, path


def test_a_short_token_is_refused_by_name(stack, metrics_dir, mount_root):
    token_dir = mount_folder(mount_root, "metrics-short-token", {"token": "abc\n"})
    container = start_metrics(stack.sandbox, metrics_dir, token_dir, "metrics-short")
    assert container.wait_for_exit(timeout=60) == 1
    assert (
        container.logs()
        .strip()
        .endswith(
            f"the scrape token in {TOKEN_DIR}/token is shorter than 32 characters: generate a longer one"
        )
    )

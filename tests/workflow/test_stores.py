"""Separated stores on the whole stack (issue 13): a data scientist's key (and the Prefect worker's, DVC in
the flows) reaches nothing of MLflow's artifact store, MLflow's key nothing of the DVC data.

The local stack publishes only the DVC store's port (what data scientists use); MLflow's store is reached
the way MLflow reaches it, at the SFTP pod's address on the stack's network (the host routes to it).
DVC push/pull, MLflow logging and model loading through the separated stores: test_method.py.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest
from tests.support.workflow import Endpoints

from .conftest import only_on
from .targets import LocalStack, Target

pytestmark = pytest.mark.slow

MLFLOW_STORE_SERVICE = "mlops-stack-sftp-mlflow"
MLFLOW_STORE_PORT = 2223
ARTIFACTS_URI_PREFIX = "mlflow-artifacts:/"
MARKER = uuid.uuid4().hex


class FingerprintPolicy(paramiko.MissingHostKeyPolicy):
    """Accept the host key only if it is the stack's (the fingerprint `mlops init` pins)."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if key.fingerprint != self.fingerprint:
            raise paramiko.SSHException(f"{hostname} presents {key.fingerprint}, not {self.fingerprint}")


def connect(endpoints: Endpoints, host: str, port: int, key: Path) -> paramiko.SSHClient:
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(FingerprintPolicy(endpoints.host_key_fingerprint))
    ssh.connect(
        host,
        port=port,
        username=endpoints.sftp_user,
        pkey=paramiko.PKey.from_path(key),
        allow_agent=False,
        look_for_keys=False,
        timeout=15,
    )
    return ssh


def mlflow_store_address() -> str:
    """The SFTP pod's address on the stack's network: what `<release>-sftp-mlflow` resolves to there."""
    network = docker.from_env().networks.get(LocalStack.NETWORK)
    for container in network.containers:
        settings = container.attrs["NetworkSettings"]["Networks"][LocalStack.NETWORK]
        if MLFLOW_STORE_SERVICE in (settings.get("Aliases") or []):
            return settings["IPAddress"]
    raise AssertionError(f"no container on {LocalStack.NETWORK} answers to {MLFLOW_STORE_SERVICE}")


def secret_key(tmp: Path, secret: str, name: str) -> Path:
    path = tmp / name
    path.write_text(LocalStack.localrun("secret", secret, "ssh-privatekey") + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory, target: Target) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("store-keys")
    return {
        "data scientist": target.endpoints.identity_file,
        "prefect worker": secret_key(tmp, "mlops-stack-prefect-worker", "prefect-worker"),
        "mlflow": secret_key(tmp, "mlops-stack-mlflow-sftp-key", "mlflow"),
    }


@pytest.fixture(scope="module")
def artifact(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An artifact logged through MLflow; yields its path in MLflow's store, then checks that MLflow still
    serves it unchanged, whatever the other keys tried."""
    from mlflow.tracking import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", endpoints.username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", endpoints.password)
        client = MlflowClient(tracking_uri=endpoints.tracking_uri)
        experiment_id = client.create_experiment(f"stores-{MARKER[:8]}")
        run = client.create_run(experiment_id)
        client.log_text(run.info.run_id, MARKER, "marker.txt")
        assert run.info.artifact_uri.startswith(ARTIFACTS_URI_PREFIX), run.info.artifact_uri
        yield f"/data/mlflow-artifacts/{run.info.artifact_uri.removeprefix(ARTIFACTS_URI_PREFIX)}/marker.txt"
        downloaded = client.download_artifacts(
            run.info.run_id, "marker.txt", str(tmp_path_factory.mktemp("a"))
        )
        assert Path(downloaded).read_text() == MARKER


@only_on("local")
@pytest.mark.parametrize("who", ["data scientist", "prefect worker"])
def test_dvc_keys_cannot_log_in_to_mlflows_store(
    target: Target, keys: dict[str, Path], artifact: str, who: str
) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        connect(target.endpoints, mlflow_store_address(), MLFLOW_STORE_PORT, keys[who])


@only_on("local")
@pytest.mark.parametrize("who", ["data scientist", "prefect worker"])
def test_dvc_keys_can_list_read_write_or_delete_nothing_of_mlflows_tree(
    target: Target, keys: dict[str, Any], artifact: str, who: str
) -> None:
    """On the DVC store (the published port), MLflow's tree does not exist, and cannot be made."""
    endpoints = target.endpoints
    with (
        connect(endpoints, endpoints.sftp_host, endpoints.sftp_port, keys[who]) as ssh,
        ssh.open_sftp() as sftp,
    ):
        assert sftp.listdir("/data") == ["dvc"]
        run_dir = artifact.rsplit("/", 1)[0]
        for path in ("/data/mlflow-artifacts", run_dir):
            with pytest.raises(FileNotFoundError):
                sftp.listdir(path)
        with pytest.raises(FileNotFoundError):
            sftp.open(artifact).read()
        with pytest.raises(FileNotFoundError):
            sftp.putfo(io.BytesIO(b"replaced model"), artifact)
        with pytest.raises(FileNotFoundError):
            sftp.remove(artifact)
        with pytest.raises(OSError, match=r"^Failure$"):  # /data is the read-only root filesystem: EROFS
            sftp.mkdir("/data/mlflow-artifacts")
        with pytest.raises(FileNotFoundError):
            sftp.rename("/data/mlflow-artifacts", "/data/dvc/stolen")


@only_on("local")
def test_mlflows_key_reaches_its_artifacts_and_no_dvc_data(
    target: Target, keys: dict[str, Path], artifact: str
) -> None:
    endpoints = target.endpoints
    with pytest.raises(paramiko.AuthenticationException):
        connect(endpoints, endpoints.sftp_host, endpoints.sftp_port, keys["mlflow"])
    with (
        connect(endpoints, mlflow_store_address(), MLFLOW_STORE_PORT, keys["mlflow"]) as ssh,
        ssh.open_sftp() as sftp,
    ):
        assert sftp.listdir("/data") == ["mlflow-artifacts"]
        assert sftp.open(artifact).read().decode() == MARKER
        with pytest.raises(FileNotFoundError):
            sftp.listdir("/data/dvc")
        with pytest.raises(OSError, match=r"^Failure$"):
            sftp.mkdir("/data/dvc")

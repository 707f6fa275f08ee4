"""The data scientist's workflow on kind, with the same steps as the local stack test
(tests/support/workflow.py), through `kubectl port-forward`: `mlops init` (host key pinned from the chart's
Secret), `dvc add` + `dvc push` to the SFTP Service, commit, train (the Prefect flow), register and load the
model by alias, find the bytes on the SFTP server, and `dvc pull` them into a second clone.

mlflow, pandas, scikit-learn and paramiko are imported inside the tests: importing them takes seconds, and
without a kind cluster this module only reports its skip.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from tests.support.workflow import DATASET, Endpoints, TrainedProject, Workstation, follow_the_method

from . import cluster
from .conftest import Release

if TYPE_CHECKING:
    import paramiko

pytestmark = [
    pytest.mark.kind,
    pytest.mark.slow,
    pytest.mark.skipif(cluster.unreachable_reason() is not None, reason=str(cluster.unreachable_reason())),
]

SUFFIX = uuid.uuid4().hex[:8]
EXPERIMENT = f"kind-wine-{SUFFIX}"
MODEL = f"kind-wine-classifier-{SUFFIX}"
ALIAS = "champion"
SFTP_USER = "mlops"
ARTIFACTS_URI_PREFIX = "mlflow-artifacts:/"
SFTP_ARTIFACTS_DIR = "/data/mlflow-artifacts"  # the chart's MLflow artifacts destination
SFTP_DVC_DIR = "/data/dvc"  # `mlops init`'s default DVC remote path


@pytest.fixture(scope="module")
def endpoints(
    release: Release, mlflow_port: int, sftp_port: int, admin: cluster.AdminCredentials
) -> Endpoints:
    return Endpoints(
        tracking_uri=f"http://127.0.0.1:{mlflow_port}",
        username=admin.username,
        password=admin.password,
        sftp_host="127.0.0.1",
        sftp_port=sftp_port,
        sftp_user=SFTP_USER,
        identity_file=cluster.DATA_SCIENTIST_KEY,
        host_key_fingerprint=cluster.sftp_host_key_fingerprint(
            release.kubeconfig, release.name, release.namespace
        ),
    )


@pytest.fixture(scope="module")
def admin_client(endpoints: Endpoints) -> Iterator[Any]:
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", endpoints.username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", endpoints.password)
        patch.setenv("MLFLOW_TRACKING_URI", endpoints.tracking_uri)
        # Also the process-wide URI, which wins over the environment once anything in the session set it;
        # `models:/` URIs are resolved through it.
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(endpoints.tracking_uri)
        try:
            yield mlflow.MlflowClient(tracking_uri=endpoints.tracking_uri)
        finally:
            mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, endpoints: Endpoints) -> TrainedProject:
    """The workflow, once, exactly as tests/stack runs it."""
    return follow_the_method(tmp_path_factory.mktemp("kind-alice"), endpoints, EXPERIMENT, MODEL, ALIAS)


def flat_params(repo: Path) -> dict[str, str]:
    """params.yaml as train.py logs it: section.key -> str(value), MLflow's own settings left out."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    return {f"{s}.{k}": str(v) for s, values in params.items() if s != "mlflow" for k, v in values.items()}


def test_run_records_params_metrics_commit_and_data_version(
    project: TrainedProject, admin_client: Any
) -> None:
    run = admin_client.get_run(project.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == flat_params(project.repo)
    assert set(run.data.metrics) >= {"accuracy", "f1_macro"}
    assert run.data.tags["mlflow.source.git.commit"] == project.commit
    assert run.data.tags["mlflow.source.git.dirty"] == "false"
    assert run.data.tags[f"mlops.dvc.md5.{DATASET}"] == project.md5


def test_model_loaded_by_alias_scores_what_the_run_logged(project: TrainedProject, admin_client: Any) -> None:
    import mlflow
    import pandas as pd
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    version = admin_client.get_model_version_by_alias(MODEL, ALIAS)
    assert (version.version, version.run_id) == (project.version, project.run_id)
    params = yaml.safe_load((project.repo / "params.yaml").read_text())
    frame = pd.read_csv(project.repo / DATASET)
    features, labels = frame.drop(columns=[params["data"]["target"]]), frame[params["data"]["target"]]
    _, x_test, _, y_test = train_test_split(features, labels, stratify=labels, **params["split"])
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@{ALIAS}")
    logged = admin_client.get_run(project.run_id).data.metrics["accuracy"]
    assert accuracy_score(y_test, loaded.predict(x_test)) == logged


def sftp_session(endpoints: Endpoints, known_hosts: Path) -> paramiko.SFTPClient:
    import paramiko

    ssh = paramiko.SSHClient()
    ssh.load_host_keys(str(known_hosts))  # pinned by `mlops init`
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(
        endpoints.sftp_host,
        port=endpoints.sftp_port,
        username=endpoints.sftp_user,
        key_filename=str(endpoints.identity_file),
        allow_agent=False,
        look_for_keys=False,
    )
    return ssh.open_sftp()


def test_model_artifact_and_dataset_bytes_are_on_the_sftp_server(
    project: TrainedProject, endpoints: Endpoints, admin_client: Any, tmp_path: Path
) -> None:
    local_mlmodel = Path(admin_client.download_artifacts(project.run_id, "model/MLmodel", str(tmp_path)))
    # MLflow 3 stores a logged model under <experiment>/models/<model id>/artifacts, served from the
    # chart's artifacts destination sftp://.../data/mlflow-artifacts.
    model_id = admin_client.get_model_version_by_alias(MODEL, ALIAS).source.removeprefix("models:/")
    location = admin_client.get_logged_model(model_id).artifact_location
    assert location.startswith(ARTIFACTS_URI_PREFIX), location
    remote_mlmodel = f"{SFTP_ARTIFACTS_DIR}/{location.removeprefix(ARTIFACTS_URI_PREFIX)}/MLmodel"
    md5 = project.md5
    with sftp_session(endpoints, project.station.home / ".ssh" / "known_hosts") as sftp:
        with sftp.open(remote_mlmodel) as f:
            assert f.read() == local_mlmodel.read_bytes()
        with sftp.open(f"{SFTP_DVC_DIR}/files/md5/{md5[:2]}/{md5[2:]}") as f:
            on_server = hashlib.sha256(f.read()).hexdigest()
    assert on_server == hashlib.sha256((project.repo / DATASET).read_bytes()).hexdigest()


def test_second_clone_pulls_byte_identical_data(
    project: TrainedProject, endpoints: Endpoints, tmp_path: Path
) -> None:
    bob = Workstation.create(tmp_path / "bob")
    clone = bob.clone_and_pull(project.repo, tmp_path / "bob" / "wine", endpoints)
    assert (clone / DATASET).read_bytes() == (project.repo / DATASET).read_bytes()

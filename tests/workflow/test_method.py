"""End to end: the data scientist's workflow, the same steps and the same claims on every target.

In a fresh Git repository made from examples/ (tests/support/workflow.py): `mlops init` (host key
pinned), `dvc add` + `dvc push` to the SFTP service, commit, run the Prefect flow; then check on the
tracking server what the run recorded, register the model and load it by alias, find the bytes on the
SFTP server, and `dvc pull` them into a second clone. On the local stack only (`only_on("local")`), last:
`make down && make up` keeps all of it.

mlflow, pandas and scikit-learn are imported inside the tests: importing them takes seconds, and without a
kind cluster the `cluster` half of this module only reports its skip.
"""

from __future__ import annotations

import importlib.metadata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.workflow import DATASET, Endpoints, TrainedProject, Workstation, follow_the_method

from .conftest import only_on
from .targets import REPO_ROOT, SFTP_DATA_DIR, LocalStack, Target, sftp_session, sha256

pytestmark = pytest.mark.slow

SUFFIX = uuid.uuid4().hex[:8]
ALIAS = "champion"
ARTIFACTS_URI_PREFIX = "mlflow-artifacts:/"
SFTP_ARTIFACTS_DIR = f"{SFTP_DATA_DIR}/mlflow-artifacts"  # the chart's MLflow artifacts destination
# `mlops init`'s default DVC remote path for a project without Git remote: one directory per project,
# named after its folder (tests/support/workflow.py creates it as "wine").
SFTP_DVC_DIR = f"{SFTP_DATA_DIR}/dvc/wine"


def experiment(target: Target) -> str:
    return f"{target.name}-wine-{SUFFIX}"


def model_name(target: Target) -> str:
    return f"{target.name}-wine-classifier-{SUFFIX}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, target: Target) -> TrainedProject:
    """The workflow, once per target: new project, configure, version data, commit, train, register."""
    base = tmp_path_factory.mktemp(f"{target.name}-alice")
    return follow_the_method(base, target.endpoints, experiment(target), model_name(target), ALIAS)


@pytest.fixture(scope="module")
def admin_client(endpoints: Endpoints) -> Iterator[Any]:
    """The test process talks to MLflow as the admin (the data scientist's processes use `mlops init`)."""
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


def flat_params(repo: Path) -> dict[str, str]:
    """params.yaml as train.py logs it: section.key -> str(value), MLflow's own settings left out."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    return {f"{s}.{k}": str(v) for s, values in params.items() if s != "mlflow" for k, v in values.items()}


def expected_model(repo: Path) -> tuple[Any, dict[str, float], Any, Any]:
    """The same split and model trained here: the run's metrics and the served model must match exactly.
    Returns the model, its metrics, and the test split (features, labels)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = yaml.safe_load((repo / "params.yaml").read_text())
    frame = pd.read_csv(repo / DATASET)
    target = params["data"]["target"]
    features, labels = frame.drop(columns=[target]), frame[target]
    x_train, x_test, y_train, y_test = train_test_split(features, labels, stratify=labels, **params["split"])
    model = make_pipeline(StandardScaler(), LogisticRegression(**params["model"])).fit(x_train, y_train)
    predicted = model.predict(x_test)
    metrics = {
        "accuracy": accuracy_score(y_test, predicted),
        "f1_macro": f1_score(y_test, predicted, average="macro"),
    }
    return model, metrics, x_test, y_test


def test_run_records_params_metrics_commit_and_data_version(
    project: TrainedProject, admin_client: Any
) -> None:
    run = admin_client.get_run(project.run_id)
    assert run.info.status == "FINISHED"
    assert (
        run.data.params
        == flat_params(project.repo)
        == {
            "data.path": "data/wine.csv",
            "data.target": "cultivar",
            "split.test_size": "0.25",
            "split.random_state": "42",
            "model.C": "1.0",
            "model.max_iter": "500",
        }
    )
    _, metrics, _, _ = expected_model(project.repo)
    assert set(run.data.metrics) >= {"accuracy", "f1_macro"}
    assert run.data.metrics == pytest.approx(metrics, abs=0)
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == project.commit
    assert tags["mlflow.source.git.dirty"] == "false"
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags[f"mlops.dvc.md5.{DATASET}"] == project.md5
    packages = tags["mlops.packages"].split(", ")
    for name in ("mlflow", "scikit-learn", "pandas", "prefect", "dvc"):
        assert f"{name}=={importlib.metadata.version(name)}" in packages


def test_model_loaded_by_alias_scores_what_the_run_logged(
    project: TrainedProject, target: Target, admin_client: Any
) -> None:
    import mlflow
    import pandas as pd
    from sklearn.metrics import accuracy_score

    model_uri = f"models:/{model_name(target)}@{ALIAS}"
    version = admin_client.get_model_version_by_alias(model_name(target), ALIAS)
    assert (version.version, version.run_id) == (project.version, project.run_id)
    model, _, x_test, y_test = expected_model(project.repo)
    loaded = mlflow.pyfunc.load_model(model_uri)
    assert list(loaded.predict(x_test)) == list(model.predict(x_test))
    logged = admin_client.get_run(project.run_id).data.metrics["accuracy"]
    assert accuracy_score(y_test, loaded.predict(x_test)) == logged
    # The data scientist's own script loads it the same way.
    rows = project.station.predict(project.repo, model_uri, rows=3)
    assert rows == [
        str(v) for v in model.predict(pd.read_csv(project.repo / DATASET).drop(columns=["cultivar"]).head(3))
    ]


def test_model_artifact_and_dataset_bytes_are_on_the_sftp_server(
    project: TrainedProject, target: Target, admin_client: Any, tmp_path: Path
) -> None:
    import mlflow

    known_hosts = project.station.home / ".ssh" / "known_hosts"  # pinned by `mlops init`
    downloaded = Path(
        mlflow.artifacts.download_artifacts(f"runs:/{project.run_id}/model", dst_path=str(tmp_path / "run"))
    )
    # registered_model_meta is written by the client on download; every other file is an artifact.
    files = [p for p in downloaded.rglob("*") if p.is_file() and p.name != "registered_model_meta"]
    assert {p.name for p in files} >= {"MLmodel", "requirements.txt"}
    stored = target.sftp_data_digests(known_hosts)
    artifact_digests = {d for path, d in stored.items() if path.startswith("mlflow-artifacts/")}
    for file in files:
        assert sha256(file) in artifact_digests, f"{file.name} is not on the SFTP volume"
    md5 = project.md5
    assert stored[f"dvc/wine/files/md5/{md5[:2]}/{md5[2:]}"] == sha256(project.repo / DATASET)

    # MLflow 3 stores a logged model under <experiment>/models/<model id>/artifacts, served from the
    # chart's artifacts destination sftp://.../data/mlflow-artifacts: on the volume, where the tracking
    # server says it is.
    local_mlmodel = Path(admin_client.download_artifacts(project.run_id, "model/MLmodel", str(tmp_path)))
    model_id = admin_client.get_model_version_by_alias(model_name(target), ALIAS).source.removeprefix(
        "models:/"
    )
    location = admin_client.get_logged_model(model_id).artifact_location
    assert location.startswith(ARTIFACTS_URI_PREFIX), location
    stored_mlmodel = f"mlflow-artifacts/{location.removeprefix(ARTIFACTS_URI_PREFIX)}/MLmodel"
    assert stored[stored_mlmodel] == sha256(local_mlmodel)
    # Through the SFTP server as the data scientist: the DVC object, and nothing of MLflow's store (its
    # own sshd; test_stores.py tries every operation).
    with sftp_session(target.endpoints, known_hosts) as sftp:
        with sftp.open(f"{SFTP_DVC_DIR}/files/md5/{md5[:2]}/{md5[2:]}") as f:
            assert f.read() == (project.repo / DATASET).read_bytes()
        with pytest.raises(FileNotFoundError):
            sftp.open(f"{SFTP_ARTIFACTS_DIR}/{location.removeprefix(ARTIFACTS_URI_PREFIX)}/MLmodel")


def test_second_clone_pulls_byte_identical_data(
    project: TrainedProject, endpoints: Endpoints, tmp_path: Path
) -> None:
    bob = Workstation.create(tmp_path / "bob")
    clone = bob.clone_and_pull(project.repo, tmp_path / "bob" / "wine", endpoints)
    assert (clone / DATASET).read_bytes() == (project.repo / DATASET).read_bytes()


@only_on("local")
def test_down_and_up_keep_runs_models_and_artifacts(
    project: TrainedProject, target: LocalStack, admin_client: Any
) -> None:
    """Last in this module: it restarts the local stack (`make down && make up`, data kept)."""
    import mlflow

    stack = target.endpoints
    before = target.sftp_data_digests(project.station.home / ".ssh" / "known_hosts")
    output = target.down_and_up()
    # What a data scientist needs, printed by `make up`.
    assert f"Tracking URL : {stack.tracking_uri}\n  Admin user   : admin\n" in output
    assert (
        f"secret mlops-stack-mlflow admin-password | {REPO_ROOT}/.venv/bin/mlops init "
        f"--tracking-uri {stack.tracking_uri} --username admin --password-stdin "
        f"--sftp-host {stack.sftp_host} --sftp-port {stack.sftp_port} --sftp-user mlops "
        f"--identity-file {stack.identity_file} "
    ) in output
    prefect = LocalStack.PREFECT_API_URL
    assert (
        f"--host-key-fingerprint {stack.host_key_fingerprint} --prefect-api-url {prefect} "
        f"--prefect-auth-string-file <({REPO_ROOT}/.venv/bin/python -m mlops_stack.localrun --state-dir "
        f"{LocalStack.STACK_DIR} secret mlops-stack-prefect auth-string) --yes"
    ) in output
    assert f"  Prefect UI   : {prefect.removesuffix('/api')} (API {prefect}, work pool mlops)\n" in output
    run = admin_client.get_run(project.run_id)
    assert run.data.tags[f"mlops.dvc.md5.{DATASET}"] == project.md5
    assert admin_client.get_model_version_by_alias(model_name(target), ALIAS).version == project.version
    model, _, x_test, _ = expected_model(project.repo)
    assert list(mlflow.pyfunc.load_model(f"models:/{model_name(target)}@{ALIAS}").predict(x_test)) == list(
        model.predict(x_test)
    )
    after = target.sftp_data_digests(project.station.home / ".ssh" / "known_hosts")
    assert {k: v for k, v in after.items() if k in before} == before

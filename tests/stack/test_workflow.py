"""End to end: the data scientist's workflow on the stack that `make up` ran from the rendered chart.

In a fresh Git repository made from examples/: `mlops init`, `dvc add` + `dvc push` to the SFTP service,
commit, run the Prefect flow; then check on the tracking server what the run recorded, register the model
and load it by alias, find the bytes on the SFTP volume, `dvc pull` into a second clone, and survive
`make down && make up`.
"""

import importlib.metadata
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tests.stack.conftest import REPO_ROOT, make, sftp_volume_digests, sha256
from tests.support.workflow import DATASET, Endpoints, TrainedProject, Workstation, follow_the_method

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SUFFIX = uuid.uuid4().hex[:8]
EXPERIMENT = f"e2e-wine-{SUFFIX}"
MODEL = f"wine-classifier-{SUFFIX}"
ALIAS = "champion"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, stack: Endpoints) -> TrainedProject:
    """The workflow, once: new project, configure, version data, commit, train, register."""
    return follow_the_method(tmp_path_factory.mktemp("alice"), stack, EXPERIMENT, MODEL, ALIAS)


def expected_model(repo: Path) -> tuple[object, dict[str, float], pd.DataFrame]:
    """The same split and model trained here: the run's metrics and the served model must match exactly."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    frame = pd.read_csv(repo / DATASET)
    features, labels = frame.drop(columns=["cultivar"]), frame["cultivar"]
    x_train, x_test, y_train, y_test = train_test_split(features, labels, stratify=labels, **params["split"])
    model = make_pipeline(StandardScaler(), LogisticRegression(**params["model"])).fit(x_train, y_train)
    predicted = model.predict(x_test)
    metrics = {
        "accuracy": accuracy_score(y_test, predicted),
        "f1_macro": f1_score(y_test, predicted, average="macro"),
    }
    return model, metrics, x_test


def test_run_has_params_metrics_and_provenance_tags(project: TrainedProject, admin_env: None) -> None:
    run = mlflow.MlflowClient().get_run(project.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {
        "data.path": "data/wine.csv",
        "data.target": "cultivar",
        "split.test_size": "0.25",
        "split.random_state": "42",
        "model.C": "1.0",
        "model.max_iter": "500",
    }
    _, metrics, _ = expected_model(project.repo)
    assert run.data.metrics == pytest.approx(metrics, abs=0)
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == project.commit
    assert tags["mlflow.source.git.dirty"] == "false"
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlops.dvc.md5.data/wine.csv"] == project.md5
    packages = tags["mlops.packages"].split(", ")
    for name in ("mlflow", "scikit-learn", "pandas", "prefect", "dvc"):
        assert f"{name}=={importlib.metadata.version(name)}" in packages


def test_model_artifact_registered_and_loaded_by_alias(project: TrainedProject, admin_env: None) -> None:
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(MODEL, ALIAS)
    assert (version.version, version.run_id) == (project.version, project.run_id)
    model, _, x_test = expected_model(project.repo)
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@{ALIAS}")
    assert list(loaded.predict(x_test)) == list(model.predict(x_test))
    # The data scientist's own script loads it the same way.
    rows = project.station.predict(project.repo, f"models:/{MODEL}@{ALIAS}", rows=3)
    assert rows == [
        str(v) for v in model.predict(pd.read_csv(project.repo / DATASET).drop(columns=["cultivar"]).head(3))
    ]


def test_artifacts_and_data_are_on_the_sftp_volume(
    project: TrainedProject, admin_env: None, tmp_path: Path
) -> None:
    downloaded = Path(
        mlflow.artifacts.download_artifacts(f"runs:/{project.run_id}/model", dst_path=str(tmp_path))
    )
    # registered_model_meta is written by the client on download; every other file is an artifact.
    files = [p for p in downloaded.rglob("*") if p.is_file() and p.name != "registered_model_meta"]
    assert {p.name for p in files} >= {"MLmodel", "requirements.txt"}
    on_volume = sftp_volume_digests()
    artifact_digests = {d for path, d in on_volume.items() if path.startswith("mlflow-artifacts/")}
    for file in files:
        assert sha256(file) in artifact_digests, f"{file.name} is not on the SFTP volume"
    md5 = project.md5
    assert on_volume[f"dvc/files/md5/{md5[:2]}/{md5[2:]}"] == sha256(project.repo / DATASET)


def test_second_clone_pulls_byte_identical_data(
    project: TrainedProject, stack: Endpoints, tmp_path: Path
) -> None:
    bob = Workstation.create(tmp_path / "bob")
    clone = bob.clone_and_pull(project.repo, tmp_path / "bob" / "wine", stack)
    assert (clone / DATASET).read_bytes() == (project.repo / DATASET).read_bytes()


def test_anonymous_requests_get_401(stack: Endpoints) -> None:
    url = f"{stack.tracking_uri}/api/2.0/mlflow/experiments/search"
    assert requests.get(url, params={"max_results": 1}, timeout=10).status_code == 401
    authorized = requests.get(
        url, params={"max_results": 1}, auth=(stack.username, stack.password), timeout=10
    )
    assert authorized.status_code == 200


def test_down_and_up_keep_runs_models_and_artifacts(
    project: TrainedProject, stack: Endpoints, admin_env: None
) -> None:
    before = sftp_volume_digests()
    make("down")
    output = make("up")
    # What a data scientist needs, printed by `make up`.
    assert f"Tracking URL : {stack.tracking_uri}\n  Admin user   : admin\n" in output
    assert (
        f"secret mlops-stack-mlflow admin-password | {REPO_ROOT}/.venv/bin/mlops init "
        f"--tracking-uri {stack.tracking_uri} --username admin --password-stdin "
        f"--sftp-host {stack.sftp_host} --sftp-port {stack.sftp_port} --sftp-user mlops "
        f"--identity-file {stack.identity_file} "
    ) in output
    assert f"--host-key-fingerprint {stack.host_key_fingerprint} --yes" in output
    client = mlflow.MlflowClient()
    run = client.get_run(project.run_id)
    assert run.data.tags["mlops.dvc.md5.data/wine.csv"] == project.md5
    assert client.get_model_version_by_alias(MODEL, ALIAS).version == project.version
    model, _, x_test = expected_model(project.repo)
    assert list(mlflow.pyfunc.load_model(f"models:/{MODEL}@{ALIAS}").predict(x_test)) == list(
        model.predict(x_test)
    )
    after = sftp_volume_digests()
    assert {k: v for k, v in after.items() if k in before} == before

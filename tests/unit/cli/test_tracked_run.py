"""`tracked_run` against the real basic-auth MLflow server: the tags a reviewer relies on, and refusals."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from mlops_stack import DirtyWorkingTreeError, NotAGitRepositoryError, tracked_run

from .conftest import dvc, git


@pytest.fixture
def logged_in(mlops, mlflow_server, alice, client_home) -> str:
    """`mlops init` for MLflow only (no SFTP): what tracked_run needs to find the server and the login."""
    result = mlops(
        "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
        "--password-stdin", stdin=alice.password + "\n",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "SFTP: skipped (no --sftp-host): DVC is not configured" in result.out
    return mlflow_server.url


@pytest.fixture
def data_project(dvc_project: Path) -> Path:
    """A DVC project with a `dvc add`-ed dataset and a `dvc.lock` stage, all committed, with an origin."""
    (dvc_project / "raw.csv").write_text("x,y\n1,2\n3,4\n")
    dvc(dvc_project, "add", "-q", "raw.csv")
    dvc(dvc_project, "stage", "add", "-q", "-n", "features", "-d", "raw.csv", "-o", "features.csv",
        "cp raw.csv features.csv")  # fmt: skip
    dvc(dvc_project, "repro", "-q")
    git(dvc_project, "add", "raw.csv.dvc", "dvc.yaml", "dvc.lock", ".gitignore")
    git(dvc_project, "commit", "-q", "-m", "data and features stage")
    git(dvc_project, "remote", "add", "origin", "https://alice:s3cret-token@git.example.org/team/iris.git")
    return dvc_project


def _server_run(tracking_uri: str, run_id: str):
    return MlflowClient(tracking_uri=tracking_uri).get_run(run_id)


def test_run_is_tagged_with_commit_data_and_packages(logged_in, data_project):
    with tracked_run("iris", run_name="baseline") as run:
        mlflow.log_metric("accuracy", 0.93)

    tags = _server_run(logged_in, run.info.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == git(data_project, "rev-parse", "HEAD").strip()
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.dirty"] == "false"
    assert tags["mlflow.source.git.repoURL"] == "https://alice@git.example.org/team/iris.git"  # token dropped
    assert tags["mlops.git.auto_commit"] == "false"

    raw_md5 = yaml.safe_load((data_project / "raw.csv.dvc").read_text())["outs"][0]["md5"]
    lock = yaml.safe_load((data_project / "dvc.lock").read_text())["stages"]["features"]
    assert tags["mlops.dvc.md5.raw.csv"] == raw_md5
    assert lock["deps"][0]["md5"] == raw_md5
    assert tags["mlops.dvc.md5.features.csv"] == lock["outs"][0]["md5"]

    assert f"mlflow=={mlflow.__version__}" in tags["mlops.packages"].split(", ")
    requirements = MlflowClient(logged_in).download_artifacts(run.info.run_id, "environment/requirements.txt")
    assert f"mlflow=={mlflow.__version__}" in Path(requirements).read_text().splitlines()
    assert _server_run(logged_in, run.info.run_id).info.status == "FINISHED"


def test_dirty_tree_is_refused_before_any_run_starts(logged_in, project):
    (project / "train.py").write_text("print('a new model')\n")
    with (
        pytest.raises(
            DirtyWorkingTreeError, match=r"uncommitted changes in .*: train.py\. Commit them first"
        ),
        tracked_run("refused"),
    ):
        pytest.fail("the block must not run")
    assert MlflowClient(logged_in).get_experiment_by_name("refused") is None


def test_a_new_dvc_file_not_yet_committed_counts_as_dirty(logged_in, dvc_project):
    (dvc_project / "new.csv").write_text("a\n1\n")
    dvc(dvc_project, "add", "-q", "new.csv")
    with pytest.raises(DirtyWorkingTreeError, match=r"new\.csv\.dvc"), tracked_run("refused-data"):
        pytest.fail("the block must not run")


def test_warn_mode_runs_and_tags_the_run_dirty(logged_in, project):
    (project / "train.py").write_text("print('experiment in progress')\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tracked_run("dirty-allowed", allow_dirty="warn") as run:
            pass
    assert any("uncommitted changes" in str(w.message) for w in caught)
    assert _server_run(logged_in, run.info.run_id).data.tags["mlflow.source.git.dirty"] == "true"


def test_auto_commit_commits_the_change_and_tags_that_commit(logged_in, project):
    (project / "train.py").write_text("print('model v2')\n")
    with tracked_run("auto", run_name="v2", auto_commit=True) as run:
        pass
    head = git(project, "rev-parse", "HEAD").strip()
    assert git(project, "log", "-1", "--format=%s").strip() == "tracked_run: auto/v2 (auto-commit)"
    assert git(project, "status", "--porcelain").strip() == ""
    tags = _server_run(logged_in, run.info.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlops.git.auto_commit"] == "true"
    assert tags["mlflow.source.git.dirty"] == "false"


def test_a_failing_block_marks_the_run_failed(logged_in, project):
    with pytest.raises(ZeroDivisionError), tracked_run("failing") as run:
        _ = 1 / 0
    assert _server_run(logged_in, run.info.run_id).info.status == "FAILED"


def test_outside_git_is_refused(logged_in, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused = pytest.raises(NotAGitRepositoryError, match="is not inside a Git repository: `git init`")
    with refused, tracked_run("nowhere"):
        pytest.fail("the block must not run")

"""`python -m mlops_stack.gc` (the chart's gc CronJob command) on a real tracking database and artifact
destination: runs deleted longer ago than the retention lose their rows and their proxied artifacts; a
recent deletion and live runs keep both. The stack-level test runs the same command in the CronJob's pod."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.entities import LifecycleStage
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from mlops_stack.gc.proxied_artifacts import destination_uri

DAY_MS = 24 * 3600 * 1000


def gc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_stack.gc", *args],
        env={k: v for k, v in {**os.environ, **env}.items() if k != "MLFLOW_TRACKING_URI"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def store(tmp_path: Path) -> tuple[SqlAlchemyStore, str, Path]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # As the server records them with --serve-artifacts: mlflow-artifacts:/<experiment>/<run>/artifacts.
    return SqlAlchemyStore(uri, "mlflow-artifacts:/"), uri, tmp_path / "destination"


def logged_run(store: SqlAlchemyStore, destination: Path, experiment_id: str, name: str) -> tuple[str, Path]:
    run = store.create_run(experiment_id, "alice", int(time.time() * 1000), [], name)
    relative = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    files = destination / relative
    files.mkdir(parents=True)
    (files / "model.txt").write_text(name)
    return run.info.run_id, files


def test_gc_removes_only_runs_deleted_before_the_retention(store: tuple[SqlAlchemyStore, str, Path]) -> None:
    tracking, uri, destination = store
    experiment_id = tracking.create_experiment("gc")
    old, old_files = logged_run(tracking, destination, experiment_id, "deleted-long-ago")
    recent, recent_files = logged_run(tracking, destination, experiment_id, "deleted-today")
    live, live_files = logged_run(tracking, destination, experiment_id, "live")
    tracking.delete_run(old)
    tracking.delete_run(recent)
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:  # deleted 31 days ago
        db.execute("UPDATE runs SET deleted_time = deleted_time - ? WHERE run_uuid = ?", (31 * DAY_MS, old))
    env = {"MLFLOW_BACKEND_STORE_URI": uri, "MLFLOW_ARTIFACTS_DESTINATION": destination.as_uri()}

    done = gc(env, "--older-than", "30d")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Run with ID {old} has been permanently deleted.\n"
    assert not old_files.exists()
    with pytest.raises(Exception, match=f"Run with id={old} not found"):
        tracking.get_run(old)
    assert (recent_files / "model.txt").read_text() == "deleted-today"
    assert tracking.get_run(recent).info.lifecycle_stage == LifecycleStage.DELETED
    assert (live_files / "model.txt").read_text() == "live"
    assert tracking.get_run(live).info.lifecycle_stage == LifecycleStage.ACTIVE


def test_gc_without_the_server_environment_says_what_is_missing() -> None:
    done = gc({"MLFLOW_BACKEND_STORE_URI": "", "MLFLOW_ARTIFACTS_DESTINATION": ""}, "--older-than", "30d")
    assert done.returncode == 1
    assert done.stderr == (
        "mlops_stack.gc: MLFLOW_BACKEND_STORE_URI is not set: the tracking database URI (mlflow-entrypoint "
        "gc makes it from MLFLOW_DB_*)\nMLFLOW_ARTIFACTS_DESTINATION is not set: the server's "
        "--artifacts-destination, e.g. sftp://mlops@sftp:2222/data\n"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mlflow-artifacts:/1/abc/artifacts", "sftp://mlops@sftp:2222/data/1/abc/artifacts"),
        (
            "mlflow-artifacts://mlflow.example.com/1/abc/artifacts",
            "sftp://mlops@sftp:2222/data/1/abc/artifacts",
        ),
        ("mlflow-artifacts:/", "sftp://mlops@sftp:2222/data"),
    ],
)
def test_destination_uri(uri: str, expected: str) -> None:
    assert destination_uri(uri, "sftp://mlops@sftp:2222/data/") == expected


def test_destination_uri_never_leaves_the_destination() -> None:
    with pytest.raises(ValueError, match="points outside the artifact destination"):
        destination_uri("mlflow-artifacts:/../etc", "sftp://mlops@sftp:2222/data")

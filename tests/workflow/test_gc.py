"""The gc CronJob's job on the local stack (`localrun create-job --from cronjob/...`, as
`kubectl create job --from=cronjob/...` would run it): a run deleted longer ago than the retention (30d)
loses its artifacts on the SFTP store and its database rows; a run deleted today and a live run keep both.

The run "deleted long ago" is deleted through MLflow, then its deletion time is moved back 31 days in the
database, which is the only thing the retention compares.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
from tests.support.workflow import Endpoints

from mlops_stack.localrun.engine import POD, PROJECT, ROLE
from mlops_stack.localrun.plan import docker_name

from .conftest import only_on
from .targets import LocalStack

pytestmark = pytest.mark.slow

CRONJOB = "mlops-stack-gc"
DAYS_31_MS = 31 * 24 * 3600 * 1000


def main_container(client: docker.DockerClient, pod: str) -> Any:
    (container,) = client.containers.list(
        all=True,
        filters={"label": [f"{PROJECT}={LocalStack.PROJECT}", f"{POD}={docker_name(LocalStack.PROJECT, pod)}",
                           f"{ROLE}=main"]},
    )  # fmt: skip
    return container


def psql(client: docker.DockerClient, sql: str) -> str:
    """As the application role, inside the PostgreSQL pod (which answers on 127.0.0.1)."""
    password = LocalStack.localrun("secret", "mlops-stack-postgresql", "password")
    done = main_container(client, "mlops-stack-postgresql-0").exec_run(
        ["psql", "-h", "127.0.0.1", "-U", "mlflow", "-d", "mlflow", "-At", "-c", sql],
        environment={"PGPASSWORD": password},
    )
    assert done.exit_code == 0, done.output.decode()
    return done.output.decode().strip()


def stored_files(run_id: str, digests: dict[str, str]) -> list[str]:
    return sorted(path for path in digests if f"/{run_id}/artifacts/" in path)


@only_on("local")
def test_gc_job_removes_runs_deleted_before_the_retention_only(
    target: LocalStack, endpoints: Endpoints, tmp_path: Path
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = docker.from_env()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", endpoints.username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", endpoints.password)
        mlflow = MlflowClient(endpoints.tracking_uri)
        experiment_id = mlflow.create_experiment(f"gc-{uuid.uuid4().hex[:8]}")
        runs = {}
        for name in ("deleted-long-ago", "deleted-today", "live"):
            runs[name] = mlflow.create_run(experiment_id, run_name=name).info.run_id
            mlflow.log_text(runs[name], name, "model.txt")
            mlflow.set_terminated(runs[name])
        mlflow.delete_run(runs["deleted-long-ago"])
        mlflow.delete_run(runs["deleted-today"])
        old = runs["deleted-long-ago"]
        assert old.isalnum()  # a run id MLflow made: safe to put into the SQL below
        backdate = f"UPDATE runs SET deleted_time = deleted_time - {DAYS_31_MS} WHERE run_uuid = '{old}'"  # noqa: S608
        assert psql(client, backdate) == "UPDATE 1"
        before = target.sftp_data_digests(Path("/dev/null"))
        assert {name: len(stored_files(run, before)) for name, run in runs.items()} == {
            "deleted-long-ago": 1,
            "deleted-today": 1,
            "live": 1,
        }

        done = subprocess.run(
            [sys.executable, "-m", "mlops_stack.localrun", "--project", LocalStack.PROJECT,
             "--state-dir", str(LocalStack.STACK_DIR), "create-job", "--from", f"cronjob/{CRONJOB}"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip

        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1] == f"job {CRONJOB}-manual succeeded"
        log = main_container(client, f"{CRONJOB}-manual").logs().decode()
        assert f"Run with ID {old} has been permanently deleted." in log.splitlines()
        assert runs["deleted-today"] not in log
        after = target.sftp_data_digests(Path("/dev/null"))
        assert stored_files(old, after) == []
        for kept in ("deleted-today", "live"):
            assert stored_files(runs[kept], after) == stored_files(runs[kept], before)
        for table in ("runs", "tags", "latest_metrics"):
            assert psql(client, f"SELECT count(*) FROM {table} WHERE run_uuid = '{old}'") == "0", table  # noqa: S608
        with pytest.raises(MlflowException, match=r"RESOURCE_DOES_NOT_EXIST|not found"):
            mlflow.get_run(old)
        assert mlflow.get_run(runs["deleted-today"]).info.lifecycle_stage == "deleted"
        assert mlflow.get_run(runs["live"]).info.lifecycle_stage == "active"
        assert Path(mlflow.download_artifacts(runs["live"], "model.txt", str(tmp_path))).read_text() == "live"

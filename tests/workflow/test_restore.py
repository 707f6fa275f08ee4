"""The restore drill (issue 13, chart README "Backups" and "Restore") on a local stack of its own.

A data scientist's work (runs with metrics, artifacts, a registered model with the alias `champion`, the DVC
data of two projects) and an MLflow user with a permission; a backup (`create-job --from cronjob/...-backup`);
`make clean` (every data volume and secret gone, the backups kept); `make up` (a new, empty stack with new
passwords and keys); `make restore`. Then everything must be back: the same runs, metrics, models and aliases,
byte-identical artifacts and DVC objects on the SFTP volume, the champion loads and predicts the same, a fresh
clone's `dvc pull` gets byte-identical data, the user logs in with her own password and keeps her permission.
Last, a damaged repository (one pack file altered) fails the verification job with its message.

The drill runs beside the suite's shared stack (its own PROJECT, state directory and ports), because it
replaces its stack's passwords and host key. It prints the backup and restore times and sizes.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from tests.support.workflow import DATASET, Endpoints, Workstation

from mlops_stack.localrun.plan import docker_name

from .targets import REPO_ROOT, LocalStack

pytestmark = pytest.mark.stack

EXPERIMENT = "drill"
MODEL = "drill-wine"
ALICE = ("alice", "alice-own-password-1234")


class DrillStack(LocalStack):
    """A second local stack: its own Docker project, state directory and ports (the suite's + 1)."""

    PROJECT = f"{LocalStack.PROJECT}-drill"
    STACK_DIR = Path(f"{LocalStack.STACK_DIR}-drill")
    MLFLOW_PORT = LocalStack.MLFLOW_PORT + 1
    SFTP_PORT = LocalStack.SFTP_PORT + 1
    PREFECT_PORT = LocalStack.PREFECT_PORT + 1
    TRACKING_URI = f"http://{LocalStack.BIND}:{MLFLOW_PORT}"
    PREFECT_API_URL = f"http://{LocalStack.BIND}:{PREFECT_PORT}/api"
    NETWORK = f"{PROJECT}-net"
    SFTP_VOLUME = docker_name(PROJECT, "mlops-stack-sftp")
    BACKUP_VOLUME = docker_name(PROJECT, "mlops-stack-backup")

    @classmethod
    def create_job(cls, cronjob: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mlops_stack.localrun", "--project", cls.PROJECT,
                   "--state-dir", str(cls.STACK_DIR), "create-job", f"--from=cronjob/{cronjob}"]  # fmt: skip
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)

    @classmethod
    def volume_shell(cls, volume: str, script: str, writable: bool = False) -> str:
        """A shell in the sftp image with one Docker volume at /v, as the UID of the stack's pods."""
        image = (
            f"{os.environ.get('IMAGE_PREFIX') or 'mlops-stack'}/sftp:{os.environ.get('IMAGE_TAG') or '0.1.0'}"
        )
        done = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--user", "1000680000:0", "--read-only",
             "--cap-drop", "ALL", "--entrypoint", "sh", "-v", f"{volume}:/v{'' if writable else ':ro'}",
             image, "-c", script],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tracking_state(endpoints: Endpoints) -> dict:
    """What MLflow serves: runs with their metrics (full histories) and params, models with versions and
    aliases, experiments; exact values, so that any loss shows as a difference."""
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_TRACKING_USERNAME"] = endpoints.username
    os.environ["MLFLOW_TRACKING_PASSWORD"] = endpoints.password
    client = MlflowClient(endpoints.tracking_uri)
    experiments = {e.name: e.experiment_id for e in client.search_experiments()}
    runs = {}
    for run in client.search_runs(list(experiments.values()), max_results=1000):
        histories = {
            key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
            for key in run.data.metrics
        }
        runs[run.info.run_id] = {"metrics": histories, "params": run.data.params, "status": run.info.status}
    models = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        models[model.name] = {"versions": sorted(v.version for v in versions), "aliases": dict(model.aliases)}
    return {"experiments": sorted(experiments), "runs": runs, "models": models}


def auth_client(endpoints: Endpoints, login: tuple[str, str] | None = None):
    """MLflow's basic-auth client (users and permissions API), logged in as the admin or as `login`."""
    from mlflow.server.auth.client import AuthServiceClient

    username, password = login or (endpoints.username, endpoints.password)
    os.environ["MLFLOW_TRACKING_USERNAME"] = username
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    return AuthServiceClient(endpoints.tracking_uri)


def alice_permission(endpoints: Endpoints, experiment_id: str) -> str:
    """Alice's permission on the drill experiment (asked by the admin), after checking that her own
    password still opens the experiment (401 otherwise)."""
    experiment = requests.get(
        f"{endpoints.tracking_uri}/api/2.0/mlflow/experiments/get",
        params={"experiment_id": experiment_id}, auth=ALICE, timeout=30,
    )  # fmt: skip
    assert experiment.status_code == 200, experiment.text
    return auth_client(endpoints).get_user_permission(ALICE[0], "experiment", experiment_id).permission


def volume_sizes(stack: type[DrillStack]) -> tuple[int, int]:
    """(bytes of the SFTP store, bytes of the restic repository) as `du` counts them."""
    store = int(stack.volume_shell(stack.SFTP_VOLUME, "du -sb /v | cut -f1").strip())
    repository = int(stack.volume_shell(stack.BACKUP_VOLUME, "du -sb /v/restic | cut -f1").strip())
    return store, repository


# Two `make up`s, the work, a backup and a restore: longer than the suite's 900 s per test.
@pytest.mark.timeout(3000)
def test_restore_drill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drill = DrillStack
    drill.make("clean", BACKUPS="delete")
    drill.make("up")
    before_stack = drill("")
    endpoints = before_stack.endpoints

    # ---- the team's work: two projects with DVC data, runs, a champion, a user with a permission
    station = Workstation.create(tmp_path / "before")
    wine = station.new_project(tmp_path / "before" / "wine")
    station.configure(wine, endpoints)
    wine_md5 = station.version_data(wine)
    run_ids = [station.train(wine, f"mlflow.experiment={EXPERIMENT}", f"model.C={c}") for c in (0.5, 1.0)]
    version = station.register(wine, run_ids[1], MODEL, "champion")
    grapes = station.new_project(tmp_path / "before" / "grapes")
    (grapes / DATASET).write_text((grapes / DATASET).read_text() + "\n".join(["7.0"] * 3) + "\n")
    station.configure(grapes, endpoints)
    grapes_md5 = station.version_data(grapes, "data: grapes v1")
    data_digests = {"wine": sha256(wine / DATASET), "grapes": sha256(grapes / DATASET)}
    predictions = station.predict(wine, f"models:/{MODEL}@champion")

    admin = auth_client(endpoints)
    admin.create_user(*ALICE)
    from mlflow.tracking import MlflowClient

    experiment_id = MlflowClient(endpoints.tracking_uri).get_experiment_by_name(EXPERIMENT).experiment_id
    admin.grant_user_permission(ALICE[0], "experiment", experiment_id, "EDIT")
    assert alice_permission(endpoints, experiment_id) == "EDIT"

    state = tracking_state(endpoints)
    assert len(state["runs"]) >= 2
    assert state["models"][MODEL]["aliases"] == {"champion": version}
    files = before_stack.sftp_data_digests(tmp_path / "unused")
    assert any(p.startswith("dvc/wine/") for p in files)
    assert any(p.startswith("dvc/grapes/") for p in files)
    assert any(p.startswith("mlflow-artifacts/") for p in files)

    # ---- back up, lose everything but the backups, start a new stack, restore
    started = time.monotonic()
    backup = drill.create_job("mlops-stack-backup")
    backup_seconds = time.monotonic() - started
    assert backup.returncode == 0, backup.stdout[-4000:] + backup.stderr[-4000:]
    assert "backup: dumped mlflow_auth" in backup.stdout
    assert "backup: dumped prefect" in backup.stdout
    assert re.search(r"snapshot [0-9a-f]{8} saved", backup.stdout), backup.stdout[-3000:]
    store_bytes, repository_bytes = volume_sizes(drill)

    drill.make("clean")  # the backups stay (README "Restore")
    up_output = drill.make("up")
    after_stack = drill(up_output)
    new = after_stack.endpoints
    assert new.password != endpoints.password  # a new stack: new Secrets
    assert tracking_state(new)["runs"] == {}  # and empty
    started = time.monotonic()
    restore_output = drill.make("restore")
    restore_seconds = time.monotonic() - started
    assert "restore: database mlflow_auth restored" in restore_output, restore_output[-4000:]
    assert (
        "stack-restore: snapshot latest restored; MLflow, Prefect and SFTP are running again"
        in restore_output
    )

    # ---- everything is back
    assert tracking_state(new) == state
    assert after_stack.sftp_data_digests(tmp_path / "unused") == files
    assert alice_permission(new, experiment_id) == "EDIT"  # her own password, her permission
    after = Workstation.create(tmp_path / "after")
    clone = after.clone_and_pull(wine, tmp_path / "after" / "wine", new)
    assert sha256(clone / DATASET) == data_digests["wine"]
    assert after.predict(clone, f"models:/{MODEL}@champion") == predictions
    grapes_clone = after.clone_and_pull(grapes, tmp_path / "after" / "grapes", new)
    assert sha256(grapes_clone / DATASET) == data_digests["grapes"]
    assert wine_md5 != grapes_md5

    # ---- a damaged repository fails the verification, by name
    verified = drill.create_job("mlops-stack-verify")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
    drill.volume_shell(
        drill.BACKUP_VOLUME,
        'pack=$(find /v/restic/data -type f -size +1k | head -n 1); chmod u+w "$pack"; '
        "printf 'damaged' | dd of=\"$pack\" bs=1 seek=200 conv=notrunc 2>/dev/null",
        writable=True,
    )
    damaged = drill.create_job("mlops-stack-verify")
    assert damaged.returncode == 1
    assert "verify: the backup repository /backups/restic is damaged" in damaged.stdout + damaged.stderr

    with capsys.disabled():
        print(
            f"\nrestore drill: {len(state['runs'])} runs, {len(files)} files on the SFTP store "
            f"({store_bytes / 1e6:.1f} MB); backup {backup_seconds:.0f} s, "
            f"repository {repository_bytes / 1e6:.1f} MB; "
            f"restore (make restore: stop, restore, start) {restore_seconds:.0f} s"
        )
    drill.make("clean", BACKUPS="delete")

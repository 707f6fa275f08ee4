"""Automated re-training on both targets (the local stack from `make up`, the kind cluster): the example
project's re-training deployment (examples/prefect.yaml, examples/retrain.py) runs on the stack's Prefect
worker, which clones the project over the network from a git server (`git daemon` beside the stack, as
GitLab would be reached, not a mounted folder: tests/workflow/git_server.py) and pulls its data from the
SFTP server with its own key.

Three runs, triggered through the Prefect API, asserted exactly: no champion yet -> promoted; same data and
code -> a new version, alias unchanged, "kept"; a better data version (dvc add + dvc push, committed) ->
the alias moves. And the deployment's cron schedule is on the server, with upcoming runs the scheduler
made.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support.workflow import DATASET, Endpoints, Workstation

from .git_server import NAME as GIT_SERVER
from .targets import Target

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SUFFIX = uuid.uuid4().hex[:8]
MODEL = f"retrain-wine-{SUFFIX}"
EXPERIMENT = f"retrain-{SUFFIX}"
REPOSITORY_NAME = "wine.git"
REPOSITORY = f"git://{GIT_SERVER}/{REPOSITORY_NAME}"  # what the worker clones, by its network name
POOR_COLUMNS = "ash,magnesium"  # the first data version: two weak measurements (accuracy 0.511111)
RUN_TIMEOUT = 900
TAG = "mlops.retrain."


@pytest.fixture(scope="module")
def git_server(target: Target) -> Iterator[str]:
    """The project's git server (tests/workflow/git_server.py); yields the URL this host pushes to."""
    with target.git_server(REPOSITORY_NAME) as push_url:
        yield push_url


@dataclass
class Prefect:
    api: str
    auth: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": "Basic " + base64.b64encode(self.auth.encode()).decode()}
        response = requests.request(method, self.api + path, json=body, headers=headers, timeout=30)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def run_deployment(self, deployment_id: str, parameters: dict) -> dict:
        """Create a flow run of the deployment and wait for its final state; returns the run."""
        run = self.call("POST", f"/deployments/{deployment_id}/create_flow_run", {"parameters": parameters})
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            run = self.call("GET", f"/flow_runs/{run['id']}")
            if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            time.sleep(3)
        pytest.fail(f"flow run {run['id']} not finished after {RUN_TIMEOUT} s (state {run['state_type']})")


@dataclass
class Project:
    station: Workstation
    repo: Path
    prefect: Prefect
    deployment: dict

    def push(self) -> tuple[str, str]:
        """`git push` to the git server; returns (commit, data md5) of what was pushed."""
        self.station.run(["git", "push", "-q", "origin", "main"], self.repo)
        commit = self.station.run(["git", "rev-parse", "HEAD"], self.repo).strip()
        match = re.search(r"md5: ([0-9a-f]{32})", (self.repo / f"{DATASET}.dvc").read_text())
        assert match
        return commit, match.group(1)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, target: Target, git_server: str) -> Project:
    """The data scientist's side: a project from examples/ with a first (poor) data version, `mlops init`
    with Prefect, pushed to the git server, then `prefect deploy --name retrain` as prefect.yaml says."""
    base = tmp_path_factory.mktemp("retrain")
    station = Workstation.create(base)
    repo = station.new_project(base / "wine")
    station.python("prepare_data.py", "--columns", POOR_COLUMNS, cwd=repo)
    prefect = Prefect(target.prefect_api_url, target.prefect_auth_string())
    station.configure(repo, target.endpoints, prefect=(prefect.api, prefect.auth))
    station.version_data(repo, "data: wine v1, two measurements")
    station.run(["git", "remote", "add", "origin", git_server], repo)
    station.run(["git", "push", "-q", "origin", "main"], repo)
    env_args = ["env", f"GIT_REPOSITORY={REPOSITORY}", "GIT_BRANCH=main"]
    station.run([*env_args, "prefect", "--no-prompt", "deploy", "--name", "retrain"], repo)
    deployment = prefect.call("GET", "/deployments/name/retrain-wine-classifier/retrain")
    return Project(station, repo, prefect, deployment)


@pytest.fixture(scope="module")
def admin(endpoints: Endpoints) -> Iterator[Any]:
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", endpoints.username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", endpoints.password)
        yield mlflow.MlflowClient(tracking_uri=endpoints.tracking_uri)


def retrain(project: Project) -> dict:
    run = project.prefect.run_deployment(
        project.deployment["id"], {"model_name": MODEL, "experiment": EXPERIMENT, "margin": 0.0}
    )
    assert run["state_type"] == "COMPLETED", f"flow run {run['name']}: {run['state']}"
    seconds = run["total_run_time"]
    print(f"re-training run {run['name']}: {seconds:.1f} s run time")
    return run


def version_tags(admin: Any, version: str) -> dict[str, str]:
    tags = admin.get_model_version(MODEL, version).tags
    return {k.removeprefix(TAG): v for k, v in tags.items() if k.startswith(TAG)}


def assert_run_traces(admin: Any, version: str, commit: str, md5: str) -> None:
    run = admin.get_run(admin.get_model_version(MODEL, version).run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.source.git.commit"] == commit
    assert run.data.tags["mlflow.source.git.dirty"] == "false"
    assert run.data.tags[f"mlops.dvc.md5.{DATASET}"] == md5
    assert run.data.tags["mlflow.user"] == "prefect-worker"  # the worker's own account, not the admin


def test_the_deployment_schedule_is_stored_and_the_scheduler_creates_its_runs(project: Project) -> None:
    deployment = project.deployment
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 3 * * 1"]
    assert [s["schedule"]["timezone"] for s in deployment["schedules"]] == ["UTC"]
    assert deployment["work_pool_name"] == "mlops"
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["pull_steps"] == [
        {"prefect.deployments.steps.git_clone": {"repository": REPOSITORY, "branch": "main"}}
    ]
    deadline = time.monotonic() + 180  # the scheduler service runs every 60 s
    scheduled: list = []
    while time.monotonic() < deadline and not scheduled:
        scheduled = project.prefect.call(
            "POST",
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [deployment["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            },
        )
        time.sleep(5)
    assert scheduled, "the scheduler made no upcoming run of the deployment"
    starts = sorted(run["expected_start_time"] for run in scheduled)
    for start in starts:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT03:00:00(\.0+)?(Z|\+00:00)", start), start
    assert all(run["auto_scheduled"] for run in scheduled)


def test_three_retraining_runs_promote_only_a_better_model(project: Project, admin: Any) -> None:
    commit, md5 = project.push()

    retrain(project)  # 1: no champion yet
    assert [v.version for v in admin.search_model_versions(f"name='{MODEL}'")] == ["1"]
    assert admin.get_registered_model(MODEL).aliases == {"champion": "1"}
    assert version_tags(admin, "1") == {
        "decision": "promoted",
        "metric": "accuracy",
        "margin": "0.0",
        "new_score": "0.511111",
        "champion_score": "none",
        "champion_version": "none",
    }
    assert_run_traces(admin, "1", commit, md5)

    retrain(project)  # 2: same data, same code: as good as the champion, not better
    assert admin.get_registered_model(MODEL).aliases == {"champion": "1"}
    assert version_tags(admin, "2") == {
        "decision": "kept",
        "metric": "accuracy",
        "margin": "0.0",
        "new_score": "0.511111",
        "champion_score": "0.511111",
        "champion_version": "1",
    }
    assert_run_traces(admin, "2", commit, md5)

    # 3: a better data version (every measurement), versioned and committed like any other
    project.station.python("prepare_data.py", cwd=project.repo)
    better_md5 = project.station.version_data(project.repo, "data: wine v2, every measurement")
    better_commit, pushed_md5 = project.push()
    assert pushed_md5 == better_md5 != md5
    retrain(project)
    assert admin.get_registered_model(MODEL).aliases == {"champion": "3"}
    assert version_tags(admin, "3") == {
        "decision": "promoted",
        "metric": "accuracy",
        "margin": "0.0",
        "new_score": "1.000000",
        "champion_score": "0.511111",
        "champion_version": "1",
    }
    assert_run_traces(admin, "3", better_commit, better_md5)

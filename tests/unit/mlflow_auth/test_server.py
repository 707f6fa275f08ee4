"""`mlflow server --app-name mlops-basic-auth` with 2 workers: user changes take effect on the next
request at every worker, each credential is hash-checked once per worker, MLflow's UI controls stay.

Which worker answered is read from the server log: each worker logs, with its pid, the first check of a
credential and every refusal. A phase sends requests until both workers have logged, so each assertion
covers both workers.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from tests.support.mlflow_server import MlflowServer, start_mlflow_server
from werkzeug.security import generate_password_hash

WORKERS = 2
CURRENT_USER = "/api/2.0/mlflow/users/current"
READ_ADMIN = "/api/2.0/mlflow/users/get?username=admin"
LEGACY_DEFAULT_ADMIN_PASSWORD = "password1234"  # what MLflow < 3.? shipped in basic_auth.ini


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(
        tmp_path_factory.mktemp("mlops-basic-auth"), app_name="mlops-basic-auth", workers=WORKERS,
        auth_cache_ttl_seconds=0,
    )  # fmt: skip
    every_worker_started(server)
    yield server
    server.stop()


def every_worker_started(server: MlflowServer, timeout: float = 180) -> None:
    """/health answers once one worker is up; on a loaded machine the other may still be importing MLflow,
    and every request would then reach the first one. Each uvicorn worker logs its startup."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.log.read_text(errors="replace").count("Application startup complete") >= WORKERS:
            return
        time.sleep(0.5)


def worker_pids(log: Path, pattern: str) -> set[int]:
    return {int(pid) for pid in re.findall(pattern + r" \(pid (\d+)\)", log.read_text())}


def get(server: MlflowServer, path: str, auth: tuple[str, str]) -> int:
    # A new connection per request (no Session), so the requests spread over the workers.
    return requests.get(server.url + path, auth=auth, timeout=60).status_code


def until_every_worker_logged(
    server: MlflowServer, pattern: str, send: Callable[[], list[int]], expected: list[int], rounds: int = 250
) -> int:
    """Repeat `send` (each returns its statuses, which must be `expected`) until all workers logged
    `pattern`; returns the number of rounds."""
    for round_number in range(1, rounds + 1):
        assert send() == expected
        if len(worker_pids(server.log, pattern)) == WORKERS:
            return round_number
    log_tail = server.log.read_text()[-3000:]
    pytest.fail(f"{rounds} rounds reached fewer than {WORKERS} workers logging {pattern!r}:\n{log_tail}")


def logged_in_at_every_worker(server: MlflowServer, auth: tuple[str, str]) -> None:
    pattern = rf"user '{auth[0]}': password hash checked"
    until_every_worker_logged(server, pattern, lambda: concurrently(server, CURRENT_USER, auth), [200] * 4)


def refused_at_every_worker(server: MlflowServer, auth: tuple[str, str], reason: str) -> None:
    pattern = rf"refused user '{auth[0]}': {reason}"
    until_every_worker_logged(server, pattern, lambda: concurrently(server, CURRENT_USER, auth), [401] * 4)


def concurrently(server: MlflowServer, path: str, auth: tuple[str, str], count: int = 4) -> list[int]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: get(server, path, auth), range(count)))


def change_password(server: MlflowServer, username: str, old: str, new: str) -> None:
    """As the UI's change-password dialog does it: the user's own credentials and the current password."""
    response = requests.patch(
        f"{server.url}/ajax-api/2.0/mlflow/users/update-password",
        json={"username": username, "password": new, "current_password": old},
        auth=(username, old),
        timeout=60,
    )
    assert response.status_code == 200, response.text


def test_each_credential_is_hash_checked_once_per_worker(server: MlflowServer) -> None:
    password = server.create_user("carol")
    logged_in_at_every_worker(server, ("carol", password))
    for _ in range(10):
        assert concurrently(server, CURRENT_USER, ("carol", password)) == [200] * 4
    checks = re.findall(r"user 'carol': password hash checked \(pid (\d+)\)", server.log.read_text())
    assert sorted(set(checks)) == sorted(checks)  # at most one check per worker: no pid twice
    assert len(checks) == WORKERS


def test_a_changed_password_is_refused_at_every_worker_on_the_next_request(server: MlflowServer) -> None:
    old = server.create_user("alice")
    logged_in_at_every_worker(server, ("alice", old))
    change_password(server, "alice", old, "alice's new password")
    # From the first request on, at both workers (each had the old password on record):
    refused_at_every_worker(server, ("alice", old), "wrong password")
    assert concurrently(server, CURRENT_USER, ("alice", "alice's new password")) == [200] * 4


def test_a_deleted_user_gets_401_at_once(server: MlflowServer) -> None:
    password = server.create_user("dave")
    logged_in_at_every_worker(server, ("dave", password))
    response = requests.delete(
        f"{server.url}/api/2.0/mlflow/users/delete", json={"username": "dave"}, auth=admin(server), timeout=60
    )
    assert response.status_code == 200, response.text
    refused_at_every_worker(server, ("dave", password), "no such user")


def test_an_admin_flag_change_takes_effect_on_the_next_request(server: MlflowServer) -> None:
    password = server.create_user("bob")
    bob = ("bob", password)
    assert concurrently(server, READ_ADMIN, bob, 8) == [403] * 8
    set_admin(server, "bob", True)
    assert concurrently(server, READ_ADMIN, bob, 8) == [200] * 8
    set_admin(server, "bob", False)
    assert concurrently(server, READ_ADMIN, bob, 8) == [403] * 8


def test_a_password_changed_in_the_database_by_another_replica_counts_at_once(server: MlflowServer) -> None:
    """What another replica's change looks like to this server: only the stored row changed. With the
    legacy default admin password stored, MLflow's refusal of that password on an admin still holds."""
    password = server.create_user("erin")
    set_admin(server, "erin", True)
    logged_in_at_every_worker(server, ("erin", password))
    with sqlite3.connect(server.auth_db) as db:
        db.execute(
            "UPDATE users SET password_hash = ? WHERE username = 'erin'",
            (generate_password_hash(LEGACY_DEFAULT_ADMIN_PASSWORD),),
        )
    assert concurrently(server, CURRENT_USER, ("erin", password), 8) == [401] * 8
    assert concurrently(server, CURRENT_USER, ("erin", LEGACY_DEFAULT_ADMIN_PASSWORD), 8) == [401] * 8
    assert "insecure default password" in server.log.read_text()


def test_the_ui_keeps_login_logout_and_change_password(server: MlflowServer) -> None:
    # Login: the browser's basic-auth prompt comes from this challenge.
    page = requests.get(server.url + "/", timeout=60)
    assert (page.status_code, page.headers.get("WWW-Authenticate")) == (401, 'Basic realm="mlflow"')
    password = server.create_user("frank")
    current = requests.get(
        f"{server.url}/ajax-api/2.0/mlflow/users/current", auth=("frank", password), timeout=60
    )
    # is_basic_auth is what makes the UI show its logout and change-password controls.
    user = {"id": current.json()["user"]["id"], "username": "frank", "is_admin": False}
    assert current.json() == {"user": user, "is_basic_auth": True}
    # Logout: the UI replaces the browser's credentials with wrong ones, which must get a 401.
    assert get(server, CURRENT_USER, ("frank", "logged-out")) == 401
    change_password(server, "frank", password, "frank's new password")
    assert get(server, CURRENT_USER, ("frank", "frank's new password")) == 200
    assert get(server, CURRENT_USER, ("frank", password)) == 401


def admin(server: MlflowServer) -> tuple[str, str]:
    return (server.admin_user, server.admin_password)


def set_admin(server: MlflowServer, username: str, is_admin: bool) -> None:
    response = requests.patch(
        f"{server.url}/api/2.0/mlflow/users/update-admin",
        json={"username": username, "is_admin": is_admin},
        auth=admin(server),
        timeout=60,
    )
    assert response.status_code == 200, response.text


def test_run_permissions_are_decided_as_mlflow_decides_them(server: MlflowServer) -> None:
    """The permission check reads only the run's experiment (run_lookup); the decisions stay MLflow's and
    the handlers still see the whole run."""
    owner = ("grace", server.create_user("grace"))
    other = ("heidi", server.create_user("heidi"))
    api = f"{server.url}/api/2.0/mlflow"
    experiment = requests.post(f"{api}/experiments/create", json={"name": "grace's"}, auth=owner, timeout=60)
    run = requests.post(f"{api}/runs/create", json={"experiment_id": experiment.json()["experiment_id"]},
                        auth=owner, timeout=60).json()["run"]["info"]["run_id"]  # fmt: skip
    metric = {"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    assert requests.post(f"{api}/runs/log-metric", json=metric, auth=owner, timeout=60).status_code == 200
    # READ by default: heidi may read grace's run, whole, but not write to it.
    assert requests.post(f"{api}/runs/log-metric", json=metric, auth=other, timeout=60).status_code == 403
    seen = requests.get(f"{api}/runs/get", params={"run_id": run}, auth=other, timeout=60)
    assert seen.status_code == 200
    assert seen.json()["run"]["data"]["metrics"] == [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}]
    # A run that does not exist is denied, not a 404 (no oracle for run ids).
    missing = {**metric, "run_id": "0" * 32}
    assert requests.post(f"{api}/runs/log-metric", json=missing, auth=other, timeout=60).status_code == 403


def grant(server: MlflowServer, path: str, body: dict) -> None:
    response = requests.post(f"{server.url}/api/3.0/mlflow/users/permissions/{path}", json=body,
                             auth=admin(server), timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text


def test_a_grant_and_its_revocation_count_from_the_next_request_at_every_worker(server: MlflowServer) -> None:
    """The user's grants come with its row, read once per request (user_grants): never from an older one."""
    owner = ("ivan", server.create_user("ivan"))
    other = ("judy", server.create_user("judy"))
    api = f"{server.url}/api/2.0/mlflow"
    experiment = requests.post(f"{api}/experiments/create", json={"name": "ivan's"}, auth=owner, timeout=60)
    experiment_id = experiment.json()["experiment_id"]
    run = requests.post(f"{api}/runs/create", json={"experiment_id": experiment_id},
                        auth=owner, timeout=60).json()["run"]["info"]["run_id"]  # fmt: skip

    def log_metric(count: int = 8) -> list[int]:
        metric = {"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
        with ThreadPoolExecutor(4) as pool:  # new connections, spread over both workers
            return list(pool.map(lambda _: requests.post(f"{api}/runs/log-metric", json=metric, auth=other,
                                                         timeout=60).status_code, range(count)))  # fmt: skip

    assert log_metric() == [403] * 8
    target = {"username": "judy", "resource_type": "experiment", "resource_id": experiment_id}
    grant(server, "grant", {**target, "permission": "EDIT"})
    for _ in range(5):
        assert log_metric() == [200] * 8
    grant(server, "revoke", target)
    for _ in range(5):
        assert log_metric() == [403] * 8


def test_run_responses_keep_mlflows_model_link_redaction(server: MlflowServer) -> None:
    """Run responses without model links skip MLflow's parse (run_redaction); with one, MLflow still
    withholds the link from a user denied logged models, and only from that user."""
    owner = ("kim", server.create_user("kim"))
    denied = ("leo", server.create_user("leo"))
    api = f"{server.url}/api/2.0/mlflow"

    def post(path: str, body: dict) -> dict:
        response = requests.post(f"{api}/{path}", json=body, auth=owner, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    experiment_id = post("experiments/create", {"name": "kim's"})["experiment_id"]
    _plain, linked = (
        post("runs/create", {"experiment_id": experiment_id, "run_name": name})["run"]["info"]["run_id"]
        for name in ("plain", "linked")
    )
    model = post("logged-models", {"experiment_id": experiment_id, "source_run_id": linked})
    model_id = model["model"]["info"]["model_id"]
    post("runs/outputs", {"run_id": linked, "models": [{"model_id": model_id, "step": 0}]})
    grant(server, "grant", {"username": "leo", "resource_type": "logged_model", "resource_id": "*",
                            "permission": "DENY"})  # fmt: skip

    def outputs(auth: tuple[str, str], user: str) -> dict[str, dict]:
        found = requests.post(f"{api}/runs/search", json={"experiment_ids": [experiment_id]}, auth=auth,
                              timeout=60)  # fmt: skip
        assert found.status_code == 200, (user, found.text)
        return {run["info"]["run_name"]: run.get("outputs", {}) for run in found.json()["runs"]}

    assert outputs(owner, "kim") == {
        "plain": {},
        "linked": {"model_outputs": [{"model_id": model_id, "step": 0}]},
    }
    assert outputs(denied, "leo") == {"plain": {}, "linked": {}}
    assert outputs(admin(server), "admin") == outputs(owner, "kim")
    for auth, expected in ((owner, [{"model_id": model_id, "step": 0}]), (denied, None)):
        run = requests.get(f"{api}/runs/get", params={"run_id": linked}, auth=auth, timeout=60).json()["run"]
        assert run.get("outputs", {}).get("model_outputs") == expected

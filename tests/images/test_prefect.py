"""The prefect image (server and worker) under OpenShift's restricted profile, on the postgresql image."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from tests.images.conftest import mount_folder, new_password, start_postgres, wait_for_postgres
from tests.support.containers import RestrictedContainer, Sandbox

pytestmark = pytest.mark.images

# What the chart declares for Prefect: an emptyDir /tmp (HOME, PREFECT_HOME, the flows' clones).
TMPFS = {"/tmp": "size=512m"}
SECRETS = "/etc/prefect-secrets"
POOL = "image-test-pool"


def basic(auth_string: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(auth_string.encode()).decode()}


@dataclass
class PrefectStack:
    sandbox: Sandbox
    postgres: RestrictedContainer
    server: RestrictedContainer
    env: dict[str, str]
    volumes: dict[str, str]
    auth_string: str
    db_password: str

    @property
    def api(self) -> str:
        return self.server.url(4200, "/api")

    def get(self, path: str, auth: str | None = None) -> requests.Response:
        return requests.get(self.api + path, headers=basic(auth) if auth else {}, timeout=10)

    def post(self, path: str, body: dict, auth: str | None = None) -> requests.Response:
        headers = basic(auth or self.auth_string)
        return requests.post(self.api + path, json=body, headers=headers, timeout=10)

    def run_once(self, name: str, command: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        job = self.sandbox.run(
            "prefect",
            name=name,
            env={**self.env, **(env or {})},
            command=command,
            tmpfs=TMPFS,
            volumes=self.volumes,
            read_only_mounts=[SECRETS],
        )
        code = job.wait_for_exit(timeout=180)
        logs = job.logs()
        job.remove()
        return code, logs


def wait_for_server(server: RestrictedContainer) -> None:
    # /api/health answers without credentials, like a kubelet probe needs.
    server.wait_for_http(4200, "/api/health", timeout=180)


@pytest.fixture(scope="module")
def stack(sandbox: Sandbox, mount_root: Path) -> PrefectStack:
    admin, app, prefect_db = new_password(), new_password(), new_password()
    auth_string = f"prefect:{new_password()}"
    pg_secrets = mount_folder(mount_root, "pg-prefect-role", {"password": prefect_db})
    postgres = start_postgres(
        sandbox,
        sandbox.volume("prefect-pgdata"),
        {
            "POSTGRES_ADMIN_PASSWORD": admin,
            "POSTGRES_PASSWORD": app,
            "POSTGRES_EXTRA_ROLES": "prefect",
            "POSTGRES_PREFECT_PASSWORD_FILE": "/etc/pg-roles/password",
        },
        name="prefect-db",
        secrets={str(pg_secrets): "/etc/pg-roles"},
    )
    wait_for_postgres(postgres)
    secrets = mount_folder(mount_root, "prefect-secrets", {"db-password": prefect_db, "auth": auth_string})
    env = {
        "PREFECT_DB_HOST": "prefect-db",
        "PREFECT_DB_USER": "prefect",
        "PREFECT_DB_PASSWORD_FILE": f"{SECRETS}/db-password",
        "PREFECT_SERVER_API_AUTH_STRING_FILE": f"{SECRETS}/auth",
    }
    volumes = {str(secrets): SECRETS}
    stack = PrefectStack(sandbox, postgres, None, env, volumes, auth_string, prefect_db)  # type: ignore[arg-type]
    code, logs = stack.run_once("prefect-db-upgrade", ["db-upgrade"])
    assert code == 0, logs
    stack.server = sandbox.run(
        "prefect",
        name="prefect-server",
        alias="prefect",
        env={**env, "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false"},
        tmpfs=TMPFS,
        volumes=volumes,
        read_only_mounts=[SECRETS],
    )
    wait_for_server(stack.server)
    return stack


def test_anonymous_requests_get_401_and_the_auth_string_gets_200(stack: PrefectStack) -> None:
    assert stack.post("/flows/filter", {}, auth="prefect:wrong").status_code == 401
    assert requests.post(stack.api + "/flows/filter", json={}, timeout=10).status_code == 401
    assert stack.get("/admin/version").status_code == 401
    version = stack.get("/admin/version", auth=stack.auth_string)
    assert (version.status_code, version.json()) == (200, "3.9.1")
    assert stack.post("/flows/filter", {}).status_code == 200


def test_the_ui_is_served(stack: PrefectStack) -> None:
    page = requests.get(stack.server.url(4200, "/"), timeout=10)
    assert page.status_code == 200
    assert "<title>Prefect Server</title>" in page.text


def test_secrets_never_appear_in_process_arguments(stack: PrefectStack) -> None:
    code, cmdlines = stack.server.exec(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"])
    assert code == 0
    assert "prefect server start --host 0.0.0.0 --port 4200" in cmdlines
    assert stack.db_password not in cmdlines
    assert stack.auth_string not in cmdlines


def test_the_worker_creates_its_pool_and_registers_in_it(stack: PrefectStack) -> None:
    worker = stack.sandbox.run(
        "prefect",
        name="prefect-worker",
        env={
            "PREFECT_API_URL": "http://prefect:4200/api",
            "PREFECT_API_AUTH_STRING_FILE": f"{SECRETS}/auth",
            "PREFECT_WORK_POOL": POOL,
            "PREFECT_WORKER_NAME": "image-test-worker",
        },
        command=["worker"],
        tmpfs=TMPFS,
        volumes=stack.volumes,
        read_only_mounts=[SECRETS],
    )
    worker.wait_for_log(f"prefect-entrypoint: created the process work pool '{POOL}'", timeout=120)

    def registered() -> bool:
        answer = stack.post(f"/work_pools/{POOL}/workers/filter", {})
        return answer.status_code == 200 and [w["name"] for w in answer.json()] == ["image-test-worker"]

    worker.wait_for(registered, "the worker's heartbeat in its pool", timeout=120)
    pool = stack.get(f"/work_pools/{POOL}", auth=stack.auth_string).json()
    assert (pool["type"], pool["status"]) == ("process", "READY")
    worker.stop()
    # A second start finds the pool and keeps it.
    worker.start()
    worker.wait_for(lambda: "work pool 'image-test-pool' exists (type process)" in worker.logs(), "restart")
    worker.remove()


def test_data_is_kept_across_a_server_restart(stack: PrefectStack) -> None:
    created = stack.post("/flows/", {"name": "kept-across-restarts"})
    assert created.status_code in (200, 201), created.text
    flow_id = created.json()["id"]
    stack.server.restart()
    wait_for_server(stack.server)
    kept = stack.get(f"/flows/{flow_id}", auth=stack.auth_string)
    assert (kept.status_code, kept.json()["name"]) == (200, "kept-across-restarts")


def test_db_upgrade_is_idempotent(stack: PrefectStack) -> None:
    code, logs = stack.run_once("prefect-db-upgrade-again", ["db-upgrade"])
    assert code == 0, logs
    assert logs.strip().endswith("prefect-entrypoint: the Prefect database is at the current schema")


def test_the_prefect_role_reaches_only_its_own_database(stack: PrefectStack) -> None:
    code, logs = stack.run_once(
        "prefect-db-isolation",
        [
            "python",
            "-c",
            "import asyncio, asyncpg, os\n"
            "async def main(db):\n"
            "    try:\n"
            "        password = open(os.environ['PREFECT_DB_PASSWORD_FILE']).read()\n"
            "        c = await asyncpg.connect(\n"
            "            host='prefect-db', user='prefect', database=db, password=password)\n"
            "        print(db, await c.fetchval('select current_user'))\n"
            "    except asyncpg.PostgresError as e:\n"
            "        print(db, type(e).__name__)\n"
            "asyncio.run(main('prefect')); asyncio.run(main('mlflow'))\n",
        ],
    )
    assert (code, logs) == (0, "prefect prefect\nmlflow InsufficientPrivilegeError\n")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "PREFECT_SERVER_API_AUTH_STRING_FILE",
            "prefect-entrypoint: no auth string: set PREFECT_SERVER_API_AUTH_STRING or "
            "PREFECT_SERVER_API_AUTH_STRING_FILE (user:password, mounted from a Secret), or "
            "PREFECT_AUTH_ENABLED=false to run without authentication",
        ),
        (
            "PREFECT_DB_PASSWORD_FILE",
            "prefect-entrypoint: no database password: set PREFECT_DB_PASSWORD or PREFECT_DB_PASSWORD_FILE "
            "(path of a mounted Secret file)",
        ),
        (
            "PREFECT_DB_HOST",
            "prefect-entrypoint: PREFECT_DB_HOST is not set: name the PostgreSQL host (the chart's Service, "
            "e.g. mlops-stack-postgresql)",
        ),
    ],
    ids=["auth-string", "db-password", "db-host"],
)
def test_the_server_refuses_to_start_without_a_required_setting(
    stack: PrefectStack, setting: str, message: str
) -> None:
    code, logs = stack.run_once(f"refuse-{setting.lower().replace('_', '-')}", ["server"], env={setting: ""})
    assert (code, logs.strip()) == (1, message)

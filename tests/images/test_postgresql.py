"""The postgresql image under OpenShift's restricted profile: passwords, persistence, refusals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from tests.images.conftest import (
    POSTGRES_DATA,
    POSTGRES_TMPFS,
    mount_folder,
    new_password,
    start_postgres,
    wait_for_postgres,
)
from tests.images.kubelet import FS_GROUP_IDS, FS_GROUPS, Kubelet
from tests.support.containers import RESTRICTED_UID, RestrictedContainer, Sandbox

pytestmark = pytest.mark.images


@dataclass
class Postgres:
    container: RestrictedContainer
    admin_password: str
    app_password: str
    volume: str

    def connect(self, user: str = "mlflow", password: str | None = None, dbname: str = "mlflow"):
        host, port = self.container.address(5432)
        if password is None:
            password = self.app_password if user == "mlflow" else self.admin_password
        return psycopg2.connect(
            host=host, port=port, user=user, password=password, dbname=dbname, connect_timeout=5
        )

    def query(self, sql: str, **kwargs: str) -> list[tuple]:
        with self.connect(**kwargs) as conn, conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
        conn.close()
        return rows


@pytest.fixture(scope="module")
def postgres(sandbox: Sandbox) -> Postgres:
    admin, app = new_password(), new_password()
    volume = sandbox.volume("pgdata")
    container = start_postgres(sandbox, volume, {"POSTGRES_ADMIN_PASSWORD": admin, "POSTGRES_PASSWORD": app})
    wait_for_postgres(container)
    return Postgres(container, admin, app, volume)


def test_the_application_role_logs_in_to_its_databases_with_the_right_password(postgres: Postgres) -> None:
    assert postgres.query("SELECT current_user, current_database()") == [("mlflow", "mlflow")]
    assert postgres.query("SELECT current_user, current_database()", dbname="mlflow_auth") == [
        ("mlflow", "mlflow_auth")
    ]
    owners = postgres.query(
        "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE 'mlflow%' ORDER BY 1"
    )
    assert owners == [("mlflow", "mlflow"), ("mlflow_auth", "mlflow")]


def test_the_application_role_is_not_privileged(postgres: Postgres) -> None:
    rows = postgres.query(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'mlflow'"
    )
    assert rows == [(False, False, False)]


def test_the_superuser_logs_in_with_the_admin_password(postgres: Postgres) -> None:
    assert postgres.query("SELECT current_user", user="postgres", dbname="postgres") == [("postgres",)]


@pytest.mark.parametrize("user", ["mlflow", "postgres"])
def test_a_wrong_password_is_rejected(postgres: Postgres, user: str) -> None:
    with pytest.raises(psycopg2.OperationalError, match=f'password authentication failed for user "{user}"'):
        postgres.connect(user=user, password="not-the-password", dbname="postgres")


def test_the_server_runs_as_the_arbitrary_uid_from_a_read_only_root(postgres: Postgres) -> None:
    code, out = postgres.container.exec(["stat", "-c", "%u %a", "/var/lib/postgresql/data/pgdata"])
    assert (code, out.strip()) == (0, f"{RESTRICTED_UID} 700")
    code, out = postgres.container.exec(["grep", "-E", "^(Name|Uid|Gid):", "/proc/1/status"])
    fields = dict(line.split(":", 1) for line in out.strip().splitlines())
    assert fields["Name"].strip() == "postgres"
    assert fields["Uid"].split()[0] == str(RESTRICTED_UID)
    assert fields["Gid"].split()[0] == "0"
    host_config = postgres.container.container.attrs["HostConfig"]
    assert (host_config["ReadonlyRootfs"], host_config["CapDrop"]) == (True, ["ALL"])


def test_data_survives_a_container_restart(postgres: Postgres) -> None:
    postgres.query("CREATE TABLE survives (v text); INSERT INTO survives VALUES ('kept')")
    before = postgres.container.logs().count("run-postgresql: starting PostgreSQL")
    postgres.container.restart()
    postgres.container.wait_for(
        lambda: postgres.container.logs().count("run-postgresql: starting PostgreSQL") > before, "restart"
    )
    wait_for_postgres(postgres.container)
    assert postgres.query("SELECT v FROM survives") == [("kept",)]
    assert postgres.container.logs().count("initializing a new cluster") == 1


def test_a_restart_with_a_kept_tmp_works(sandbox: Sandbox) -> None:
    """Kubernetes keeps an emptyDir /tmp across container restarts: stale socket locks, passwd files."""
    tmp = sandbox.volume("pgkepttmp")
    container = sandbox.run(
        "postgresql",
        name="pgkept",
        env={"POSTGRES_ADMIN_PASSWORD": "kept-admin", "POSTGRES_PASSWORD": "kept-app"},
        volumes={sandbox.volume("pgkeptdata"): POSTGRES_DATA, tmp: "/tmp"},
    )
    wait_for_postgres(container)
    container.restart()
    container.wait_for(lambda: container.logs().count("run-postgresql: starting PostgreSQL") == 2, "restart")
    wait_for_postgres(container)
    pg = Postgres(container, "kept-admin", "kept-app", "pgkeptdata")
    assert pg.query("SELECT current_user") == [("mlflow",)]


@pytest.mark.parametrize("fs_group", FS_GROUPS, ids=FS_GROUP_IDS)
def test_data_on_a_pvc_survives_the_next_pod_with_the_pods_fs_group(
    sandbox: Sandbox, fs_group: int | None
) -> None:
    """With an fsGroup the kubelet applies it to the PVC again at every pod start (fsGroupChangePolicy:
    Always, the default): PGDATA gets group fsGroup and mode 2770, its files 0660."""
    kubelet = Kubelet(sandbox, fs_group)
    pvc = f"pgpod-{'fsg' if fs_group else 'nofsg'}"
    admin, app = new_password(), new_password()

    def start_pod(n: int) -> Postgres:
        pod = kubelet.start_pod(f"{pvc}-{n}", pvcs={pvc: POSTGRES_DATA}, empty_dirs={"tmp": "/tmp"})
        container = start_postgres(
            sandbox, None, {"POSTGRES_ADMIN_PASSWORD": admin, "POSTGRES_PASSWORD": app}, f"{pvc}-{n}", pod=pod
        )
        wait_for_postgres(container)
        return Postgres(container, admin, app, pvc)

    first = start_pod(1)
    first.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('from the first pod')")
    first.container.stop()
    second = start_pod(2)
    assert second.query("SELECT v FROM kept") == [("from the first pod",)]
    assert second.query("SELECT current_user", user="postgres", dbname="postgres") == [("postgres",)]


def test_passwords_from_files_are_reconciled_on_start(sandbox: Sandbox, mount_root: Path) -> None:
    """A rotated Secret takes effect on the next start: the old password stops working."""
    volume = sandbox.volume("pgrotate")
    first = start_postgres(
        sandbox,
        volume,
        {"POSTGRES_ADMIN_PASSWORD": "first-admin", "POSTGRES_PASSWORD": "first-app"},
        name="pgrot1",
    )
    wait_for_postgres(first)
    first.remove()

    new_admin, new_app = new_password(), new_password()
    secrets = mount_folder(mount_root, "pg-secret", {"admin": new_admin + "\n", "app": new_app + "\n"})
    second = start_postgres(
        sandbox,
        volume,
        {
            "POSTGRES_ADMIN_PASSWORD_FILE": "/etc/pg-secret/admin",
            "POSTGRES_PASSWORD_FILE": "/etc/pg-secret/app",
        },
        name="pgrot2",
        secrets={str(secrets): "/etc/pg-secret"},
    )
    wait_for_postgres(second)
    pg = Postgres(second, new_admin, new_app, volume)
    assert pg.query("SELECT current_user") == [("mlflow",)]
    assert pg.query("SELECT current_user", user="postgres", dbname="postgres") == [("postgres",)]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        pg.connect(password="first-app")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"POSTGRES_PASSWORD": "app-only"},
            "run-postgresql: no password for the superuser 'postgres': set POSTGRES_ADMIN_PASSWORD or "
            "POSTGRES_ADMIN_PASSWORD_FILE (path of a mounted Secret file). "
            "This image has no default password.",
        ),
        (
            {"POSTGRES_ADMIN_PASSWORD": "admin-only"},
            "run-postgresql: no password for the application role 'mlflow': set POSTGRES_PASSWORD or "
            "POSTGRES_PASSWORD_FILE (path of a mounted Secret file). This image has no default password.",
        ),
        (
            {"POSTGRES_ADMIN_PASSWORD": "a", "POSTGRES_PASSWORD": "b", "POSTGRES_USER": "postgres"},
            "run-postgresql: POSTGRES_USER must not be 'postgres' (the superuser); "
            "name the application role, e.g. mlflow",
        ),
        (
            {"POSTGRES_ADMIN_PASSWORD": "a", "POSTGRES_PASSWORD": "b", "POSTGRES_DATABASES": "mlflow x;drop"},
            "run-postgresql: POSTGRES_DATABASES: 'x;drop' is not a plain lower-case SQL name "
            "([a-z_][a-z0-9_]*)",
        ),
        (
            {"POSTGRES_ADMIN_PASSWORD": "a", "POSTGRES_PASSWORD": "b", "POSTGRES_EXTRA_ROLES": "prefect"},
            "run-postgresql: no password for the role 'prefect' (POSTGRES_EXTRA_ROLES): set "
            "POSTGRES_PREFECT_PASSWORD or POSTGRES_PREFECT_PASSWORD_FILE (path of a mounted Secret file). "
            "This image has no default password.",
        ),
        (
            {"POSTGRES_ADMIN_PASSWORD": "a", "POSTGRES_PASSWORD": "b", "POSTGRES_EXTRA_ROLES": "mlflow"},
            "run-postgresql: POSTGRES_EXTRA_ROLES: 'mlflow' is taken (the superuser, POSTGRES_USER or a "
            "system database)",
        ),
    ],
    ids=[
        "no-admin-password",
        "no-app-password",
        "superuser-as-app-role",
        "bad-database-name",
        "no-extra-role-password",
        "extra-role-taken",
    ],
)
def test_refuses_to_start_with_a_clear_message(sandbox: Sandbox, env: dict[str, str], message: str) -> None:
    volume = sandbox.volume("pgrefuse")
    container = start_postgres(sandbox, volume, env, name=f"pgref{abs(hash(message)) % 10_000}")
    assert container.wait_for_exit(timeout=60) == 1
    assert container.logs().strip() == message
    container.remove()


def test_pg_dump_runs_with_the_same_entrypoint_as_a_backup_job(sandbox: Sandbox, postgres: Postgres) -> None:
    postgres.query(
        "CREATE TABLE IF NOT EXISTS backed_up (v text); INSERT INTO backed_up VALUES ('in the dump')"
    )
    job = sandbox.run(
        "postgresql",
        name="pgdump",
        command=["pg_dump", "--data-only", "--table=backed_up", "mlflow"],
        env={"PGHOST": "pg", "PGUSER": "mlflow", "PGPASSWORD": postgres.app_password},
        tmpfs=POSTGRES_TMPFS,
    )
    assert job.wait_for_exit(60) == 0, job.logs()
    dump = job.logs()
    assert "-- PostgreSQL database dump" in dump
    assert "in the dump" in dump

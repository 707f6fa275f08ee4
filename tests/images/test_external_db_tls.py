"""An external PostgreSQL that only speaks TLS, and the chart's database clients with
`externalDatabase.sslMode: verify-full`: the migration job, the MLflow server (tracking and auth stores)
and the pre-upgrade dump connect with the environment and files the chart renders for them; a wrong CA or
a host name the certificate does not carry is refused, saying why.

The server is the postgresql image with a certificate from a throw-away CA and an hba file that rejects
every connection without TLS, so a client that connects at all connected over TLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from tests.images.conftest import POSTGRES_DATA, POSTGRES_TMPFS, mount_folder, new_password, wait_for_postgres
from tests.support.containers import RestrictedContainer, Sandbox
from tests.support.tls import CertificateAuthority
from tests.unit.chart.helm import containers, find, render

pytestmark = pytest.mark.images

DB_HOST = "db.tls.test"  # the name in the server certificate
OTHER_NAME = "db-by-another-name"  # resolves to the same server, not in its certificate
SECRETS = "/var/run/secrets/mlops-stack"  # where the chart mounts the password and the CA
TLS_DIR = "/etc/pg-tls"
HBA = """local all postgres peer
local all all scram-sha-256
hostssl all all 0.0.0.0/0 scram-sha-256
hostnossl all all 0.0.0.0/0 reject
"""
TMPFS = {"/tmp": "size=256m"}


@dataclass(frozen=True)
class TLSDatabase:
    server: RestrictedContainer
    password: str
    admin_password: str
    mounts: dict[str, str]  # host folder -> container path: the chart's db password and CA
    wrong_ca_mounts: dict[str, str]


def chart_containers(host: str = DB_HOST) -> dict[str, dict]:
    """The chart's database clients with an external database over verify-full TLS (upgrade render)."""
    docs = render(
        set_values=[
            "postgresql.enabled=false",
            f"externalDatabase.host={host}",
            "externalDatabase.existingSecret=db",
            "externalDatabase.sslMode=verify-full",
            "externalDatabase.tlsCA.name=db-ca",
            "route.enabled=false",
        ],
        is_upgrade=True,
    )
    job = containers(find(docs, "Job", "db-migration"))
    return {
        "db-upgrade": job["db-upgrade"],
        "pg-dump": job["pg-dump"],
        "server": containers(find(docs, "Deployment", "mlflow"))["mlflow"],
    }


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.fixture(scope="module")
def database(sandbox: Sandbox, mount_root: Path) -> TLSDatabase:
    ca, wrong_ca = CertificateAuthority.create("company CA"), CertificateAuthority.create("another CA")
    certificate, key = ca.issue(DB_HOST)
    tls = mount_folder(
        mount_root, "pg-tls", {"server.crt": certificate, "server.key": key, "pg_hba.conf": HBA}
    )
    (tls / "server.key").chmod(0o640)  # root-owned, group 0 (the container's group) may read: postgres' rule
    password, admin = new_password(), new_password()
    server = sandbox.run(
        "postgresql",
        name="tls-db",
        env={"POSTGRES_ADMIN_PASSWORD": admin, "POSTGRES_PASSWORD": password},
        command=["run-postgresql", "-c", "ssl=on", "-c", f"ssl_cert_file={TLS_DIR}/server.crt",
                 "-c", f"ssl_key_file={TLS_DIR}/server.key", "-c", f"hba_file={TLS_DIR}/pg_hba.conf"],
        volumes={sandbox.volume("tls-pgdata"): POSTGRES_DATA, str(tls): TLS_DIR},
        read_only_mounts=[TLS_DIR],
        tmpfs=POSTGRES_TMPFS,
        networking_config={
            sandbox.network: sandbox.client.api.create_endpoint_config(aliases=[DB_HOST, OTHER_NAME])
        },
    )  # fmt: skip
    wait_for_postgres(server)
    # The Prefect server's database, owned by the external role as the chart expects (prefectDatabase).
    host, port = server.address(5432)
    conn = psycopg2.connect(host=host, port=port, user="postgres", password=admin, dbname="postgres",
                            sslmode="require", connect_timeout=10)  # fmt: skip
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE prefect OWNER mlflow")
    conn.close()
    db = mount_folder(mount_root, "db-password", {"password": password})
    # The same Secret key, mounted a second time where the chart puts the Prefect role's password.
    prefect_db = mount_folder(mount_root, "prefect-db-password", {"password": password})
    right = mount_folder(mount_root, "db-ca", {"ca.crt": ca.pem})
    wrong = mount_folder(mount_root, "db-wrong-ca", {"ca.crt": wrong_ca.pem})
    return TLSDatabase(
        server,
        password,
        admin,
        {str(db): f"{SECRETS}/db", str(prefect_db): f"{SECRETS}/prefect-db", str(right): f"{SECRETS}/db-ca"},
        {str(db): f"{SECRETS}/db", str(prefect_db): f"{SECRETS}/prefect-db", str(wrong): f"{SECRETS}/db-ca"},
    )


def run_once(
    sandbox: Sandbox, image: str, name: str, container: dict, mounts: dict[str, str], **env: str
) -> tuple[int, str]:
    """The chart's container spec (command, args, env) run to completion with its secret files."""
    job = sandbox.run(
        image,
        name=name,
        entrypoint=container["command"],
        command=container.get("args", []),
        env={**env_of(container), **env},
        volumes=mounts,
        read_only_mounts=mounts.values(),
        tmpfs={**TMPFS, "/backups": "size=64m"},
    )
    code = job.wait_for_exit(timeout=180)
    logs = job.logs()
    job.remove()
    return code, logs


def test_the_chart_renders_verify_full_for_every_database_client() -> None:
    for name, container in chart_containers().items():
        env = env_of(container)
        assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", f"{SECRETS}/db-ca/ca.crt"), name
        assert {"name": "db-ca", "mountPath": f"{SECRETS}/db-ca", "readOnly": True} in container[
            "volumeMounts"
        ]


def test_a_client_without_tls_is_rejected_by_the_server(database: TLSDatabase) -> None:
    host, port = database.server.address(5432)
    with pytest.raises(
        psycopg2.OperationalError, match=r"pg_hba.conf rejects connection for host .*, no encryption"
    ):
        psycopg2.connect(host=host, port=port, user="mlflow", password=database.password, dbname="mlflow",
                         sslmode="disable", connect_timeout=5)  # fmt: skip


def test_migration_and_server_connect_with_verify_full(sandbox: Sandbox, database: TLSDatabase) -> None:
    clients = chart_containers()
    code, logs = run_once(sandbox, "mlflow", "tls-migrate", clients["db-upgrade"], database.mounts)
    assert code == 0, logs
    assert "mlflow-entrypoint: databases are at the current schema" in logs

    server_env = {
        **env_of(clients["server"]),
        "MLFLOW_AUTH_ADMIN_PASSWORD": new_password(),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": new_password(),
        "MLFLOW_ALLOWED_HOSTS": "*",
    }
    for name in ("MLFLOW_AUTH_ADMIN_PASSWORD_FILE", "MLFLOW_FLASK_SERVER_SECRET_KEY_FILE"):
        server_env.pop(name)
    server = sandbox.run(
        "mlflow", name="tls-mlflow", env=server_env, volumes=database.mounts,
        read_only_mounts=database.mounts.values(), tmpfs=TMPFS,
    )  # fmt: skip
    server.wait_for_http(5000, "/health", timeout=300)
    # Both stores (tracking and basic-auth) hold open TLS connections of the application role.
    host, port = database.server.address(5432)
    admin = {"user": "postgres", "password": database.admin_password, "dbname": "postgres"}
    with psycopg2.connect(host=host, port=port, sslmode="require", **admin) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT a.datname, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.usename = 'mlflow' ORDER BY 1"
        )
        assert cur.fetchall() == [("mlflow", True), ("mlflow_auth", True)]
    server.remove()


def test_the_pre_upgrade_dump_connects_with_verify_full(sandbox: Sandbox, database: TLSDatabase) -> None:
    code, logs = run_once(sandbox, "postgresql", "tls-dump", chart_containers()["pg-dump"], database.mounts)
    assert code == 0, logs
    assert "dumped mlflow to /backups/mlflow-pre-upgrade-" in logs
    assert "dumped mlflow_auth to /backups/mlflow_auth-pre-upgrade-" in logs
    assert "dumped prefect to /backups/prefect-pre-upgrade-" in logs


def test_a_wrong_ca_is_refused_with_the_reason(sandbox: Sandbox, database: TLSDatabase) -> None:
    clients = chart_containers()
    code, logs = run_once(sandbox, "mlflow", "tls-wrong-ca", clients["db-upgrade"], database.wrong_ca_mounts)
    assert code != 0
    assert "certificate verify failed" in logs, logs
    code, logs = run_once(
        sandbox, "postgresql", "tls-dump-wrong-ca", clients["pg-dump"], database.wrong_ca_mounts
    )
    assert code != 0
    assert "certificate verify failed" in logs, logs


def test_a_host_name_not_in_the_certificate_is_refused(sandbox: Sandbox, database: TLSDatabase) -> None:
    container = chart_containers(OTHER_NAME)["db-upgrade"]
    code, logs = run_once(sandbox, "mlflow", "tls-wrong-name", container, database.mounts)
    assert code != 0
    assert f'server certificate for "{DB_HOST}" does not match host name "{OTHER_NAME}"' in logs, logs

"""`helm rollback` across a schema migration: the older MLflow image refuses a newer database schema.

A newer MLflow leaves a revision in `alembic_version` (tracking) or `alembic_version_auth` (basic-auth)
that this image's migration scripts do not contain; that is what the test writes, then it starts the
server and the migration command of this image on it. Both must stop before touching anything, naming
the pre-upgrade dumps and the restore procedure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.images.test_mlflow import MLflowStack, start_stack
from tests.support.containers import RestrictedContainer, Sandbox

pytestmark = pytest.mark.images

NEWER = "0123456789ab"  # a revision id no MLflow migration of this image has


@pytest.fixture(scope="module")
def stack(sandbox: Sandbox, mount_root: Path) -> MLflowStack:
    started = start_stack(sandbox, mount_root)
    started.server.stop()  # as a rollback's Deployment would replace it: the database stays
    return started


def _postgres(stack: MLflowStack) -> RestrictedContainer:
    return next(c for c in stack.sandbox.containers if c.name.endswith("postgresql"))


def _sql(stack: MLflowStack, database: str, statement: str) -> str:
    code, out = _postgres(stack).container.exec_run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "mlflow",
            "-d",
            database,
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            statement,
        ],
        environment={"PGPASSWORD": stack.db_password},
    )
    assert code == 0, out.decode()
    return out.decode().strip()


def _revision(stack: MLflowStack, database: str, table: str) -> str:
    return _sql(stack, database, f"SELECT version_num FROM {table}")  # noqa: S608 (table: one of CASES)


def _set_revision(stack: MLflowStack, database: str, table: str, revision: str) -> None:
    _sql(stack, database, f"UPDATE {table} SET version_num = '{revision}'")  # noqa: S608 (test constants)


@pytest.fixture
def newer_schema(stack: MLflowStack, request: pytest.FixtureRequest):
    database, table = request.param
    before = _revision(stack, database, table)
    _set_revision(stack, database, table, NEWER)
    yield database, table
    _set_revision(stack, database, table, before)


CASES = [("mlflow", "alembic_version"), ("mlflow_auth", "alembic_version_auth")]
LABELS = {"mlflow": "tracking", "mlflow_auth": "auth"}


@pytest.mark.parametrize("newer_schema", CASES, indirect=True, ids=["tracking", "auth"])
@pytest.mark.parametrize("command", [["server"], ["db-upgrade"]], ids=["server", "db-upgrade"])
def test_an_older_mlflow_refuses_a_newer_schema(stack, newer_schema, command):
    database, table = newer_schema
    code, logs = stack.run_once(f"guard-{command[0]}-{database}", command)
    assert code == 3, logs
    refusal = next(line for line in logs.splitlines() if line.startswith("schema guard: "))
    assert refusal.startswith(
        f"schema guard: the {LABELS[database]} database is at schema revision {NEWER}, which MLflow "
    )
    assert "does not know: this MLflow is older than the database (a `helm rollback`" in refusal
    assert "/backups/<database>-pre-upgrade-<time>.dump" in refusal
    assert "starting MLflow" not in logs
    assert "upgrading the tracking database" not in logs
    # Nothing was migrated or stamped: the newer revision is still there.
    assert _revision(stack, database, table) == NEWER


def test_the_current_schema_passes_and_the_server_starts_again(stack):
    stack.server.start()
    stack.server.wait_for_http(5000, "/health", timeout=300)
    assert "schema guard" not in stack.server.logs()

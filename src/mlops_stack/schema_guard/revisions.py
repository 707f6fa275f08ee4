"""Which Alembic revision a database is at, and whether this image's MLflow knows it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory


@dataclass(frozen=True)
class SchemaStore:
    """One of MLflow's databases: its Alembic scripts in this image, and the table holding its revision."""

    label: str
    scripts: Path
    version_table: str


def mlflow_stores() -> dict[str, SchemaStore]:
    import mlflow.server.auth.db.utils as auth_db
    import mlflow.store.db.utils as tracking_db

    tracking_scripts = Path(tracking_db.__file__).resolve().parents[1] / "db_migrations"
    return {
        "tracking": SchemaStore("tracking", tracking_scripts, "alembic_version"),
        # MLflow's basic-auth migrations keep their revision in a table of their own (their env.py).
        "auth": SchemaStore("auth", Path(auth_db._get_alembic_dir()), "alembic_version_auth"),
    }


def current_revisions(url: str, version_table: str) -> list[str]:
    """The revisions recorded in `version_table`; empty for a database MLflow has not created yet."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": version_table})
            return list(context.get_current_heads())
    finally:
        engine.dispose()


def known_revisions(scripts: Path) -> set[str]:
    directory = ScriptDirectory(str(scripts))
    return {script.revision for script in directory.walk_revisions()}


def unknown_revisions(url: str, store: SchemaStore) -> list[str]:
    """Revisions of the database that this image's MLflow has no migration for (written by a newer one)."""
    known = known_revisions(store.scripts)
    return [r for r in current_revisions(url, store.version_table) if r not in known]

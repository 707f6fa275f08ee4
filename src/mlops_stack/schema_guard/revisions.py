"""Which Alembic revision a database is at, and whether this image's MLflow knows it."""

from __future__ import annotations

import importlib.util
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
    """Found as files of the installed package: importing mlflow.server would start its app's imports
    (seconds, and library warnings in the server's log) only to learn two directory names."""
    package = Path(importlib.util.find_spec("mlflow").origin).parent
    return {
        "tracking": SchemaStore("tracking", package / "store" / "db_migrations", "alembic_version"),
        # MLflow's basic-auth migrations keep their revision in a table of their own (their env.py).
        "auth": SchemaStore(
            "auth", package / "server" / "auth" / "db" / "migrations", "alembic_version_auth"
        ),
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

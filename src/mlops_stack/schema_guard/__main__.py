"""`python -m mlops_stack.schema_guard`: exit 0 when this MLflow knows both databases' schema, else exit
3 with what happened and the restore procedure (called by `mlflow-entrypoint server` and `db-upgrade`).

The database URLs come from the environment (SCHEMA_GUARD_TRACKING_URI, SCHEMA_GUARD_AUTH_URI, the
latter empty without basic-auth), never from the command line, where `ps` would show the password.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version

import sqlalchemy.exc

from .revisions import mlflow_stores, unknown_revisions

REFUSED = 3
RESTORE = (
    "this MLflow is older than the database (a `helm rollback` across a schema migration?). "
    "Nothing was changed and the server does not start on a schema it does not know. Either go forward "
    "again (`helm upgrade` to the release that migrated it), or restore the databases to the pre-upgrade "
    "dumps taken just before that migration (/backups/<database>-pre-upgrade-<time>.dump on the backup "
    "volume, the newest one older than the upgrade) with the chart README's restore procedure "
    '("Backups": stop MLflow, pg_restore --clean both databases, start MLflow)'
)


def main() -> int:
    stores = mlflow_stores()
    urls = {
        "tracking": os.environ["SCHEMA_GUARD_TRACKING_URI"],
        "auth": os.environ.get("SCHEMA_GUARD_AUTH_URI"),
    }
    problems = []
    for name, url in urls.items():
        try:
            unknown = unknown_revisions(url, stores[name]) if url else []
        except sqlalchemy.exc.SQLAlchemyError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(
                f"schema guard: cannot read the {name} database's schema revision ({first})", file=sys.stderr
            )
            return 1
        if unknown:
            problems.append(f"the {name} database is at schema revision {', '.join(unknown)}")
    if not problems:
        return 0
    print(
        f"schema guard: {' and '.join(problems)}, which MLflow {version('mlflow')} in this image does not "
        f"know: {RESTORE}",
        file=sys.stderr,
    )
    return REFUSED


if __name__ == "__main__":
    sys.exit(main())

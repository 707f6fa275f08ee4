"""`mlflow gc` against the tracking database with proxied artifacts deleted on the store itself.

The environment is the MLflow server's (set by `mlflow-entrypoint gc`): MLFLOW_BACKEND_STORE_URI (the
tracking database; never in argv, where `ps` would show its password) and MLFLOW_ARTIFACTS_DESTINATION
(e.g. the sftp:// store, reached with the server's key and known_hosts). Other arguments go to `mlflow gc`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from mlops_stack.gc.proxied_artifacts import resolve_to

REQUIRED = {
    "MLFLOW_BACKEND_STORE_URI": "the tracking database URI (mlflow-entrypoint gc makes it from MLFLOW_DB_*)",
    "MLFLOW_ARTIFACTS_DESTINATION": "the server's --artifacts-destination, e.g. sftp://mlops@sftp:2222/data",
}


def main(argv: Sequence[str] | None = None) -> None:
    """Exits with mlflow gc's status (click's standalone mode prints its errors)."""
    missing = [f"{name} is not set: {why}" for name, why in REQUIRED.items() if not os.environ.get(name)]
    if missing:
        sys.exit("mlops_stack.gc: " + "\n".join(missing))
    from mlflow.cli import gc

    resolve_to(os.environ["MLFLOW_ARTIFACTS_DESTINATION"])
    backend = os.environ["MLFLOW_BACKEND_STORE_URI"]
    # gc insists on a tracking URI; the database is the tracking store here.
    os.environ.setdefault("MLFLOW_TRACKING_URI", backend)
    gc.main(
        [*(sys.argv[1:] if argv is None else argv), "--backend-store-uri", backend], prog_name="mlflow gc"
    )


if __name__ == "__main__":
    main()

"""Point MLflow at the team's tracking server, as `mlops init` configured it on this machine.

`tracked_run` does this by itself; scripts that use MLflow without a run (registering, loading models)
call `use_team_server()` first. MLFLOW_TRACKING_URI, when set, wins (CI jobs set it with `mlops env`).
"""

import os

import mlflow

from mlops_stack.cli.config import load_config


def use_team_server() -> str:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        settings = load_config()
        if settings is None:
            raise SystemExit("no tracking server configured: run `mlops init` first")
        mlflow.set_tracking_uri(settings.tracking_uri)
    return mlflow.get_tracking_uri()

"""Point MLflow at the team's tracking server, as `mlops init` configured it on this machine.

`tracked_run` does this by itself; scripts that use MLflow without a run (registering, loading models)
call `use_team_server()` first. The URI follows the one rule of `mlops_stack.client.config.tracking_uri`
(MLFLOW_TRACKING_URI when set, as CI jobs do with `mlops env`, else the one `mlops init` saved).
"""

import mlflow

from mlops_stack.client.config import tracking_uri


def use_team_server() -> str:
    uri = tracking_uri()
    if uri is None:
        raise SystemExit("no tracking server configured: run `mlops init` first")
    mlflow.set_tracking_uri(uri)
    return mlflow.get_tracking_uri()

"""The MLflow server apps the mlflow image runs: request threads bounded to what the database pools give.

MLflow serves its Flask API from a thread pool, 40 threads per worker by default, and a request can hold
two connections of one SQLAlchemy engine at once (`log_batch` opens a second session inside its first).
With the chart's small pools (mlflow.databasePool) 40 threads deadlock: every connection is held by a
request that waits for a second one, until SQLAlchemy's 30 s pool timeout fails them all. Bounding the
threads to half the pool (MLOPS_REQUEST_THREADS, set by the chart and checked by _validation.tpl) keeps a
second connection free for every request in flight; the others wait for a thread, not for a connection.

Both apps also take folders of artifacts as archives (mlops_stack.artifact_archives).

`mlops-server` is MLflow's own FastAPI app (no auth) served so; `mlops-basic-auth`
(mlops_stack.mlflow_auth) is served the same way.
"""

from mlops_stack.artifact_archives import server_routes
from mlops_stack.mlflow_server.request_threads import RequestThreads, bounded


def served(app):
    """MLflow's FastAPI `app` as the image serves it: archive routes added, request threads bounded."""
    server_routes.install(app)
    return bounded(app)


def create_app():
    from mlflow.server.fastapi_app import app

    return served(app)


__all__ = ["RequestThreads", "bounded", "create_app", "served"]

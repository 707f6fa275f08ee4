"""The MLflow server apps the mlflow image runs: request threads bounded to what the database pools give.

MLflow serves its Flask API from a thread pool, 40 threads per worker by default, and a request can hold
two connections of one SQLAlchemy engine at once (`log_batch` opens a second session inside its first).
With the chart's small pools (mlflow.databasePool) 40 threads deadlock: every connection is held by a
request that waits for a second one, until SQLAlchemy's 30 s pool timeout fails them all. Bounding the
threads to half the pool (MLOPS_REQUEST_THREADS, set by the chart and checked by _validation.tpl) keeps a
second connection free for every request in flight; the others wait for a thread, not for a connection.

`mlops-server` is MLflow's own FastAPI app (no auth) under that bound; `mlops-basic-auth`
(mlops_stack.mlflow_auth) applies it too.
"""

from mlops_stack.mlflow_server.request_threads import RequestThreads, bounded


def create_app():
    from mlflow.server.fastapi_app import app

    return bounded(app)


__all__ = ["RequestThreads", "bounded", "create_app"]

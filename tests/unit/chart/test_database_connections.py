"""The MLflow pods' database pools and PostgreSQL's max_connections come from values and are checked
against each other (the refusals themselves are in test_invalid_values.py)."""

from __future__ import annotations

import pytest

from .helm import CHART, NAMESPACE, HelmError, containers, env, find, render, run_helm


def test_pool_sizes_request_threads_and_max_connections_reach_the_containers() -> None:
    docs = render(
        set_values=[
            "mlflow.databasePool.size=4",
            "mlflow.databasePool.maxOverflow=3",
            "mlflow.requestThreads=3",
            "postgresql.maxConnections=300",
        ]
    )
    mlflow = env(containers(find(docs, "Deployment", "mlflow"))["mlflow"])
    assert (
        mlflow["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"],
        mlflow["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"],
        mlflow["MLOPS_REQUEST_THREADS"],
    ) == ("4", "3", "3")
    postgresql = containers(find(docs, "StatefulSet", "postgresql"))["postgresql"]
    assert postgresql["args"] == ["run-postgresql", "-c", "max_connections=300"]


@pytest.mark.parametrize(
    ("settings", "fits"),
    [
        # defaults: 2 pods while rolling x 2 workers x 3 engines x 4 = 48 of 150 - 20
        ([], True),
        # 4 replicas (5 while rolling): 120 of 130
        (["mlflow.replicas=4"], True),
        # 5 replicas (7 while rolling): 168 of 130
        (["mlflow.replicas=5"], False),
        # the same with room made in PostgreSQL
        (["mlflow.replicas=5", "postgresql.maxConnections=190"], True),
        # without basic-auth a worker has two engines: 7 x 2 x 2 x 4 = 112
        (["mlflow.replicas=5", "mlflow.auth.enabled=false", "prefect.worker.enabled=false"], True),
        # a bigger reserve (e.g. another application on the same server) leaves less: 48 of 150 - 110
        (["postgresql.reservedConnections=110"], False),
    ],
)
def test_the_connection_budget_is_the_peak_of_every_pool(settings: list[str], fits: bool) -> None:
    args = ["template", "t", str(CHART), "--namespace", NAMESPACE]
    for setting in settings:
        args += ["--set", setting]
    if fits:
        run_helm(args)
    else:
        with pytest.raises(HelmError, match=r"more than postgresql\.maxConnections"):
            run_helm(args)

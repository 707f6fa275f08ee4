"""The MLflow pods' database pools and PostgreSQL's max_connections come from values and are checked
against each other (the refusals themselves are in test_invalid_values.py)."""

from __future__ import annotations

import pytest

from .helm import CHART, NAMESPACE, HelmError, containers, env, find, render, run_helm


def test_pool_sizes_and_max_connections_reach_the_containers() -> None:
    docs = render(
        set_values=[
            "mlflow.databasePool.size=4",
            "mlflow.databasePool.maxOverflow=3",
            "postgresql.maxConnections=300",
        ]
    )
    mlflow = env(containers(find(docs, "Deployment", "mlflow"))["mlflow"])
    assert (mlflow["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"], mlflow["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"]) == (
        "4",
        "3",
    )
    postgresql = containers(find(docs, "StatefulSet", "postgresql"))["postgresql"]
    assert postgresql["args"] == ["run-postgresql", "-c", "max_connections=300"]


@pytest.mark.parametrize(
    ("settings", "fits"),
    [
        # defaults: 2 pods while rolling x 2 workers x 3 engines x 3 = 36 of 80
        ([], True),
        # 3 replicas (4 while rolling): 72 of 80
        (["mlflow.replicas=3"], True),
        # 4 replicas (5 while rolling): 90 of 80
        (["mlflow.replicas=4"], False),
        # the same with room made in PostgreSQL
        (["mlflow.replicas=4", "postgresql.maxConnections=120"], True),
        # without basic-auth a worker has two engines: 5 x 2 x 2 x 3 = 60
        (["mlflow.replicas=4", "mlflow.auth.enabled=false", "prefect.worker.enabled=false"], True),
        # a bigger reserve (e.g. Prefect on the same server) leaves less: 36 of 100 - 70
        (["postgresql.reservedConnections=70"], False),
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

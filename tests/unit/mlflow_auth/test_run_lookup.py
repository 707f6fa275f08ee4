"""A run's permission check reads the run's experiment once per server process (MLflow 3.17.2's tracking
store on sqlite); the handler still gets MLflow's whole run."""

from __future__ import annotations

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from tests.support.sql_queries import selects_sent

from mlops_stack.mlflow_auth import run_lookup


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SqlAlchemyStore:
    root = tmp_path_factory.mktemp("tracking")
    return SqlAlchemyStore(f"sqlite:///{root}/mlflow.db", str(root / "artifacts"))


def in_permission_check(get_run, run_id: str):
    token = run_lookup._in_permission_check.set(True)
    try:
        return get_run(run_id)
    finally:
        run_lookup._in_permission_check.reset(token)


def new_run(store: SqlAlchemyStore, experiment: str) -> tuple[str, str]:
    experiment_id = store.create_experiment(experiment)
    run = store.create_run(experiment_id, "someone", 0, [], "run")
    store.log_metric(run.info.run_id, Metric("loss", 0.5, 1, 0))
    return experiment_id, run.info.run_id


def test_the_experiment_of_a_run_is_read_once(store: SqlAlchemyStore) -> None:
    experiment_id, run_id = new_run(store, "once")
    get_run = run_lookup.light_get_run(store, store.get_run)
    seen = selects_sent(store.engine)
    assert in_permission_check(get_run, run_id).info.experiment_id == experiment_id
    assert len(seen) == 1
    for _ in range(3):
        assert in_permission_check(get_run, run_id).info.experiment_id == experiment_id
    assert len(seen) == 1


def test_outside_the_check_the_handler_gets_mlflows_whole_run(store: SqlAlchemyStore) -> None:
    _, run_id = new_run(store, "whole")
    get_run = run_lookup.light_get_run(store, store.get_run)
    in_permission_check(get_run, run_id)
    assert get_run(run_id).data.metrics == {"loss": 0.5}


def test_a_run_not_found_is_not_remembered(store: SqlAlchemyStore) -> None:
    get_run = run_lookup.light_get_run(store, store.get_run)
    seen = selects_sent(store.engine)
    for attempt in (1, 2):
        with pytest.raises(MlflowException, match="not found") as missing:
            in_permission_check(get_run, "0" * 32)
        assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert len(seen) == attempt


def test_with_workspaces_on_every_check_reads_the_run(store: SqlAlchemyStore, monkeypatch) -> None:
    experiment_id, run_id = new_run(store, "workspaces")
    get_run = run_lookup.light_get_run(store, store.get_run)
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    seen = selects_sent(store.engine)
    for attempt in (1, 2):
        assert in_permission_check(get_run, run_id).info.experiment_id == experiment_id
        assert len(seen) == attempt

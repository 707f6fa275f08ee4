"""The wrapper's contract with MLflow's basic-auth store: an MLflow whose store changed shape fails here."""

import pytest
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

from mlops_stack.mlflow_auth import store_wrapper


def test_the_installed_mlflow_has_the_store_the_wrapper_was_written_for() -> None:
    store_wrapper.check_signatures(SqlAlchemyStore())


def test_a_store_of_another_shape_is_refused_by_name() -> None:
    class ChangedStore(SqlAlchemyStore):
        def authenticate_user(self, username: str, password: str, realm: str) -> bool:  # type: ignore[override]
            return False

    with pytest.raises(store_wrapper.UnsupportedMLflowAuthStore) as refused:
        store_wrapper.install(ChangedStore())
    message = str(refused.value)
    assert (
        "mlflow.server.auth.store.authenticate_user is (username: str, password: str, realm: str) -> bool"
        in message
    )
    assert "images/mlflow/requirements.lock" in message


def test_installing_twice_wraps_once() -> None:
    store = SqlAlchemyStore()
    first = store_wrapper.install(store)
    wrapped = store.get_user
    assert store_wrapper.install(store) is first
    assert store.get_user is wrapped


def test_the_installed_mlflow_has_the_run_check_the_run_lookup_was_written_for() -> None:
    import inspect

    import mlflow.server.auth as basic_auth

    from mlops_stack.mlflow_auth import run_lookup

    assert str(inspect.signature(basic_auth._run_requirement)) == run_lookup.EXPECTED_SIGNATURE

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


def test_every_store_method_is_known_as_a_read_or_a_change() -> None:
    """A change of users, roles or grants made by a request clears what the request has read
    (store_wrapper.WRITE_PREFIXES); a method of a new kind in another MLflow must be classified here."""
    reads = ("get_", "list_", "has_", "is_", "user_has_", "authenticate_user", "init_db")
    store = SqlAlchemyStore()
    public = [name for name in dir(store) if not name.startswith("_") and callable(getattr(store, name))]
    unknown = [name for name in public if not name.startswith(reads + store_wrapper.WRITE_PREFIXES)]
    assert unknown == []
    assert {"create_user", "grant_user_resource_permission", "unassign_role_from_user"} <= set(
        store_wrapper.writers(store)
    )


def test_the_installed_mlflow_has_the_run_redaction_the_wrapper_was_written_for() -> None:
    import inspect

    import mlflow.server.auth as basic_auth

    from mlops_stack.mlflow_auth import run_redaction

    assert str(inspect.signature(basic_auth._redact_run_response)) == run_redaction.EXPECTED_SIGNATURE


def test_the_installed_mlflow_authenticates_fastapi_requests_as_the_app_expects() -> None:
    import inspect

    import mlflow.server.auth as basic_auth

    from mlops_stack.mlflow_auth import app

    found = str(inspect.signature(basic_auth._authenticate_fastapi_request))
    assert found == app.FASTAPI_AUTHENTICATION_SIGNATURE


def test_a_changed_mlflow_function_is_refused_by_name() -> None:
    import types

    from mlops_stack.mlflow_auth import run_lookup

    changed = types.ModuleType("mlflow.server.auth")
    changed._run_requirement = lambda run_id, action, workspace: None
    with pytest.raises(store_wrapper.UnsupportedMLflowAuthStore) as refused:
        run_lookup.install(changed)
    assert str(refused.value).startswith(
        "mlflow.server.auth._run_requirement is (run_id, action, workspace), mlops_stack.mlflow_auth was"
        " written for (run_id: 'str', action: 'str')"
    )
    assert "adapt src/mlops_stack/mlflow_auth/run_lookup.py" in str(refused.value)

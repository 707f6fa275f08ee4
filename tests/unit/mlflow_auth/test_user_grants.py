"""A request reads its user and the user's grants in one query, and answers MLflow's `list_grants` as
MLflow's own query does (MLflow 3.17.2's store on sqlite)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from mlflow.exceptions import MlflowException
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
from tests.support.sql_queries import selects_sent

from mlops_stack.mlflow_auth import request_users, store_wrapper

TYPES = ("experiment", "registered_model", "scorer", "workspace")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqlAlchemyStore, SqlAlchemyStore]:
    """(MLflow's store, the same database through the wrapped store), with users holding roles in two
    workspaces, one user without any role."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('auth')}/auth.db"
    mlflow_store, wrapped = SqlAlchemyStore(), SqlAlchemyStore()
    mlflow_store.init_db(uri)
    wrapped.init_db(uri)
    store_wrapper.install(wrapped)
    alice = mlflow_store.create_user("alice", "a-long-password-1")
    bob = mlflow_store.create_user("bob", "a-long-password-2")
    mlflow_store.create_user("carol", "a-long-password-3")
    readers = mlflow_store.create_role("readers", "default")
    editors = mlflow_store.create_role("editors", "default")
    elsewhere = mlflow_store.create_role("team-b", "team-b")
    mlflow_store.add_role_permission(readers.id, "experiment", "*", "READ")
    mlflow_store.add_role_permission(editors.id, "experiment", "7", "EDIT")
    mlflow_store.add_role_permission(editors.id, "registered_model", "*", "EDIT")
    mlflow_store.add_role_permission(elsewhere.id, "workspace", "*", "MANAGE")
    for user, role in [(alice, readers), (alice, editors), (alice, elsewhere), (bob, readers)]:
        mlflow_store.assign_role_to_user(user.id, role.id)
    return mlflow_store, wrapped


@pytest.fixture
def request_scope() -> Iterator[None]:
    with request_users.fastapi_scope():
        yield


@pytest.mark.parametrize("username", ["alice", "bob", "carol"])
def test_grants_are_the_ones_mlflow_reads(stores, request_scope, username: str) -> None:
    mlflow_store, wrapped = stores
    user_id = mlflow_store.get_user(username).id
    assert wrapped.get_user(username).id == user_id
    for workspace, size in itertools.product(("default", "team-b", "nowhere"), (1, 2)):
        for types in itertools.combinations(TYPES, size):
            expected = mlflow_store.list_grants(user_id, workspace, types)
            assert sorted(wrapped.list_grants(user_id, workspace, types)) == sorted(expected)


def test_a_request_reads_its_user_and_grants_in_one_query(stores, request_scope) -> None:
    _, wrapped = stores
    seen = selects_sent(wrapped.engine)
    user = wrapped.get_user("alice")
    assert (user.username, user.is_admin) == ("alice", False)
    assert wrapped.list_grants(user.id, "default", {"experiment"})
    assert wrapped.get_user("alice").id == user.id
    wrapped.list_grants(user.id, "default", {"registered_model"})
    assert len(seen) == 1, seen


def test_a_change_made_by_the_request_is_seen_by_the_rest_of_it(stores, request_scope) -> None:
    mlflow_store, wrapped = stores
    user = wrapped.get_user("carol")
    assert wrapped.list_grants(user.id, "default", {"experiment"}) == []
    role = wrapped.create_role("carol's", "default")
    wrapped.add_role_permission(role.id, "experiment", "*", "EDIT")
    wrapped.assign_role_to_user(wrapped.get_user("carol").id, role.id)
    assert wrapped.list_grants(user.id, "default", {"experiment"}) == mlflow_store.list_grants(
        user.id, "default", {"experiment"}
    )
    assert len(wrapped.list_grants(user.id, "default", {"experiment"})) == 1


def test_outside_a_request_every_call_reads_the_database(stores) -> None:
    _, wrapped = stores
    seen = selects_sent(wrapped.engine)
    user = wrapped.get_user("bob")
    wrapped.list_grants(user.id, "default", {"experiment"})
    assert len(seen) == 2


def test_a_missing_user_and_a_bad_resource_type_get_mlflows_errors(stores, request_scope) -> None:
    mlflow_store, wrapped = stores
    with pytest.raises(MlflowException) as ours:
        wrapped.get_user("mallory")
    with pytest.raises(MlflowException) as theirs:
        mlflow_store.get_user("mallory")
    assert (ours.value.error_code, ours.value.message) == (theirs.value.error_code, theirs.value.message)
    user_id = wrapped.get_user("bob").id
    with pytest.raises(MlflowException, match="Invalid resource type 'runz'"):
        wrapped.list_grants(user_id, "default", {"runz"})

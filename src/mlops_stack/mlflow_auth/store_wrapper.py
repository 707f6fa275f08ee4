"""Wraps the user and grant reads of MLflow's basic-auth store (`mlflow.server.auth.store`) in place.

Written for MLflow 3.17.2 (the version images/mlflow/requirements.lock pins). `install` compares the
wrapped methods' signatures with the ones this code was written for and refuses to start on any other
shape, so an MLflow upgrade that changes them fails the tests (tests/unit/mlflow_auth) and the server's
start instead of silently losing a check.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os

from mlflow.exceptions import MlflowException

from mlops_stack.mlflow_auth import request_users, user_grants
from mlops_stack.mlflow_auth.verified_credentials import VerifiedCredentials

# method -> its parameters in MLflow 3.17.2's SqlAlchemyStore (bound methods: no `self`).
EXPECTED_SIGNATURES = {
    "authenticate_user": "(username: str, password: str, *, use_primary: bool = False) -> bool",
    "get_user": "(username: str) -> mlflow.server.auth.entities.User",
    "create_user": "(username: str, password: str, is_admin: bool = False)"
    " -> mlflow.server.auth.entities.User",
    "update_user": "(username: str, password: str | None = None, is_admin: bool | None = None)"
    " -> mlflow.server.auth.entities.User",
    "delete_user": "(username: str)",
    "list_grants": "(user_id: int, workspace: str, resource_types: 'Collection[str]')"
    " -> list['RoleGrantRow']",
}
# Store methods that change users, roles or grants, by MLflow's naming (checked against the store in the
# tests): after one, the rest of the request reads them again.
WRITE_PREFIXES = ("create_", "update_", "delete_", "grant_", "revoke_", "rename_", "set_", "add_",
                  "remove_", "assign_", "unassign_")  # fmt: skip
_INSTALLED = "_mlops_stack_wrapped"
_logger = logging.getLogger(__name__)


class UnsupportedMLflowAuthStore(RuntimeError):
    pass


def check_signatures(store: object) -> None:
    for name, expected in EXPECTED_SIGNATURES.items():
        method = getattr(store, name, None)
        found = "missing" if method is None else str(inspect.signature(method))
        if found != expected:
            raise UnsupportedMLflowAuthStore(
                f"mlflow.server.auth.store.{name} is {found}, mlops_stack.mlflow_auth was written for"
                f" {expected} (MLflow 3.17.2): use the MLflow version of images/mlflow/requirements.lock,"
                " or adapt src/mlops_stack/mlflow_auth/store_wrapper.py and run tests/unit/mlflow_auth"
            )


def replace_function(module, name: str, expected: str, wrap) -> None:
    """Replace `module.<name>` by `wrap(original)` once, after checking that its signature is `expected`
    (MLflow 3.17.2's). For the functions of `mlflow.server.auth` that their callers look up by name at
    each call."""
    original = getattr(module, name)
    if getattr(original, _INSTALLED, False):
        return
    found = str(inspect.signature(original))
    if found != expected:
        raise UnsupportedMLflowAuthStore(
            f"{module.__name__}.{name} is {found}, mlops_stack.mlflow_auth was written for {expected}"
            f" (MLflow 3.17.2): use the MLflow version of images/mlflow/requirements.lock, or adapt"
            f" src/{wrap.__module__.replace('.', '/')}.py and run tests/unit/mlflow_auth"
        )
    wrapped = wrap(original)
    setattr(wrapped, _INSTALLED, True)
    setattr(module, name, wrapped)


def install(store: object, credentials: VerifiedCredentials | None = None) -> VerifiedCredentials:
    """Wrap `store`'s user methods (once); returns the process's credential record."""
    if getattr(store, _INSTALLED, None) is not None:
        return getattr(store, _INSTALLED)
    check_signatures(store)
    credentials = credentials or VerifiedCredentials()
    read_user = store.get_user
    read_grants = store.list_grants
    authenticate_from_primary = store.authenticate_user

    @functools.wraps(read_user)
    def get_user(username: str):
        return request_users.lookup(username, functools.partial(user_grants.read, store)).user

    @functools.wraps(read_grants)
    def list_grants(user_id: int, workspace: str, resource_types) -> list:
        known = request_users.known(user_id)
        if known is None:
            return read_grants(user_id, workspace, resource_types)
        return known.in_workspace(workspace, resource_types)

    @functools.wraps(authenticate_from_primary)
    def authenticate_user(username: str, password: str, *, use_primary: bool = False) -> bool:
        if use_primary:
            # Only the admin bootstrap asks the primary (replication lag): rare, keep MLflow's own path.
            return authenticate_from_primary(username, password, use_primary=True)
        try:
            user = get_user(username)
        except MlflowException:
            _logger.warning("refused user %r: no such user (pid %d)", username, os.getpid())
            return False
        return credentials.verify(user.username, user.password_hash, password)

    store.get_user = get_user
    store.list_grants = list_grants
    store.authenticate_user = authenticate_user
    for name in writers(store):
        setattr(store, name, _forgetting(getattr(store, name)))
    setattr(store, _INSTALLED, credentials)
    return credentials


def writers(store: object) -> list[str]:
    return [name for name in dir(store) if name.startswith(WRITE_PREFIXES) and callable(getattr(store, name))]


def _forgetting(change):
    """A change made by this very request (a password, an admin flag, a role, a grant) is seen by the rest
    of it."""

    @functools.wraps(change)
    def changed(*args, **kwargs):
        try:
            return change(*args, **kwargs)
        finally:
            request_users.forget_all()

    return changed

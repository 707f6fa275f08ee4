"""Wraps the user methods of MLflow's basic-auth store (`mlflow.server.auth.store`) in place.

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

from mlops_stack.mlflow_auth import request_users
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
}
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


def install(store: object, credentials: VerifiedCredentials | None = None) -> VerifiedCredentials:
    """Wrap `store`'s user methods (once); returns the process's credential record."""
    if getattr(store, _INSTALLED, None) is not None:
        return getattr(store, _INSTALLED)
    check_signatures(store)
    credentials = credentials or VerifiedCredentials()
    read_user = store.get_user
    authenticate_from_primary = store.authenticate_user

    @functools.wraps(read_user)
    def get_user(username: str):
        return request_users.lookup(username, read_user)

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
    store.authenticate_user = authenticate_user
    for name in ("create_user", "update_user", "delete_user"):
        setattr(store, name, _forgetting(getattr(store, name)))
    setattr(store, _INSTALLED, credentials)
    return credentials


def _forgetting(change):
    """A user change made by this very request is seen by the rest of it."""

    @functools.wraps(change)
    def changed(username: str, *args, **kwargs):
        try:
            return change(username, *args, **kwargs)
        finally:
            request_users.forget(username)

    return changed

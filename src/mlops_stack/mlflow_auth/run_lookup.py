"""A non-admin's run permission check reads the run's experiment id, not the whole run.

MLflow's `_run_requirement` (the validator of every run-scoped request: log_metric, log_batch, set_tag,
...) calls the tracking store's `get_run`, which loads the run with its latest metrics, params, tags,
inputs and model inputs/outputs (eight queries on PostgreSQL) only to read `run.info.experiment_id`.
While `_run_requirement` runs, `get_run` of the server's tracking store answers from one query of the
run row through the store's own `_get_run` (same workspace filter, same "not found" error). Everywhere
else, including the request's handler, `get_run` is MLflow's.

A run's experiment is fixed at its creation (MLflow has no call that moves a run), so each server process
keeps the last RUNS_REMEMBERED answers: a training loop's next `log_metric` needs no query for it. Only
the run's experiment is kept; the user's grants on that experiment are read on every request. A run
that is not found is not kept; a run removed for good (`mlflow gc`) while remembered is found in its old
experiment until the process forgets it, so a user who may write there gets MLflow's 404 from the handler
instead of a 403, and nobody gets more than that. With workspaces on (MLFLOW_ENABLE_WORKSPACES) the
answer also depends on the request's workspace, so every check reads the run row.
"""

from __future__ import annotations

import functools
import threading
from contextvars import ContextVar
from types import SimpleNamespace

from mlflow.environment_variables import MLFLOW_ENABLE_WORKSPACES

from mlops_stack.mlflow_auth import store_wrapper

# As inspect prints it (the module's annotations are strings).
_RETURNS = "'tuple[tuple[str, str], list[Requirement]] | None'"
EXPECTED_SIGNATURE = f"(run_id: 'str', action: 'str') -> {_RETURNS!r}"
_in_permission_check: ContextVar[bool] = ContextVar("mlops_stack_run_permission_check", default=False)
_install_lock = threading.Lock()
# About 100 bytes each: a few MB at most per worker, and more runs than a team writes to at once.
RUNS_REMEMBERED = 20_000


def light_get_run(store, full_get_run):
    """`get_run` that, inside a permission check, returns only the run's experiment id."""

    def experiment_of(run_id) -> str:
        with store.ManagedSessionMaker() as session:
            return str(store._get_run(session, run_uuid=run_id, eager=False).experiment_id)

    remembered_experiment_of = functools.lru_cache(maxsize=RUNS_REMEMBERED)(experiment_of)

    @functools.wraps(full_get_run)
    def get_run(run_id):
        if not _in_permission_check.get():
            return full_get_run(run_id)
        lookup = experiment_of if MLFLOW_ENABLE_WORKSPACES.get() else remembered_experiment_of
        return SimpleNamespace(info=SimpleNamespace(experiment_id=lookup(run_id)))

    get_run._mlops_stack_light = True
    return get_run


def _wrap_store_once(store) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # Only MLflow's own SQL store (not a subclass with other semantics, not a file store).
    if type(store) is not SqlAlchemyStore or getattr(store.get_run, "_mlops_stack_light", False):
        return
    with _install_lock:
        if not getattr(store.get_run, "_mlops_stack_light", False):
            store.get_run = light_get_run(store, store.get_run)


def install(basic_auth) -> None:
    """Run `basic_auth._run_requirement` inside the permission check's scope."""
    store_wrapper.replace_function(basic_auth, "_run_requirement", EXPECTED_SIGNATURE, _scoped)


def _scoped(original):
    @functools.wraps(original)
    def run_requirement(run_id, action):
        _wrap_store_once(_tracking_store())
        token = _in_permission_check.set(True)
        try:
            return original(run_id, action)
        finally:
            _in_permission_check.reset(token)

    return run_requirement


def _tracking_store():
    import mlflow.server.auth as basic_auth

    return basic_auth._get_tracking_store()

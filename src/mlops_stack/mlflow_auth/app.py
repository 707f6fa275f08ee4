"""The `mlops-basic-auth` server app: MLflow's basic-auth app with the user store wrapped.

`mlflow server --app-name mlops-basic-auth` imports this factory in every worker. MLflow's
`authorization_function` stays its default, so the UI keeps its logout and change-password controls
(`is_basic_auth`), and every request still goes through MLflow's `_before_request`.
"""

from __future__ import annotations

import functools
import logging
import sys

from mlops_stack.mlflow_auth import request_users, run_lookup, run_redaction, store_wrapper
from mlops_stack.mlflow_server import served


def create_app(app=None):
    import mlflow.server.auth as basic_auth
    from mlflow.server import app as tracking_app

    _log_to_stderr()
    store_wrapper.install(basic_auth.store)
    _scope_fastapi_authentication(basic_auth)
    run_lookup.install(basic_auth)
    run_redaction.install(basic_auth)
    return served(basic_auth.create_app(app or tracking_app))


# As inspect prints it (the module's annotations are strings).
FASTAPI_AUTHENTICATION_SIGNATURE = "(request: 'StarletteRequest') -> 'User | None'"


def _scope_fastapi_authentication(basic_auth) -> None:
    """The FastAPI-native routes (artifact upload/download) authenticate outside Flask: give that call
    its own request scope. The middleware looks the function up by name at each request."""
    store_wrapper.replace_function(
        basic_auth, "_authenticate_fastapi_request", FASTAPI_AUTHENTICATION_SIGNATURE, _in_request_scope
    )


def _in_request_scope(authenticate):
    @functools.wraps(authenticate)
    def scoped(request):
        with request_users.fastapi_scope():
            return authenticate(request)

    return scoped


def _log_to_stderr() -> None:
    """First checks and refusals, per worker, in the server log (uvicorn configures only its own)."""
    logger = logging.getLogger("mlops_stack.mlflow_auth")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

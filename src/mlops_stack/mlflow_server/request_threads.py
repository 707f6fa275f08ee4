"""An ASGI wrapper that sets the worker's thread limit (anyio's default limiter, which Starlette's WSGI
bridge and sync endpoints use) before the first request, from MLOPS_REQUEST_THREADS."""

from __future__ import annotations

import inspect
import os

VARIABLE = "MLOPS_REQUEST_THREADS"


class RequestThreads:
    def __init__(self, app, threads: int) -> None:
        self.app = app
        self.threads = threads
        self._applied = False

    async def __call__(self, scope, receive, send) -> None:
        if not self._applied:  # the limiter belongs to the running event loop: set it from inside
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self._applied = True
        await self.app(scope, receive, send)

    def __getattr__(self, name: str):  # the wrapped app's attributes (routes, state) stay reachable
        return getattr(self.app, name)


def bounded(app):
    """`app` under MLOPS_REQUEST_THREADS threads per worker; unset, or a WSGI app (MLflow under gunicorn
    or waitress, which size their own thread pools): `app` unchanged."""
    value = os.environ.get(VARIABLE, "").strip()
    if not value or not inspect.iscoroutinefunction(type(app).__call__):
        return app
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{VARIABLE}={value!r}: give a positive number of threads per worker")
    return RequestThreads(app, int(value))

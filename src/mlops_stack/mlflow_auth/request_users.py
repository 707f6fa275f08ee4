"""One user lookup per request: the user (with its grants) read at the start of a request serves all its
checks.

MLflow's basic-auth asks the store for the same user in `_before_request`, `sender_is_admin` and every
validator, and for its grants in every permission check. Inside a Flask request the first answer is kept
in `flask.g`, which Flask makes new for every request; the FastAPI-native routes (artifact upload and
download) get a scope around their authentication (`fastapi_scope`). Outside either scope every call reads
the database, as before. Nothing outlives its request, so the next request always sees the current rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from flask import g, has_app_context

_G_ATTRIBUTE = "_mlops_stack_users"
_fastapi_users: ContextVar[dict | None] = ContextVar("mlops_stack_request_users", default=None)


def _memo() -> dict | None:
    if has_app_context():
        memo = g.get(_G_ATTRIBUTE)
        if memo is None:
            memo = {}
            setattr(g, _G_ATTRIBUTE, memo)
        return memo
    return _fastapi_users.get()


@contextlib.contextmanager
def fastapi_scope() -> Iterator[None]:
    token = _fastapi_users.set({})
    try:
        yield
    finally:
        _fastapi_users.reset(token)


def lookup(username: str, read: Callable[[str], object]) -> object:
    """`read(username)` once per request; a failed read (no such user) is not kept."""
    memo = _memo()
    if memo is None:
        return read(username)
    if username not in memo:
        memo[username] = read(username)
    return memo[username]


def known(user_id: int) -> object | None:
    """What this request already read about the user with this id, if anything."""
    memo = _memo()
    for entry in (memo or {}).values():
        if entry.user.id == user_id:
            return entry
    return None


def forget_all() -> None:
    """After the request itself changed a user, a role or a grant: the rest of it reads them again."""
    memo = _memo()
    if memo is not None:
        memo.clear()

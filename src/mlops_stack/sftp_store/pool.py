"""Reusable SFTP sessions per server, re-opened transparently when the server or network dropped them."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import paramiko
from mlflow.exceptions import MlflowException

from mlops_stack.sftp_store.client_key import load_private_key
from mlops_stack.sftp_store.connection import SFTPConnection, open_connection
from mlops_stack.sftp_store.errors import SFTPUnavailable
from mlops_stack.sftp_store.location import SFTPLocation
from mlops_stack.sftp_store.settings import SFTPSettings

_logger = logging.getLogger(__name__)
T = TypeVar("T")

# A session idle this long is probed before an operation that cannot be retried (a consumed stream).
PROBE_AFTER_IDLE_SECONDS = 5.0
_TRANSPORT_ERRORS = (EOFError, ConnectionError, socket.timeout, paramiko.SSHException)


def connection_lost(err: BaseException, conn: SFTPConnection) -> bool:
    """True when `err` came from a dead session rather than from the server refusing the operation."""
    if isinstance(err, MlflowException):  # the store's own verdicts (SFTPStoreError, SFTPUnavailable)
        return False
    return isinstance(err, _TRANSPORT_ERRORS) or not conn.alive()


def session_lost(location: SFTPLocation, err: BaseException) -> SFTPUnavailable:
    """What a dead session becomes for the server's client: a retryable 503."""
    return SFTPUnavailable(
        f"the session to the SFTP server {location.host}:{location.port} was lost"
        f" ({err or type(err).__name__}): try again"
    )


def server_refused(err: BaseException) -> bool:
    """An SFTP status error (no such file, permission denied): the session itself is fine."""
    return isinstance(err, OSError) and err.errno is not None and not isinstance(err, _TRANSPORT_ERRORS)


class ConnectionPool:
    """At most `settings.max_connections` sessions to one server, shared by every repository object."""

    def __init__(self, location: SFTPLocation, settings: SFTPSettings) -> None:
        self.location = location
        self.settings = settings
        self._idle: list[SFTPConnection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.max_connections)
        self._pkey: paramiko.PKey | None = None
        # Directories known to exist on this server, shared by all its sessions.
        self._known_dirs: set[str] = set()

    def _open(self) -> SFTPConnection:
        if self._pkey is None:
            self._pkey = load_private_key(self.settings)
        conn = open_connection(self.location, self.settings, self._pkey)
        conn.known_dirs = self._known_dirs
        return conn

    def _usable(self, conn: SFTPConnection, probe: bool) -> bool:
        if not conn.alive():
            return False
        if probe and time.monotonic() - conn.last_used > PROBE_AFTER_IDLE_SECONDS:
            try:
                conn.sftp.normalize(".")
            except Exception:
                return False
        return True

    def checkout(self, probe: bool = False) -> SFTPConnection:
        self._slots.acquire()
        try:
            while True:
                with self._lock:
                    conn = self._idle.pop() if self._idle else None
                if conn is None:
                    return self._open()
                if self._usable(conn, probe):
                    return conn
                _logger.info("SFTP session to %s was dropped; opening a new one", self.location.host)
                conn.close()
        except BaseException:
            self._slots.release()
            raise

    def checkin(self, conn: SFTPConnection, keep: bool) -> None:
        try:
            if keep and conn.alive():
                conn.last_used = time.monotonic()
                with self._lock:
                    self._idle.append(conn)
            else:
                conn.close()
        finally:
            self._slots.release()

    @contextlib.contextmanager
    def connection(self, probe: bool = False) -> Iterator[SFTPConnection]:
        """A session for one operation; `probe=True` checks an idle session answers before handing it out."""
        conn = self.checkout(probe)
        keep = False
        try:
            yield conn
            keep = True
        except Exception as err:
            keep = server_refused(err)
            if connection_lost(err, conn):
                raise session_lost(self.location, err) from err
            raise
        finally:
            self.checkin(conn, keep)

    def run(self, operation: Callable[[SFTPConnection], T]) -> T:
        """Run `operation` on a session; if the session turns out dead, run it once more on a new one."""
        for attempt in (1, 2):
            with self.connection() as conn:
                try:
                    return operation(conn)
                except Exception as err:
                    if not connection_lost(err, conn):
                        raise
                    if attempt == 1:
                        _logger.warning(
                            "SFTP session to %s:%s dropped (%s); retrying on a new session",
                            self.location.host,
                            self.location.port,
                            err or type(err).__name__,
                        )
                        conn.close()
                        continue
                    raise session_lost(self.location, err) from err
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_pools: dict[tuple[SFTPLocation, str], ConnectionPool] = {}
_pools_lock = threading.Lock()


def pool_for(location: SFTPLocation, settings: SFTPSettings) -> ConnectionPool:
    """The process-wide pool for this server and these credentials (MLflow builds many repositories)."""
    key = (SFTPLocation(location.user, location.host, location.port, "/"), settings.identity)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ConnectionPool(location, settings)
        return pool


def _forget_pools_in_child() -> None:
    # A forked worker (uvicorn, gunicorn) must not talk over its parent's SSH sockets; it opens its own.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_in_child)

"""One file's bytes straight from its SFTP session, for a server to send as they arrive (no local copy).

The stream holds its pooled session from open to close. Everything that can fail before the first byte
(no such file, a directory, a dead session) fails in `open_download_stream`, so the server still answers
with a status code; a session lost mid-stream ends the body early (the client sees a short body against
the announced Content-Length). `close` is idempotent and returns the session to the pool, whether the
body was sent, abandoned halfway or never started.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paramiko
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST

from mlops_stack.sftp_store import transfers
from mlops_stack.sftp_store.connection import SFTPConnection
from mlops_stack.sftp_store.pool import ConnectionPool, connection_lost, server_refused, session_lost


class DownloadStream:
    def __init__(self, pool: ConnectionPool, conn: SFTPConnection, remote: paramiko.SFTPFile, size: int):
        self.size = size
        self._pool, self._conn, self._remote = pool, conn, remote
        self._lock = threading.Lock()
        self._started = self._finished = self._closed = False
        self._keep = True

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            if self._closed:
                return
            self._started = True
        try:
            yield from transfers.stream_chunks(self._remote, self.size)
            self._finished = True
        except Exception as err:
            self._keep = server_refused(err)
            if connection_lost(err, self._conn):
                raise session_lost(self._pool.location, err) from err
            raise
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # Left halfway (the client went away), reads are still in flight on the session: it cannot
            # serve anyone else, so it is closed rather than pooled.
            keep = self._keep and (self._finished or not self._started)
        try:
            if keep:
                transfers.close_without_waiting(self._remote)
        except Exception:
            keep = False
        self._pool.checkin(self._conn, keep)


def open_download_stream(pool: ConnectionPool, remote_path: str, artifact_path: str) -> DownloadStream:
    """The stream of the file at `remote_path`; a session found dead at open is replaced once."""
    for attempt in (1, 2):
        conn = pool.checkout(probe=True)
        try:
            remote, size = transfers.open_for_streaming(conn, remote_path)
        except FileNotFoundError:
            pool.checkin(conn, True)
            raise MlflowException(
                f"No such artifact: '{artifact_path}'", error_code=RESOURCE_DOES_NOT_EXIST
            ) from None
        except IsADirectoryError:
            pool.checkin(conn, True)
            raise MlflowException(
                f"Artifact path refers to a directory, not a file: '{artifact_path}'",
                error_code=INVALID_PARAMETER_VALUE,
            ) from None
        except Exception as err:
            lost = connection_lost(err, conn)
            pool.checkin(conn, not lost and server_refused(err))
            if not lost:
                raise
            if attempt == 2:
                raise session_lost(pool.location, err) from err
            continue
        return DownloadStream(pool, conn, remote, size)
    raise AssertionError("unreachable")

"""File operations on one SFTP session: atomic streamed uploads, read-ahead downloads, listing, removal."""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import paramiko
from paramiko.sftp import CMD_STATUS

from mlops_stack.sftp_store.connection import SFTPConnection

# Local reads/writes in this size; paramiko splits writes into server-sized requests.
COPY_CHUNK = 1024 * 1024
# A streamed download reads ahead this much: the pipeline stays full while memory stays bounded, whatever
# the speed of whoever consumes the stream (paramiko's `prefetch` would buffer the whole file).
STREAM_WINDOW = 16 * COPY_CHUNK
# Uploads go to `.<name>.<random>.uploading` next to the target and are renamed when complete.
PARTIAL_SUFFIX = ".uploading"


def close_without_waiting(remote: paramiko.SFTPFile) -> None:
    """Send CLOSE and go on: one round trip less per file. paramiko's close() would wait for a reply whose
    errors it ignores anyway; this is what it does itself when a file object is garbage-collected. Only
    for a file whose reads are done, or whose writes were already acknowledged."""
    remote._close(async_=True)


def is_partial_upload(name: str) -> bool:
    """Names of uploads still in flight (or abandoned by a dropped connection); never listed."""
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def _partial_name(remote_path: str) -> str:
    head, tail = posixpath.split(remote_path)
    return posixpath.join(head, f".{tail}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}")


def makedirs(conn: SFTPConnection, path: str) -> None:
    """`mkdir -p`, remembering what exists so repeated uploads into a directory cost no round trip."""
    if path in conn.known_dirs or path == "/":
        return
    try:
        conn.sftp.mkdir(path)
    except OSError:
        # Exists already (a file there fails below), or the parent is missing.
        try:
            attrs = conn.sftp.stat(path)
        except FileNotFoundError:
            makedirs(conn, posixpath.dirname(path))
            with contextlib.suppress(OSError):
                conn.sftp.mkdir(path)
            attrs = conn.sftp.stat(path)
        if not stat.S_ISDIR(attrs.st_mode or 0):
            raise NotADirectoryError(errno.ENOTDIR, f"{path} on the SFTP server is not a directory") from None
    conn.known_dirs.add(path)


class AtomicUpload:
    """A file being written under a hidden partial name, renamed over the target only when complete.

    A dropped connection leaves at most a hidden partial file (see `is_partial_upload`), never a
    truncated file under the artifact's name.
    """

    def __init__(self, conn: SFTPConnection, remote_path: str) -> None:
        self.conn = conn
        self.remote_path = remote_path
        self.partial = _partial_name(remote_path)
        parent = posixpath.dirname(remote_path)
        makedirs(conn, parent)
        try:
            self._file = conn.sftp.open(self.partial, "wb")
        except FileNotFoundError:
            # The directory was known to exist, but another client has removed it since.
            conn.known_dirs.clear()
            makedirs(conn, parent)
            self._file = conn.sftp.open(self.partial, "wb")
        # Pipelined: writes do not wait for each acknowledgement; errors surface at close().
        self._file.set_pipelined(True)
        self._file.MAX_REQUEST_SIZE = conn.write_size

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.flush()
        self._wait_for_write_statuses()
        # The rename only needs the data written, not the handle closed.
        close_without_waiting(self._file)
        self.conn.sftp.posix_rename(self.partial, self.remote_path)

    def _wait_for_write_statuses(self) -> None:
        """Raise if any pipelined write failed (disk full, quota), so a bad file is never renamed.

        paramiko registers pipelined writes without an owner, so when their statuses arrive while it
        waits for another reply (as close() does) it drops them, errors included. Waiting for each
        outstanding write request by number, oldest first, is how SFTPFile itself drains them.
        """
        pending = self._file._reqs
        while pending:
            kind, _ = self.conn.sftp._read_response(pending.popleft())  # raises on an error status
            if kind != CMD_STATUS:
                raise paramiko.SFTPError(f"unexpected reply {kind} to a write of {self.partial}")

    def abort(self) -> None:
        if not self.conn.alive():
            return  # nothing can be cleaned up over a dead session; the partial name stays hidden
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(Exception):
            self.conn.sftp.remove(self.partial)


def upload_chunks(conn: SFTPConnection, chunks: Iterable[bytes], remote_path: str) -> None:
    """Write `chunks` to a partial file, then rename it over `remote_path` (atomic on POSIX servers)."""
    upload = AtomicUpload(conn, remote_path)
    try:
        for chunk in chunks:
            upload.write(chunk)
        upload.commit()
    except BaseException:
        upload.abort()
        raise


def upload_file(conn: SFTPConnection, local_path: str | os.PathLike[str], remote_path: str) -> None:
    # Opened here so that the local file is closed before a retry opens it again.
    with open(local_path, "rb") as local:
        upload_chunks(conn, iter(lambda: local.read(COPY_CHUNK), b""), remote_path)


def download_file(
    conn: SFTPConnection, remote_path: str, local_path: str | os.PathLike[str], size: int | None = None
) -> None:
    """Stream to `local_path` (renamed into place when complete); larger files are read ahead.

    `size` (from a listing made just before) saves a stat round trip; artifacts are written once, so
    the file is read up to that size.
    """
    partial = Path(f"{local_path}{PARTIAL_SUFFIX}")
    remote = conn.sftp.open(remote_path, "rb")
    try:
        with open(partial, "wb") as local:
            remote.MAX_REQUEST_SIZE = conn.read_size
            if size is None:
                size = remote.stat().st_size or 0
            if size > conn.read_size:
                remote.prefetch(size)
            left = size
            while left > 0 and (chunk := remote.read(min(COPY_CHUNK, left))):
                local.write(chunk)
                left -= len(chunk)
        partial.replace(local_path)
    finally:
        close_without_waiting(remote)
        partial.unlink(missing_ok=True)


def open_for_streaming(conn: SFTPConnection, remote_path: str) -> tuple[paramiko.SFTPFile, int]:
    """The open remote file and its size; FileNotFoundError when missing, IsADirectoryError for a
    directory (both before a byte is read)."""
    attrs = conn.sftp.stat(remote_path)
    if stat.S_ISDIR(attrs.st_mode or 0):
        raise IsADirectoryError(errno.EISDIR, "is a directory", remote_path)
    remote = conn.sftp.open(remote_path, "rb")
    remote.MAX_REQUEST_SIZE = conn.read_size
    return remote, attrs.st_size or 0


def stream_chunks(remote: paramiko.SFTPFile, size: int) -> Iterator[bytes]:
    """The file's `size` bytes in COPY_CHUNK pieces, read ahead one STREAM_WINDOW at a time (artifacts
    are written once, so the size seen at open is the whole file); a shorter file is an EOFError."""
    for window in range(0, size, STREAM_WINDOW):
        end = min(window + STREAM_WINDOW, size)
        pieces = [(offset, min(COPY_CHUNK, end - offset)) for offset in range(window, end, COPY_CHUNK)]
        for (offset, length), data in zip(pieces, remote.readv(pieces), strict=True):
            if len(data) != length:
                raise EOFError(f"the file ended at {offset + len(data)} of its {size} bytes")
            yield data


def list_dir(conn: SFTPConnection, path: str) -> list[paramiko.SFTPAttributes] | None:
    """Entries of a directory (partial uploads hidden); None when `path` is missing or not a directory."""
    try:
        attrs = conn.sftp.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(attrs.st_mode or 0):
        return None
    entries = conn.sftp.listdir_attr(path)
    return [e for e in entries if not is_partial_upload(e.filename)]


def stat_or_none(conn: SFTPConnection, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return conn.sftp.stat(path)
    except FileNotFoundError:
        return None


def remove_tree(conn: SFTPConnection, path: str) -> None:
    """Remove a file or a directory tree; a missing path is not an error (it is gone either way)."""
    try:
        attrs = conn.sftp.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(attrs.st_mode or 0):
        for entry in conn.sftp.listdir_attr(path):
            child = posixpath.join(path, entry.filename)
            if stat.S_ISDIR(entry.st_mode or 0):
                remove_tree(conn, child)
            else:
                conn.sftp.remove(child)
        conn.sftp.rmdir(path)
    else:
        conn.sftp.remove(path)
    conn.known_dirs.clear()

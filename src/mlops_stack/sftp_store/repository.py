"""MLflow artifact repository for `sftp://user@host:port/path`, on paramiko >= 4 (no pysftp)."""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections.abc import AsyncIterable
from concurrent.futures import Future
from stat import S_ISDIR
from typing import BinaryIO

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository, StreamUploadMixin

from mlops_stack.byte_pieces import coalesced_async
from mlops_stack.sftp_store import transfers
from mlops_stack.sftp_store.download_stream import DownloadStream, open_download_stream
from mlops_stack.sftp_store.errors import SFTPUnavailable
from mlops_stack.sftp_store.location import parse_sftp_uri
from mlops_stack.sftp_store.pool import connection_lost, pool_for, server_refused, session_lost
from mlops_stack.sftp_store.settings import load_settings


class SFTPArtifactRepository(ArtifactRepository, StreamUploadMixin):
    """Artifacts as files under a directory of an SFTP server.

    Credentials come from MLOPS_SFTP_KEY / MLOPS_SFTP_KEY_FILE (+ MLOPS_SFTP_KEY_PASSPHRASE) and the
    server's host key must be in MLOPS_SFTP_KNOWN_HOSTS (default ~/.ssh/known_hosts). Sessions are
    pooled per server across repository objects; uploads are atomic; trees move in parallel, one
    SFTP session per worker.
    """

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        self.location = parse_sftp_uri(artifact_uri)
        self.settings = load_settings()
        self.pool = pool_for(self.location, self.settings)
        # Sizes seen by the last listings (artifact path -> bytes): downloads then skip a stat.
        self._listed_sizes: dict[str, int] = {}
        # Local directories already validated and created during a download (see below).
        self._download_dirs: dict[tuple[str, str], str] = {}
        super().__init__(artifact_uri, tracking_uri, registry_uri)

    @property
    def max_workers(self) -> int:
        # One worker per pooled session: more would only queue for a session.
        return self.settings.max_connections

    def _remote(self, *parts: str | None) -> str:
        return self.location.remote_path(posixpath.join(*[p for p in parts if p]) if any(parts) else None)

    # ---- uploads
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        remote = self._remote(artifact_path, os.path.basename(local_file))
        self.pool.run(lambda conn: transfers.upload_file(conn, local_file, remote))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        local_dir = os.path.abspath(local_dir)
        dirs: list[str] = [self._remote(artifact_path)]
        files: list[tuple[str, str]] = []
        for root, subdirs, names in os.walk(local_dir):
            rel = os.path.relpath(root, local_dir)
            rel = "" if rel == "." else rel.replace(os.sep, "/")
            dirs.extend(self._remote(artifact_path, rel, d) for d in subdirs)
            files.extend((os.path.join(root, n), self._remote(artifact_path, rel, n)) for n in names)

        def make_dirs(conn: transfers.SFTPConnection) -> None:
            for d in dirs:
                transfers.makedirs(conn, d)

        self.pool.run(make_dirs)
        futures = {
            self.thread_pool.submit(
                self.pool.run, lambda conn, src=src, dst=dst: transfers.upload_file(conn, src, dst)
            ): src
            for src, dst in files
        }
        self._raise_failures("uploading", futures)

    def log_artifact_from_stream(
        self, stream: BinaryIO, artifact_file_name: str, artifact_path: str | None = None
    ) -> None:
        remote = self._remote(artifact_path, posixpath.basename(artifact_file_name))
        chunks = iter(lambda: stream.read(transfers.COPY_CHUNK), b"")
        # A consumed stream cannot be replayed, so probe an idle session instead of retrying.
        with self.pool.connection(probe=True) as conn:
            transfers.upload_chunks(conn, chunks, remote)

    async def log_artifact_from_async_stream(
        self, chunks: AsyncIterable[bytes], artifact_file_name: str, artifact_path: str | None = None
    ) -> None:
        remote = self._remote(artifact_path, posixpath.basename(artifact_file_name))
        conn = await asyncio.to_thread(self.pool.checkout, True)
        keep = False
        try:
            upload = await asyncio.to_thread(transfers.AtomicUpload, conn, remote)
            try:
                # One thread hop per MiB, not per HTTP chunk. (Receiving the next piece while the last one
                # is written was tried: on 2 cores it gained nothing measurable.)
                async for piece in coalesced_async(chunks, transfers.COPY_CHUNK):
                    await asyncio.to_thread(upload.write, piece)
                await asyncio.to_thread(upload.commit)
            except BaseException:
                await asyncio.to_thread(upload.abort)
                raise
            keep = True
        except Exception as err:
            keep = server_refused(err)
            if connection_lost(err, conn):
                raise session_lost(self.location, err) from err
            raise
        finally:
            self.pool.checkin(conn, keep)

    # ---- listing and downloads
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        entries = self.pool.run(lambda conn: transfers.list_dir(conn, self._remote(path)))
        if entries is None:
            return []
        infos = [
            FileInfo(
                posixpath.join(path, e.filename) if path else e.filename,
                S_ISDIR(e.st_mode or 0),
                None if S_ISDIR(e.st_mode or 0) else e.st_size,
            )
            for e in entries
        ]
        if len(self._listed_sizes) > 100_000:
            self._listed_sizes.clear()
        self._listed_sizes.update((i.path, i.file_size) for i in infos if i.file_size is not None)
        return sorted(infos, key=lambda info: info.path)

    def _is_directory(self, artifact_path: str | None) -> bool:
        attrs = self.pool.run(lambda conn: transfers.stat_or_none(conn, self._remote(artifact_path)))
        if attrs is None:
            if artifact_path:
                # RESOURCE_DOES_NOT_EXIST is what the server turns into a 404 (as for MLflow's local
                # store); a generic failure would be a 500, which clients retry for minutes.
                raise MlflowException(
                    f"No such artifact: '{artifact_path}'", error_code=RESOURCE_DOES_NOT_EXIST
                )
            return False
        if S_ISDIR(attrs.st_mode or 0):
            return True
        if artifact_path:  # a single file is downloaded next (the server does this per request)
            self._listed_sizes[artifact_path] = attrs.st_size or 0
        return False

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        self._download_dirs.clear()
        try:
            return super().download_artifacts(artifact_path, dst_path)
        finally:
            self._download_dirs.clear()
            self._listed_sizes.clear()

    def _create_download_destination(
        self, src_artifact_path: str, dst_local_dir_path: str | None = None
    ) -> str:
        # MLflow resolves and checks the whole local path of every file (a realpath per file, about a
        # millisecond each, serially before the parallel downloads start). Checking each directory once
        # is as safe: a listed name holds no "/" and is never ".." or ".", and a download replaces
        # (never follows) whatever is at its name.
        parent, name = posixpath.split(src_artifact_path.rstrip("/"))
        if os.name == "nt" or name in ("", ".", "..") or dst_local_dir_path is None:
            return super()._create_download_destination(src_artifact_path, dst_local_dir_path)
        key = (dst_local_dir_path, parent)
        known = self._download_dirs.get(key)  # one lookup: another request may clear the cache
        if known is None:
            first = super()._create_download_destination(src_artifact_path, dst_local_dir_path)
            self._download_dirs[key] = os.path.dirname(first)
            return first
        return os.path.join(known, name)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        remote = self._remote(remote_file_path)
        size = self._listed_sizes.get(remote_file_path)
        self.pool.run(lambda conn: transfers.download_file(conn, remote, local_path, size))

    def open_download_stream(self, artifact_path: str) -> DownloadStream:
        """One file's bytes as they come from SFTP, for the artifact proxy to send without a local copy
        (mlops_stack.mlflow_server.streamed_downloads); MLflow's own handler copies to /tmp first."""
        return open_download_stream(self.pool, self._remote(artifact_path), artifact_path)

    # ---- removal
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        remote = self._remote(artifact_path)
        self.pool.run(lambda conn: transfers.remove_tree(conn, remote))

    def _raise_failures(self, action: str, futures: dict[Future[None], str]) -> None:
        failures = {}
        for future, name in futures.items():
            if (err := future.exception()) is not None:
                failures[name] = err
        if failures:
            listed = "\n".join(f"  {name}: {err}" for name, err in sorted(failures.items())[:20])
            where = self.location.uri
            message = f"{len(failures)} of {len(futures)} files failed {action} to {where}:\n{listed}"
            if any(isinstance(err, SFTPUnavailable) for err in failures.values()):
                raise SFTPUnavailable(message)  # retryable: the files that made it are complete
            raise MlflowException(message)

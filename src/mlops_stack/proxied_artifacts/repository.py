"""`mlflow-artifacts:` repository: MLflow's, with folders going up and down as archives when the server
takes them (mlops_stack.artifact_archives), and one request per file, in parallel, when it does not.

Uploads: files of up to ARCHIVE_FILE_LIMIT are packed into archives of up to ARCHIVE_BYTES / ARCHIVE_FILES
each; larger files go alone, streamed as MLflow sends them. Up to MLOPS_ARTIFACT_THREADS requests are in
flight. Downloads: a directory comes as one archive; a single file (or a server without archives) goes
through MLflow's own loop, on as many threads. The artifact paths are exactly those of MLflow's client."""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import verify_artifact_path
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository as StockRepository
from mlflow.utils.file_utils import create_tmp_dir, relative_path_to_artifact_path
from mlflow.utils.rest_utils import augmented_raise_for_status, http_request
from mlflow.utils.uri import validate_path_within_directory

from mlops_stack.artifact_archives import ARCHIVE_QUERY, CONTENT_TYPE
from mlops_stack.artifact_archives.tar_stream import pack, unpack
from mlops_stack.proxied_artifacts.archive_support import server_takes_archives

THREADS_VARIABLE = "MLOPS_ARTIFACT_THREADS"
# Enough requests in flight to hide round trips and server time; few enough that a 2-worker server
# is not flooded (each request holds a server thread and an SFTP session).
DEFAULT_THREADS = 8
# Small enough that a batch costs the server little /tmp (it unpacks before storing) and several batches
# keep the store's parallel sessions busy; large enough that the per-request cost disappears.
ARCHIVE_FILE_LIMIT = 4 * 1024 * 1024
ARCHIVE_BYTES = 16 * 1024 * 1024
ARCHIVE_FILES = 400


def transfer_threads() -> int:
    value = os.environ.get(THREADS_VARIABLE, str(DEFAULT_THREADS))
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise MlflowException(
            f"{THREADS_VARIABLE}={value!r}: set a number of parallel transfers from 1 to 64"
            f" (default {DEFAULT_THREADS})"
        )
    return int(value)


def files_to_upload(local_dir: str, artifact_path: str | None) -> list[tuple[str, str | None]]:
    """(local file, artifact directory) pairs, walked exactly as MLflow's HttpArtifactRepository does."""
    pairs = []
    for root, _, filenames in os.walk(local_dir):
        if root == local_dir:
            artifact_dir = artifact_path
        else:
            rel_path = relative_path_to_artifact_path(os.path.relpath(root, local_dir))
            artifact_dir = posixpath.join(artifact_path, rel_path) if artifact_path else rel_path
        pairs.extend((os.path.join(root, name), artifact_dir) for name in filenames)
    return pairs


def archive_batches(local_dir: str, local_files: list[str]) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Small files grouped into batches of (local file, name below the upload's artifact path); the
    files too large for an archive."""
    batches: list[list[tuple[str, str]]] = []
    alone, size = [], 0
    for local in local_files:
        file_size = os.path.getsize(local)
        if file_size > ARCHIVE_FILE_LIMIT:
            alone.append(local)
            continue
        if not batches or size + file_size > ARCHIVE_BYTES or len(batches[-1]) >= ARCHIVE_FILES:
            batches.append([])
            size = 0
        batches[-1].append((local, relative_path_to_artifact_path(os.path.relpath(local, local_dir))))
        size += file_size
    return batches, alone


class MlflowArtifactsRepository(StockRepository):
    @property
    def max_workers(self) -> int:
        """Threads of MLflow's download loop (read once, when the repository is made)."""
        return transfer_threads()

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        local_dir = os.path.abspath(local_dir)
        pairs = files_to_upload(local_dir, artifact_path)
        uploads: list[tuple[str, Callable[[], None]]]
        if pairs and server_takes_archives(self.artifact_uri):
            verify_artifact_path(artifact_path)
            batches, alone = archive_batches(local_dir, [local for local, _ in pairs])
            directory = dict(pairs)
            uploads = [
                (f"{len(b)} files from {b[0][0]}", partial(self._log_archive, b, artifact_path))
                for b in batches
            ]
            uploads += [(local, partial(self.log_artifact, local, directory[local])) for local in alone]
        else:
            uploads = [(local, partial(self.log_artifact, local, where)) for local, where in pairs]
        _run_all(uploads, self.max_workers, len(pairs))

    def _log_archive(self, batch: list[tuple[str, str]], artifact_path: str | None) -> None:
        with tempfile.TemporaryFile(prefix="mlops-archive-") as archive:
            pack(batch, archive)
            archive.seek(0)  # MLflow's retries rewind the body to here
            response = http_request(
                self._host_creds, _directory_endpoint(artifact_path), "PUT", params=ARCHIVE_QUERY,
                data=archive, extra_headers={"Content-Type": CONTENT_TYPE},
            )  # fmt: skip
            augmented_raise_for_status(response)

    def download_artifacts(self, artifact_path: str | None, dst_path: str | None = None) -> str:
        if (dst_path and not os.path.isdir(dst_path)) or not server_takes_archives(self.artifact_uri):
            return super().download_artifacts(artifact_path, dst_path)  # MLflow's own errors and loop
        dst_path = os.path.abspath(dst_path) if dst_path else create_tmp_dir()
        target = os.path.join(dst_path, os.path.normpath(artifact_path)) if artifact_path else dst_path
        validate_path_within_directory(dst_path, target)
        response = http_request(
            self._host_creds, _directory_endpoint(artifact_path), "GET", params=ARCHIVE_QUERY, stream=True
        )
        with response:
            if response.status_code == 404:  # a single file, or nothing: MLflow's own answer
                return super().download_artifacts(artifact_path, dst_path)
            augmented_raise_for_status(response)
            response.raw.decode_content = True
            os.makedirs(target, exist_ok=True)
            unpack(response.raw, target)
        return target


def _directory_endpoint(artifact_path: str | None) -> str:
    """`/dir/` (or `/` for the root): the trailing slash makes a stock server refuse an archive."""
    return posixpath.join("/", artifact_path or "", "")


def _run_all(uploads: list[tuple[str, Callable[[], None]]], threads: int, file_count: int) -> None:
    with ThreadPoolExecutor(
        min(threads, max(len(uploads), 1)), thread_name_prefix="mlops-artifact-upload"
    ) as pool:
        futures = [(what, pool.submit(upload)) for what, upload in uploads]
    failures = [(what, err) for what, future in futures if (err := future.exception()) is not None]
    if failures:
        listed = "\n".join(f"  {what}: {err}" for what, err in failures[:20])
        raise MlflowException(
            f"{len(failures)} of {len(uploads)} uploads ({file_count} files) failed:\n{listed}"
        )

"""`mlflow-artifacts:` repository: MLflow's, with `log_artifacts` uploading files in parallel and
directory downloads on as many threads (MLflow's own: 2 per CPU, 4 on a 2-core laptop)."""

from __future__ import annotations

import os
import posixpath
from concurrent.futures import ThreadPoolExecutor

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository as StockRepository
from mlflow.utils.file_utils import relative_path_to_artifact_path

THREADS_VARIABLE = "MLOPS_ARTIFACT_THREADS"
# Enough requests in flight to hide round trips and server time; few enough that a 2-worker server
# is not flooded (each request holds a server thread and an SFTP session).
DEFAULT_THREADS = 8


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


class MlflowArtifactsRepository(StockRepository):
    @property
    def max_workers(self) -> int:
        """Threads of MLflow's download loop (read once, when the repository is made)."""
        return transfer_threads()

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        pairs = files_to_upload(os.path.abspath(local_dir), artifact_path)
        threads = min(self.max_workers, max(len(pairs), 1))
        with ThreadPoolExecutor(threads, thread_name_prefix="mlops-artifact-upload") as pool:
            futures = [(local, pool.submit(self.log_artifact, local, where)) for local, where in pairs]
        failures = [(local, err) for local, future in futures if (err := future.exception()) is not None]
        if failures:
            listed = "\n".join(f"  {local}: {err}" for local, err in failures[:20])
            raise MlflowException(f"{len(failures)} of {len(pairs)} files failed to upload:\n{listed}")

"""A directory through MLflow's artifact proxy with this package's client, as a non-admin user of the
`mlops-basic-auth` server (2 workers): the same artifact paths as MLflow's own client, byte-identical
downloads, and the uploads really run side by side."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository as StockRepository
from mlflow.tracking import MlflowClient
from tests.support.mlflow_server import MlflowServer, start_mlflow_server

from mlops_stack.proxied_artifacts import MlflowArtifactsRepository


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(
        tmp_path_factory.mktemp("proxied-artifacts"), app_name="mlops-basic-auth", workers=2,
        auth_cache_ttl_seconds=0,
    )  # fmt: skip
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dana(server: MlflowServer) -> str:
    """A non-admin user's password (default permission READ; MANAGE on the experiments she creates)."""
    return server.create_user("dana")


@pytest.fixture
def as_user(server: MlflowServer, dana: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "dana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", dana)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    return MlflowClient(server.url)


def plots_folder(root: Path) -> Path:
    """Nested folders, an empty file, odd names: what a real `log_artifacts` of outputs looks like."""
    folder = root / "outputs"
    for i in range(60):
        sub = folder / ("plots" if i % 3 else "plots/epoch 1") / ("" if i % 2 else "deep/er")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"figure-{i:02d}.png").write_bytes(os.urandom(1000 + 997 * i))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "notes, v2 (final).md").write_text("accuracy 0.93\n")
    return folder


def all_paths(client: MlflowClient, run_id: str, path: str | None = None) -> list[tuple[str, int | None]]:
    found = []
    for info in client.list_artifacts(run_id, path):
        found.extend(all_paths(client, run_id, info.path) if info.is_dir else [(info.path, info.file_size)])
    return sorted(found)


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_mlflow_artifacts_uris_use_this_package_repository(as_user: MlflowClient) -> None:
    assert type(get_artifact_repository("mlflow-artifacts:/0/run/artifacts")) is MlflowArtifactsRepository


def test_a_directory_round_trips_with_the_paths_of_mlflows_own_client(
    as_user: MlflowClient, tmp_path: Path
) -> None:
    folder = plots_folder(tmp_path)
    mlflow.set_experiment("plots")
    with mlflow.start_run() as ours:
        mlflow.log_artifacts(str(folder), "report")
    with mlflow.start_run() as stock:
        StockRepository(stock.info.artifact_uri).log_artifacts(str(folder), "report")

    # The server lists an empty file without a size, for either client.
    expected = sorted((f"report/{name}", (folder / name).stat().st_size or None) for name in digests(folder))
    assert all_paths(as_user, ours.info.run_id) == all_paths(as_user, stock.info.run_id) == expected
    back = Path(mlflow.artifacts.download_artifacts(run_id=ours.info.run_id, artifact_path="report",
                                                    dst_path=str(tmp_path / "back")))  # fmt: skip
    assert digests(back) == digests(folder)


def test_uploads_run_side_by_side_but_no_more_than_the_bound(
    as_user: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_ARTIFACT_THREADS", "3")
    monkeypatch.setenv("MLOPS_ARTIFACT_ARCHIVES", "0")  # one request per file, as to a stock server
    folder = plots_folder(tmp_path)
    in_flight, peak, lock = [0], [0], threading.Lock()
    upload = MlflowArtifactsRepository.log_artifact

    def counted(self, local_file, artifact_path=None):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return upload(self, local_file, artifact_path)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(MlflowArtifactsRepository, "log_artifact", counted)
    mlflow.set_experiment("bounded")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder))
    assert peak[0] == 3
    assert MlflowArtifactsRepository(run.info.artifact_uri).thread_pool._max_workers == 3  # downloads too
    assert len(all_paths(as_user, run.info.run_id)) == 62


def test_a_bad_thread_count_is_refused_by_name(as_user: MlflowClient, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_ARTIFACT_THREADS", "many")
    mlflow.set_experiment("bad-threads")
    with mlflow.start_run(), pytest.raises(mlflow.exceptions.MlflowException) as refused:
        mlflow.log_artifacts(str(plots_folder(tmp_path)))  # refused before any request
    assert "MLOPS_ARTIFACT_THREADS='many': set a number of parallel transfers from 1 to 64" in str(
        refused.value
    )

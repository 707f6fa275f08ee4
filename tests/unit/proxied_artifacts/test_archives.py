"""Folders through MLflow's artifact proxy as archives (mlops_stack.artifact_archives), against a real
`mlops-basic-auth` server (2 workers, artifacts on local disk) and a stock `basic-auth` one: what lands
where, who may do it, what a hostile archive gets, and that a stock server still gets single files."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository as StockRepository
from mlflow.tracking import MlflowClient
from tests.support.mlflow_server import MlflowServer, start_mlflow_server
from tests.unit.proxied_artifacts.test_round_trip import all_paths, digests, plots_folder

from mlops_stack.proxied_artifacts import MlflowArtifactsRepository
from mlops_stack.proxied_artifacts import repository as client
from mlops_stack.proxied_artifacts.archive_support import server_takes_archives


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(
        tmp_path_factory.mktemp("archives"), app_name="mlops-basic-auth", workers=2, auth_cache_ttl_seconds=0
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(tmp_path_factory.mktemp("stock"), app_name="basic-auth", workers=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def users(server: MlflowServer) -> dict[str, str]:
    return {name: server.create_user(name) for name in ("erin", "frank")}


def login(monkeypatch: pytest.MonkeyPatch, url: str, user: str, password: str) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    mlflow.set_tracking_uri(url)
    return MlflowClient(url)


class Requests:
    """The artifact requests the client sends (method, path below the proxy root and query), observed
    where MLflow sends every request."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, str]] = []
        send = requests.Session.request

        def observed(session, method, url, *args, **kwargs):
            if "/mlflow-artifacts/artifacts" in url or "/mlops-stack/" in url:
                query = "&".join(f"{k}={v}" for k, v in (kwargs.get("params") or {}).items())
                tail = url.split("/mlflow-artifacts/artifacts", 1)[-1].split("/api/2.0", 1)[-1]
                self.seen.append((method, tail + (f"?{query}" if query else "")))
            return send(session, method, url, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", observed)


def test_a_folder_goes_up_and_down_as_archives_with_the_paths_of_mlflows_own_client(
    server: MlflowServer, users: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    erin = login(monkeypatch, server.url, "erin", users["erin"])
    folder = plots_folder(tmp_path)
    (folder / "plots" / "empty dir").mkdir()  # MLflow's client logs files only: no trace of it
    mlflow.set_experiment("archives")
    with mlflow.start_run() as stock:
        StockRepository(stock.info.artifact_uri).log_artifacts(str(folder), "report")
    sent = Requests(monkeypatch)
    with mlflow.start_run() as ours:
        mlflow.log_artifacts(str(folder), "report")

    root = f"/{ours.info.experiment_id}/{ours.info.run_id}/artifacts"
    assert sent.seen == [
        ("GET", "/mlops-stack/artifact-archives"),  # once per server and process
        ("PUT", f"{root}/report/?archive=tar"),  # 62 files, 0.2 MB: one archive
    ]
    assert all_paths(erin, ours.info.run_id) == all_paths(erin, stock.info.run_id)
    assert len(all_paths(erin, ours.info.run_id)) == 62

    sent.seen.clear()
    back = Path(mlflow.artifacts.download_artifacts(run_id=ours.info.run_id, artifact_path="report",
                                                    dst_path=str(tmp_path / "back")))  # fmt: skip
    assert back == tmp_path / "back" / "report"
    assert digests(back) == digests(folder)
    assert sent.seen == [("GET", f"{root}/report/?archive=tar")]
    whole = Path(mlflow.artifacts.download_artifacts(run_id=ours.info.run_id, dst_path=str(tmp_path / "all")))
    assert digests(whole / "report") == digests(folder)


def test_large_files_go_alone_and_batches_stay_within_their_bounds(
    server: MlflowServer, users: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    login(monkeypatch, server.url, "erin", users["erin"])
    monkeypatch.setattr(client, "ARCHIVE_FILES", 7)
    folder = tmp_path / "data"
    (folder / "small").mkdir(parents=True)
    for i in range(20):
        (folder / "small" / f"{i:02d}.csv").write_bytes(os.urandom(10_000))
    big = folder / "weights.bin"
    big.write_bytes(os.urandom(client.ARCHIVE_FILE_LIMIT + 1))
    sent = Requests(monkeypatch)
    mlflow.set_experiment("bounds")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder))
    root = f"/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    puts = sorted(path for method, path in sent.seen if method == "PUT")
    assert puts == [f"{root}/?archive=tar"] * 3 + [
        f"{root}/weights.bin"
    ]  # 7 + 7 + 6 small files; the large one alone
    back = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "back")))
    assert digests(back) == digests(folder)


def test_a_single_file_and_an_empty_run_download_as_with_mlflows_client(
    server: MlflowServer, users: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    login(monkeypatch, server.url, "erin", users["erin"])
    mlflow.set_experiment("single")
    (tmp_path / "model.txt").write_text("weights")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "model.txt"), "m")
    with mlflow.start_run() as empty:
        pass
    one = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="m/model.txt",
                                              dst_path=str(tmp_path))  # fmt: skip
    assert Path(one).read_text() == "weights"
    assert os.listdir(mlflow.artifacts.download_artifacts(run_id=empty.info.run_id)) == []
    with pytest.raises(MlflowException):
        MlflowArtifactsRepository(run.info.artifact_uri).download_artifacts("m", str(tmp_path / "missing"))


def test_a_reader_cannot_write_archives_into_someone_elses_run(
    server: MlflowServer, users: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    erin = login(monkeypatch, server.url, "erin", users["erin"])
    mlflow.set_experiment("erins")
    with mlflow.start_run() as run:
        mlflow.log_text("mine", "notes/a.txt")
    login(monkeypatch, server.url, "frank", users["frank"])  # default permission READ
    folder = plots_folder(tmp_path)
    with pytest.raises(MlflowException) as refused:
        MlflowArtifactsRepository(run.info.artifact_uri).log_artifacts(str(folder), "notes")
    assert "403" in str(refused.value) or "PERMISSION_DENIED" in str(refused.value)
    assert all_paths(erin, run.info.run_id) == [("notes/a.txt", 4)]
    back = MlflowArtifactsRepository(run.info.artifact_uri).download_artifacts("notes", str(tmp_path))
    assert Path(back, "a.txt").read_text() == "mine"  # READ lets him download, archive or not


def hostile(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size = kind, link, 0 if kind != tarfile.REGTYPE else 3
        archive.addfile(info, io.BytesIO(b"bad") if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (hostile("../../escaped.txt"), "'../../escaped.txt' is not a plain relative path"),
        (hostile("/etc/cron.d/x"), "'/etc/cron.d/x' is not a plain relative path"),
        (hostile("link", tarfile.SYMTYPE, "/etc/passwd"), "'link' is not a regular file or directory"),
        (hostile("hard", tarfile.LNKTYPE, "other"), "'hard' is not a regular file or directory"),
        (b"not a tar at all" * 100, "artifact archive: not a readable tar"),
    ],
    ids=["dot-dot", "absolute", "symlink", "hardlink", "garbage"],
)
def test_a_hostile_archive_is_refused_with_its_reason_and_writes_nothing(
    server: MlflowServer, users: dict[str, str], monkeypatch: pytest.MonkeyPatch, body: bytes, why: str
) -> None:
    erin = login(monkeypatch, server.url, "erin", users["erin"])
    mlflow.set_experiment("hostile")
    with mlflow.start_run() as run:
        pass
    url = run.info.artifact_uri.replace(
        "mlflow-artifacts:", f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    )
    answer = requests.put(f"{url}/x/", params={"archive": "tar"}, data=body, auth=("erin", users["erin"]),
                          timeout=60)  # fmt: skip
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert why in answer.json()["message"]
    assert all_paths(erin, run.info.run_id) == []
    assert not list((server.log.parent / "artifacts").rglob("escaped.txt"))


def test_a_stock_server_gets_one_request_per_file_and_the_same_result(
    stock_server: MlflowServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password = stock_server.create_user("gina")
    gina = login(monkeypatch, stock_server.url, "gina", password)
    folder = plots_folder(tmp_path)
    sent = Requests(monkeypatch)
    mlflow.set_experiment("stock")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), "report")
    assert not server_takes_archives(run.info.artifact_uri.replace(
        "mlflow-artifacts:", f"{stock_server.url}/api/2.0/mlflow-artifacts/artifacts"))  # fmt: skip
    assert sum(1 for method, _ in sent.seen if method == "PUT") == 62
    assert not [path for _, path in sent.seen if "archive=" in path]
    back = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="report",
                                                    dst_path=str(tmp_path / "back")))  # fmt: skip
    assert digests(back) == digests(folder)
    assert len(all_paths(gina, run.info.run_id)) == 62


def test_archives_can_be_switched_off_by_name(
    server: MlflowServer, users: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    login(monkeypatch, server.url, "erin", users["erin"])
    monkeypatch.setenv("MLOPS_ARTIFACT_ARCHIVES", "0")
    sent = Requests(monkeypatch)
    mlflow.set_experiment("switched-off")
    with mlflow.start_run():
        mlflow.log_artifacts(str(plots_folder(tmp_path)))
    assert sum(1 for method, _ in sent.seen if method == "PUT") == 62
    monkeypatch.setenv("MLOPS_ARTIFACT_ARCHIVES", "yes")
    with mlflow.start_run(), pytest.raises(MlflowException) as refused:
        mlflow.log_artifacts(str(plots_folder(tmp_path / "again")))
    assert "MLOPS_ARTIFACT_ARCHIVES='yes': set 1 to send folders as archives" in str(refused.value)

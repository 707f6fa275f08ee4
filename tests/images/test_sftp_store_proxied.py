"""MLflow's server proxies artifacts to SFTP (`--serve-artifacts --artifacts-destination sftp://...`):
a client with no SFTP credentials logs files and models that land on the SFTP volume and download back.
All three images run as the chart runs them: sftp, postgresql and mlflow."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
import requests
from mlflow.tracking import MlflowClient
from sklearn import __version__ as sklearn_version
from sklearn.linear_model import LogisticRegression
from tests.support.containers import Sandbox, image_missing
from tests.support.sftp import (
    ClientKeys,
    ProxyingMlflow,
    SFTPServer,
    start_mlflow_proxying_to,
    start_sftp_server,
    workdir_removed_after,
)

from mlops_stack.artifact_archives.tar_stream import pack
from mlops_stack.proxied_artifacts import repository as archive_client
from mlops_stack.sftp_store.transfers import is_partial_upload

MISSING = next((reason for c in ("sftp", "postgresql", "mlflow") if (reason := image_missing(c))), None)
pytestmark = [pytest.mark.images, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[SFTPServer, ProxyingMlflow]]:
    with workdir_removed_after("store-proxied-") as workdir, Sandbox("store-") as sandbox:
        keys = ClientKeys.generate(workdir)
        server = start_sftp_server(sandbox, workdir, keys.public_lines())
        yield server, start_mlflow_proxying_to(sandbox, workdir, server, keys.private("ed25519"))


@pytest.fixture
def client_without_sftp_credentials(
    stack: tuple[SFTPServer, ProxyingMlflow], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> ProxyingMlflow:
    _, server = stack
    for name in [n for n in os.environ if n.startswith("MLOPS_SFTP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh either
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    mlflow.set_tracking_uri(server.url)
    return server


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_server_resolves_sftp_to_this_store(stack: tuple[SFTPServer, ProxyingMlflow]) -> None:
    _, server = stack
    code, out = server.container.exec(
        [
            "python",
            "-c",
            "from mlflow.store.artifact import artifact_repository_registry as r;"
            " print(r.get_registered_artifact_repositories()['sftp'].__module__)",
        ]
    )
    assert (code, out.strip().splitlines()[-1]) == (0, "mlops_stack.sftp_store.repository")


def test_log_artifact_lands_on_the_sftp_volume_and_downloads_back(
    stack: tuple[SFTPServer, ProxyingMlflow], client_without_sftp_credentials: ProxyingMlflow, tmp_path: Path
) -> None:
    sftp, server = stack
    report = tmp_path / "report.txt"
    report.write_text("accuracy 0.93\n")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(24 * 1024 * 1024))  # several HTTP chunks and SFTP requests

    mlflow.set_experiment("proxied-artifacts")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(report), "reports")
        mlflow.log_artifact(str(weights), "reports/raw")

    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # the client never sees sftp://
    on_volume = f"{server.artifacts_root}/{run.info.experiment_id}/{run.info.run_id}/artifacts/reports"
    assert sftp.listdir(on_volume) == ["raw", "report.txt"]
    assert sftp.run(f"cat {on_volume}/report.txt") == "accuracy 0.93\n"
    assert sftp.sha256(f"{on_volume}/raw/weights.bin") == sha256(weights.read_bytes())

    listed = MlflowClient().list_artifacts(run.info.run_id, "reports")
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [
        ("reports/raw", True, None),
        ("reports/report.txt", False, 14),
    ]
    dst = tmp_path / "download"
    dst.mkdir()
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="reports", dst_path=str(dst)
        )
    )
    assert (local / "report.txt").read_text() == "accuracy 0.93\n"
    assert sha256((local / "raw" / "weights.bin").read_bytes()) == sha256(weights.read_bytes())


def test_a_missing_artifact_is_a_404_not_a_retried_500(
    stack: tuple[SFTPServer, ProxyingMlflow], client_without_sftp_credentials: ProxyingMlflow
) -> None:
    server = client_without_sftp_credentials
    answer = requests.get(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/0/no-such-run/artifacts/model/MLmodel",
        auth=(server.username, server.password),
        timeout=60,
    )
    assert (answer.status_code, answer.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_sklearn_log_model_lands_on_the_sftp_volume_and_loads_back(
    stack: tuple[SFTPServer, ProxyingMlflow], client_without_sftp_credentials: ProxyingMlflow
) -> None:
    sftp, server = stack
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(features, labels)

    mlflow.set_experiment("proxied-models")
    with mlflow.start_run():
        # Pinned requirements skip MLflow's inference subprocess, which has nothing to do with storage.
        info = mlflow.sklearn.log_model(
            model, name="classifier", pip_requirements=[f"scikit-learn=={sklearn_version}"]
        )

    found = sftp.run(f"find {server.artifacts_root} -name MLmodel -path '*{info.model_id}*'").split()
    assert len(found) == 1, f"MLmodel of {info.model_id} not on the SFTP volume: {found}"
    assert sftp.listdir(os.path.dirname(found[0])) == [
        "MLmodel",
        "conda.yaml",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
    ]

    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(features) == model.predict(features)).all()


def test_an_sftp_outage_during_uploads_is_a_503_the_client_retries_until_every_file_is_logged(
    stack: tuple[SFTPServer, ProxyingMlflow], client_without_sftp_credentials: ProxyingMlflow, tmp_path: Path
) -> None:
    sftp, server = stack
    files = []
    for i in range(40):
        path = tmp_path / f"part-{i:02d}.bin"
        path.write_bytes(os.urandom(4 * 1024 * 1024 if i == 10 else 64 * 1024))
        files.append(path)
    mlflow.set_experiment("sftp-outage")
    seen_during_outage: list[tuple[int, str]] = []

    def outage() -> None:
        time.sleep(0.3)  # part-10 (4 MiB) is on its way
        sftp.kill()
        answer = requests.put(
            f"{server.url}/api/2.0/mlflow-artifacts/artifacts/probe/outage.txt",
            data=b"x",
            auth=(server.username, server.password),
            timeout=120,
        )
        seen_during_outage.append((answer.status_code, answer.json().get("error_code", "")))
        time.sleep(5)
        sftp.start()

    with mlflow.start_run() as run:
        for path in files[:10]:
            mlflow.log_artifact(str(path), "parts")
        killer = threading.Thread(target=outage)
        killer.start()
        for path in files[10:]:
            mlflow.log_artifact(str(path), "parts")  # raises if any call fails for good
        killer.join()

    assert seen_during_outage == [(503, "TEMPORARILY_UNAVAILABLE")]
    listed = MlflowClient().list_artifacts(run.info.run_id, "parts")
    assert [(f.path, f.file_size) for f in listed] == [(f"parts/{p.name}", p.stat().st_size) for p in files]
    on_volume = f"{server.artifacts_root}/{run.info.experiment_id}/{run.info.run_id}/artifacts/parts"
    # An upload cut off by the outage may leave a hidden partial file, never a short file under its name.
    assert [n for n in sftp.listdir(on_volume) if not is_partial_upload(n)] == [p.name for p in files]
    for path in files[8:14]:
        assert sftp.sha256(f"{on_volume}/{path.name}") == sha256(path.read_bytes())


def test_a_folder_goes_to_the_sftp_volume_in_archives_and_an_outage_is_retried_until_all_is_stored(
    stack: tuple[SFTPServer, ProxyingMlflow],
    client_without_sftp_credentials: ProxyingMlflow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sftp, server = stack
    monkeypatch.setattr(archive_client, "ARCHIVE_FILES", 6)  # 40 files: 7 archives, 7 requests in flight
    folder = tmp_path / "outputs"
    for i in range(40):
        (folder / f"epoch-{i % 4}").mkdir(parents=True, exist_ok=True)
        (folder / f"epoch-{i % 4}" / f"plot {i:02d}.png").write_bytes(os.urandom(256 * 1024))
    expected = {str(p.relative_to(folder)): sha256(p.read_bytes()) for p in folder.rglob("*.png")}
    archive = tmp_path / "probe.tar"
    with open(archive, "wb") as out:
        pack([(str(next(folder.rglob("*.png"))), "probe.png")], out)
    mlflow.set_experiment("sftp-outage-archives")

    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), "before")  # the server's SFTP sessions are pooled and warm
        sftp.kill()
        root = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{run.info.experiment_id}/{run.info.run_id}"
        answer = requests.put(f"{root}/artifacts/probe/", params={"archive": "tar"},
                              data=archive.read_bytes(), auth=(server.username, server.password),
                              timeout=120)  # fmt: skip
        restart = threading.Timer(5, sftp.start)
        restart.start()
        mlflow.log_artifacts(str(folder), "during")  # 503s retried with MLflow's backoff; raises if not
        restart.join()

    assert (answer.status_code, answer.json()["error_code"]) == (503, "TEMPORARILY_UNAVAILABLE")
    on_volume = f"{server.artifacts_root}/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    assert sorted(sftp.listdir(on_volume)) == ["before", "during"]  # nothing of the refused probe
    for top in ("before", "during"):
        stored = sftp.run(f"cd {on_volume}/{top} && find . -type f | sort").split("\n")
        assert [
            p.removeprefix("./") for p in stored if p and not is_partial_upload(os.path.basename(p))
        ] == sorted(expected)
    for name in list(expected)[:5]:
        assert sftp.sha256(f"{on_volume}/during/{name}") == expected[name]
    back = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="during",
                                                    dst_path=str(tmp_path)))  # fmt: skip
    assert {str(p.relative_to(back)): sha256(p.read_bytes()) for p in back.rglob("*.png")} == expected


def test_a_large_file_streams_from_sftp_without_a_copy_in_the_servers_tmp(
    stack: tuple[SFTPServer, ProxyingMlflow], client_without_sftp_credentials: ProxyingMlflow, tmp_path: Path
) -> None:
    sftp, server = stack
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(40 * 1024 * 1024 + 12345))  # three read-ahead windows, the last one short
    mlflow.set_experiment("streamed-downloads")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(model), "model")
    root = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{run.info.experiment_id}/{run.info.run_id}"
    auth = (server.username, server.password)

    with requests.get(f"{root}/artifacts/model/model.bin", auth=auth, stream=True, timeout=120) as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Length"] == str(model.stat().st_size)  # a cut body is noticed
        assert answer.headers["Content-Disposition"] == "attachment; filename=model.bin"  # MLflow's own
        body = answer.raw.read(1024 * 1024)
        # The client holds the rest back: MLflow's own handler would have copied all 40 MiB to /tmp first.
        code, large = server.container.exec(["find", "/tmp", "-type", "f", "-size", "+1M"])
        body += answer.raw.read()
    assert (code, large.strip()) == (0, "")
    assert sha256(body) == sha256(model.read_bytes())

    # Clients that leave halfway: each held one of a worker's 8 pooled sessions; none may stay held.
    for _ in range(20):
        with requests.get(f"{root}/artifacts/model/model.bin", auth=auth, stream=True, timeout=60) as left:
            assert len(left.raw.read(256 * 1024)) == 256 * 1024
    again = requests.get(f"{root}/artifacts/model/model.bin", auth=auth, timeout=60)
    assert sha256(again.content) == sha256(model.read_bytes())

    folder = requests.get(f"{root}/artifacts/model", auth=auth, timeout=60)
    assert (folder.status_code, folder.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "refers to a directory" in folder.json()["message"]
    missing = requests.get(f"{root}/artifacts/model/absent.bin", auth=auth, timeout=60)
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")

    sftp.kill()
    try:
        during = requests.get(f"{root}/artifacts/model/model.bin", auth=auth, timeout=120)
    finally:
        sftp.start()
    assert (during.status_code, during.json()["error_code"]) == (503, "TEMPORARILY_UNAVAILABLE")
    back = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model/model.bin",
                                               dst_path=str(tmp_path / "back"))  # fmt: skip
    assert sha256(Path(back).read_bytes()) == sha256(model.read_bytes())

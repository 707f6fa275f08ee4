"""Artifact round-trip through the tracking server: upload, download, compare, then delete the run."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

PAYLOAD_BYTES = 256 * 1024
PROBE_NAME = "doctor-probe.bin"


def doctor_experiment(username: str) -> str:
    # One per user: under basic-auth only an experiment's creator may log runs into it by default.
    return f"mlops-doctor-{username}"


@contextlib.contextmanager
def _quick_and_quiet() -> Iterator[None]:
    # MLflow retries failed requests for minutes by default; a health check should answer quickly.
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # doctor prints one line per check, nothing else
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def artifact_round_trip(tracking_uri: str, username: str) -> str:
    """A one-line summary; raises MlflowException (server side) or ValueError (content differs)."""
    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    with _quick_and_quiet():
        client = MlflowClient(tracking_uri=tracking_uri)
        name = doctor_experiment(username)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            experiment_id = client.create_experiment(name, tags={"mlops.purpose": "mlops doctor round-trips"})
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment_id)
        run = client.create_run(experiment_id, run_name="artifact-round-trip")
        try:
            payload = secrets.token_bytes(PAYLOAD_BYTES)
            with tempfile.TemporaryDirectory(prefix="mlops-doctor-") as tmp:
                source = Path(tmp, "up", PROBE_NAME)
                source.parent.mkdir()
                source.write_bytes(payload)
                client.log_artifact(run.info.run_id, str(source))
                fetched = Path(client.download_artifacts(run.info.run_id, PROBE_NAME, str(Path(tmp))))
                if fetched.read_bytes() != payload:
                    raise ValueError(f"downloaded {PROBE_NAME} differs from what was uploaded")
            # The run is deleted below; its files would otherwise stay on the artifact store.
            get_artifact_repository(run.info.artifact_uri, tracking_uri=tracking_uri).delete_artifacts()
        finally:
            client.delete_run(run.info.run_id)
    scheme = run.info.artifact_uri.split(":")[0]
    return f"{PAYLOAD_BYTES // 1024} KiB uploaded, downloaded and compared ({scheme}), run deleted"

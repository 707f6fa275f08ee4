"""The one rule for where the tracking URI (and the Prefect API URL) comes from, for every consumer."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_stack.client.config import ClientConfig, config_path, prefect_api_url, tracking_uri

SAVED = "https://saved.example.org"


@pytest.fixture
def saved(client_home: Path) -> ClientConfig:
    conf = ClientConfig(tracking_uri=SAVED, username="alice", prefect_api_url=f"{SAVED}/api")
    conf.save()
    return conf


def test_environment_wins_over_the_saved_config(saved, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://env.example.org")
    monkeypatch.setenv("PREFECT_API_URL", "https://env.example.org/api")
    assert tracking_uri() == tracking_uri(saved) == "https://env.example.org"
    assert prefect_api_url() == prefect_api_url(saved) == "https://env.example.org/api"


def test_the_saved_config_when_the_environment_is_silent(saved, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # set but empty counts as not set, as for MLflow
    assert tracking_uri() == tracking_uri(saved) == SAVED
    assert prefect_api_url() == f"{SAVED}/api"


def test_none_without_environment_or_config(client_home: Path) -> None:
    assert tracking_uri() is None
    assert prefect_api_url() is None


def test_the_config_is_not_read_when_the_environment_decides(
    client_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken config file must not stop a run whose URI the environment gives."""
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("not an ini file\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://env.example.org")
    assert tracking_uri() == "https://env.example.org"


def test_mlops_env_and_doctor_follow_the_rule(mlops, saved, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert "export MLFLOW_TRACKING_URI=http://127.0.0.1:9" in mlops("env").out.splitlines()
    assert "cannot reach the MLflow server at http://127.0.0.1:9 " in mlops("doctor").out

"""MLflow's credentials file as MLflow reads it, and `mlops env` (no server needed)."""

from __future__ import annotations

import shlex
import stat
import subprocess

import pytest

from mlops_stack.client.config import ClientConfig, SftpSettings, config_path, load_config
from mlops_stack.client.credentials import credentials_path, current_login, save_credentials

AWKWARD = "p%w:d #x;y 'q\" $HOME %(user)s"  # "%" breaks naive configparser use; the rest breaks shell quoting


def test_mlflow_reads_what_init_writes_even_with_awkward_characters(client_home):
    from mlflow.utils.credentials import read_mlflow_creds

    path = credentials_path()
    path.parent.mkdir()
    path.write_text("[mlflow]\nmlflow_tracking_insecure_tls = false\n[other]\nkey = kept\n")
    save_credentials("al%ice", AWKWARD)

    assert path == client_home / ".mlflow" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tuple(read_mlflow_creds()) == ("al%ice", AWKWARD)
    assert current_login() == ("al%ice", AWKWARD)
    text = path.read_text()
    assert "mlflow_tracking_insecure_tls = false" in text
    assert "key = kept" in text


def test_environment_wins_over_the_file_as_in_mlflow(client_home, monkeypatch):
    from mlflow.utils.credentials import read_mlflow_creds

    save_credentials("alice", "from-file")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "from-env")
    assert tuple(read_mlflow_creds()) == ("alice", "from-env")
    assert current_login() == ("alice", "from-env")


def test_config_round_trips_and_is_private(client_home):
    conf = ClientConfig(
        tracking_uri="https://mlflow.example.org",
        username="alice",
        sftp=SftpSettings(
            "sftp.example.org", 2222, "mlops", "/home/a/.ssh/id_ed25519", "/home/a/.ssh/known_hosts"
        ),
        prefect_api_url="https://prefect.example.org/api",
    )
    path = conf.save()
    assert path == client_home / ".config" / "mlops" / "config.ini"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_config() == conf


def test_config_location_follows_xdg_and_mlops_config(client_home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "mlops" / "config.ini"
    monkeypatch.setenv("MLOPS_CONFIG", str(tmp_path / "team.ini"))
    assert config_path() == tmp_path / "team.ini"


def test_broken_config_is_a_clear_error(mlops, client_home):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[sftp]\nhost = x\n")
    result = mlops("env")
    assert result.code == 1
    assert result.err == (
        f"mlops env: error: {path} is not a valid mlops config ('mlflow')\n  fix: run `mlops init` again\n"
    )


@pytest.fixture
def configured(client_home):
    ClientConfig(tracking_uri="https://mlflow.example.org", username="alice").save()
    save_credentials("alice", AWKWARD)


def test_env_prints_exports_without_the_password(mlops, configured):
    result = mlops("env")
    assert result.code == 0
    assert result.out == (
        "export MLFLOW_TRACKING_URI=https://mlflow.example.org\nexport MLFLOW_TRACKING_USERNAME=alice\n"
    )


def test_env_with_secrets_survives_a_real_shell(mlops, configured):
    result = mlops("env", "--with-secrets")
    assert result.code == 0
    assert f"export MLFLOW_TRACKING_PASSWORD={shlex.quote(AWKWARD)}" in result.out.splitlines()
    shell = subprocess.run(
        ["bash", "-c", result.out + 'printf %s "$MLFLOW_TRACKING_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == AWKWARD


def test_env_before_init_says_to_run_it(mlops, client_home):
    result = mlops("env")
    assert result.code == 1
    assert result.out == ""
    assert "no settings in" in result.err
    assert "fix: run `mlops init` first" in result.err

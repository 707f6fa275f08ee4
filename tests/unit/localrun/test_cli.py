"""The runner's command line: bad input is named, generated secrets and key fingerprints are printed."""

import subprocess
from pathlib import Path

import pytest

from mlops_stack.localrun.__main__ import cli
from mlops_stack.localrun.state import State

from .manifests import secret


def test_bad_publish_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifests = tmp_path / "m.yaml"
    manifests.write_text("")
    code = cli(
        ["--state-dir", str(tmp_path), "up", "--manifests", str(manifests), "--publish", "mlflow:5000"]
    )
    assert code == 1
    assert capsys.readouterr().err == (
        "error: --publish 'mlflow:5000': expected SERVICE:PORT=ADDRESS:HOSTPORT, "
        "e.g. web:5000=127.0.0.1:5000\n"
    )


def test_secret_and_fingerprint_of_a_generated_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-m", "PEM", "-N", "", "-f", str(key)], check=True)
    expected = subprocess.run(["ssh-keygen", "-lf", str(key)], capture_output=True, text=True, check=True)
    State(tmp_path).keep_generated([secret("host-keys", ssh_host_ecdsa_key=key.read_text())], None)

    assert cli(["--state-dir", str(tmp_path), "fingerprint", "host-keys", "ssh_host_ecdsa_key"]) == 0
    assert capsys.readouterr().out == expected.stdout.split()[1] + "\n"
    assert cli(["--state-dir", str(tmp_path), "secret", "host-keys", "ssh_host_ecdsa_key"]) == 0
    assert capsys.readouterr().out == key.read_text() + "\n"


def test_unknown_secret_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--state-dir", str(tmp_path), "secret", "mlops-stack-mlflow", "admin-password"]) == 1
    assert capsys.readouterr().err == (
        f"error: no generated value for Secret mlops-stack-mlflow key admin-password in {tmp_path}\n"
    )

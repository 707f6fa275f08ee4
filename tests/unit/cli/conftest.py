"""Fixtures for the `mlops` CLI tests: real servers, an isolated HOME, throw-away Git/DVC projects."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_stack.cli import cli

from .servers import SSHD, LocalSshd, MlflowServer, fingerprint, ssh_keygen, start_mlflow_server

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    yield server
    server.stop()


@dataclass
class Login:
    username: str
    password: str


@pytest.fixture(scope="session")
def alice(mlflow_server: MlflowServer) -> Login:
    return Login("alice", mlflow_server.create_user("alice"))


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two server host keys (the real one and an impostor's) and the data scientist's key."""
    directory = tmp_path_factory.mktemp("keys")
    return {
        "host": ssh_keygen(directory / "ssh_host_ed25519_key"),
        "other_host": ssh_keygen(directory / "other_host_ed25519_key"),
        "client": ssh_keygen(directory / "id_ed25519"),
    }


@pytest.fixture
def host_fingerprint(keys: dict[str, Path]) -> str:
    return fingerprint(keys["host"].with_suffix(".pub"))


@pytest.fixture
def sshd(tmp_path: Path, keys: dict[str, Path]) -> Iterator[LocalSshd]:
    if not Path(SSHD).exists():
        pytest.skip("no OpenSSH server binary: `apt-get install -y openssh-server` (Debian)")
    server = LocalSshd(tmp_path / "sshd")
    server.authorize(keys["client"].with_suffix(".pub"))
    server.start(keys["host"])
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME per test: ~/.mlflow, ~/.ssh, ~/.config/mlops and Prefect's profiles all start empty."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PREFECT_HOME", str(home / ".prefect"))
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLOPS_CONFIG",
        "XDG_CONFIG_HOME",
        "PREFECT_API_URL",
        "PREFECT_PROFILES_PATH",
        "GIT_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    # Git commits in test projects need an identity; keep the user's real config out.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (home / ".gitconfig").write_text("[user]\n\tname = Test Scientist\n\temail = scientist@example.org\n")
    return home  # tests/conftest.py restores the process-wide MLflow tracking URI


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def mlops(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `mlops ARGS` in this process; `stdin` feeds standard input (for --password-stdin)."""

    def run(*args: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = cli(list(args))
        except SystemExit as exit_:  # argparse: --help and usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(VENV_BIN / "dvc"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dvc {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client_home: Path) -> Path:
    """A Git repository with one commit (train.py), and the current directory."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('training')\n")
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "initial code")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def dvc_project(project: Path) -> Path:
    """`project` after `dvc init`, committed."""
    dvc(project, "init", "-q")
    git(project, "add", ".dvc", ".dvcignore")
    git(project, "commit", "-q", "-m", "dvc init")
    return project


@pytest.fixture
def init_args(mlflow_server, alice, sshd, keys, host_fingerprint, tmp_path):
    """Every flag of a non-interactive `mlops init`; the DVC remote lives in a throw-away directory."""
    remote = tmp_path / "sftp-data" / "dvc"
    return [
        "init", "--yes",
        "--tracking-uri", mlflow_server.url,
        "--username", alice.username, "--password-stdin",
        "--sftp-host", "127.0.0.1", "--sftp-port", str(sshd.port), "--sftp-user", sshd.user,
        "--identity-file", str(keys["client"]),
        "--host-key-fingerprint", host_fingerprint,
        "--dvc-remote-path", str(remote),
    ]  # fmt: skip


def dvc_config(root: Path, level: str) -> dict:
    """One level of DVC's configuration as DVC itself parses it (`repo` = .dvc/config, `local`)."""
    from dvc.config import Config

    return Config(dvc_dir=str(root / ".dvc")).load_one(level)


def status_lines(output: str) -> dict[str, str]:
    """{check name: whole line} from doctor's output."""
    lines = {}
    for line in output.splitlines():
        status, _, rest = line.partition("  ")
        if status.strip() in ("OK", "FAIL", "SKIP"):
            lines[rest.strip()[:18].strip()] = line
    return lines

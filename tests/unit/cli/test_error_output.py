"""Error paths of the real `mlops` executable print only the clear message: no library log noise.

These run `mlops` as a user does (a separate process), because inside pytest the logging plugin's own
handlers swallow what a user's terminal would show (paramiko logs handshake failures through Python's
last-resort handler straight to stderr).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .servers import fingerprint, free_port

MLOPS = str(Path(sys.executable).parent / "mlops")


def _mlops(args: list[str], stdin: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PREFECT_HOME": str(home / ".prefect")}
    return subprocess.run([MLOPS, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_wrong_host_key_fingerprint_prints_only_the_mismatch(
    init_args, alice, project, keys, client_home, sshd
):
    wrong = fingerprint(keys["other_host"].with_suffix(".pub"))
    presented = fingerprint(keys["host"].with_suffix(".pub"))
    args = list(init_args)
    args[args.index("--host-key-fingerprint") + 1] = wrong
    result = _mlops(args, alice.password + "\n", client_home)
    assert result.returncode == 1
    assert result.stderr == (
        f"mlops init: error: HOST KEY MISMATCH for 127.0.0.1:{sshd.port}: expected {wrong} "
        f"(--host-key-fingerprint) but the server presents ssh-ed25519 {presented}\n"
        "  fix: check the fingerprint with your platform admin; do not continue until they match\n"
    )


def test_port_that_speaks_no_ssh_prints_only_the_message(mlflow_server, alice, project, client_home):
    port = free_port()  # nothing listens: the SSH handshake cannot even start
    args = [
        "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
        "--password-stdin", "--sftp-host", "127.0.0.1", "--sftp-port", str(port),
    ]  # fmt: skip
    result = _mlops(args, alice.password + "\n", client_home)
    assert result.returncode == 1
    assert result.stderr == (
        f"mlops init: error: cannot reach the SFTP server at 127.0.0.1:{port} (Connection refused)\n"
        "  fix: check --sftp-host and --sftp-port, and that you are on the right network/VPN\n"
    )


def test_http_port_given_as_sftp_port_prints_only_the_message(mlflow_server, alice, project, client_home):
    http_port = mlflow_server.url.rsplit(":", 1)[1]  # answers, but HTTP instead of SSH
    args = [
        "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
        "--password-stdin", "--sftp-host", "127.0.0.1", "--sftp-port", http_port,
    ]  # fmt: skip
    result = _mlops(args, alice.password + "\n", client_home)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        f"mlops init: error: 127.0.0.1:{http_port} did not complete an SSH handshake ("
    )
    assert lines[1:] == ["  fix: check that --sftp-port is the SFTP server's SSH port (the stack uses 2222)"]

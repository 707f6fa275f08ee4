"""Real servers for the CLI tests: an `mlflow server` with basic-auth and an OpenSSH sshd, on loopback.

Both run as the test user from throw-away directories; nothing here talks to a mock.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.mlflow_server import MlflowServer, start_mlflow_server
from tests.support.servers import free_port, http_ok, start_server, stop

__all__ = ["MlflowServer", "free_port", "start_mlflow_server"]  # the CLI tests take them from here

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def ssh_keygen(path: Path, key_type: str = "ed25519") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    return path


def fingerprint(public_key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)], check=True, capture_output=True
    )
    return out.stdout.decode().split()[1]


class LocalSshd:
    """OpenSSH's sshd as the current user on a loopback port, SFTP only, key login only.

    Only the user running it can log in (sshd cannot switch users without root), which is how the
    stack's SFTP image works too: one account, its own host keys.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user = getpass.getuser()
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.touch()
        self.process: subprocess.Popen | None = None
        self.log = workdir / "sshd.log"

    def authorize(self, public_key: Path) -> None:
        with self.authorized_keys.open("a") as out:
            out.write(public_key.read_text())

    def start(self, *host_keys: Path) -> None:
        config = self.workdir / "sshd_config"
        config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            + "".join(f"HostKey {key}\n" for key in host_keys)
            + f"PidFile {self.workdir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            "Subsystem sftp internal-sftp\n"
            "ForceCommand internal-sftp\n"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation directory

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    return sock.recv(4).startswith(b"SSH-")
            except OSError:
                return False

        self.process = start_server(
            [SSHD, "-D", "-e", "-f", str(config)], what="sshd", log=self.log, ready=listening, timeout=30,
            append=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@dataclass
class PrefectServer:
    api_url: str
    process: subprocess.Popen

    def stop(self) -> None:
        stop(self.process)


def start_prefect_server(workdir: Path, auth_string: str | None = None) -> PrefectServer:
    """`prefect server start` with its SQLite database in `workdir`, no UI; `auth_string` turns its
    authentication on (PREFECT_SERVER_API_AUTH_STRING, as the stack's server)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "prefect.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(workdir),
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    if auth_string:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth_string
    command = [
        str(Path(sys.executable).parent / "prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    api_url = f"http://127.0.0.1:{port}/api"
    process = start_server(
        command, what="prefect server", log=log, cwd=workdir, env=env,
        ready=lambda: http_ok(f"{api_url}/health"), timeout=180,
    )  # fmt: skip
    return PrefectServer(api_url, process)


def start_prefect_worker(
    workdir: Path, api_url: str, auth_string: str, pool: str, name: str
) -> subprocess.Popen:
    """A real process worker in `pool` (created by the worker when missing), awaited until it is ONLINE."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(workdir), "PREFECT_API_URL": api_url,
           "PREFECT_API_AUTH_STRING": auth_string}  # fmt: skip
    command = [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", pool,
               "--type", "process", "--name", name]  # fmt: skip
    headers = {"Authorization": "Basic " + base64.b64encode(auth_string.encode()).decode(),
               "Content-Type": "application/json"}  # fmt: skip

    def online() -> bool:
        url = f"{api_url}/work_pools/{pool}/workers/filter"
        request = urllib.request.Request(url, b"{}", headers)  # noqa: S310 (the test's own http server)
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 (the test's own server)
                return any(w["status"] == "ONLINE" for w in json.loads(resp.read()))
        except OSError:
            return False

    return start_server(
        command, what="prefect worker", log=workdir / "worker.log", cwd=workdir, env=env, ready=online,
        timeout=120,
    )  # fmt: skip

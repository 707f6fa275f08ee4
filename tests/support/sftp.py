"""A real OpenSSH SFTP server (the sftp image) plus client keys and known_hosts files for the store tests.

    keys = ClientKeys.generate(workdir)                 # ed25519, ecdsa, rsa, ed25519 with passphrase
    server = start_sftp_server(sandbox, workdir, keys.public_lines())
    server.uri("/data/artifacts")                      # sftp://mlops@127.0.0.1:<port>/data/artifacts
    server.known_hosts(workdir / "known_hosts")         # "[127.0.0.1]:<port> ssh-ed25519 ..."
    server.sha256("/data/artifacts/model.pkl")          # checked inside the container

The server publishes port 2222 on a fixed free loopback port, so the address survives a container
restart; other containers on the sandbox network reach it as `sftp:2222`.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.containers import RestrictedContainer, Sandbox

SFTP_PORT = 2222
SFTP_USER = "mlops"
DATA_DIR = "/data"
KEY_TYPES = ("ed25519", "ecdsa", "rsa")
PASSPHRASE = "correct horse battery staple"  # throw-away test key passphrase


def shared_workdir(prefix: str) -> Path:
    """A temp directory the container's arbitrary UID can traverse (pytest's tmp_path is root-only).

    The caller removes it (it holds private keys); see `workdir_removed_after`.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def workdir_removed_after(prefix: str) -> Iterator[Path]:
    path = shared_workdir(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _keygen(path: Path, key_type: str, passphrase: str = "") -> None:
    bits = ["-b", "3072"] if key_type == "rsa" else []
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            key_type,
            *bits,
            "-N",
            passphrase,
            "-C",
            f"test-{key_type}",
            "-f",
            str(path),
        ],
        check=True,
    )


def fingerprint(public_key_file: Path) -> str:
    """OpenSSH's SHA256 fingerprint of a public key file (what ssh-keygen -l prints)."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(public_key_file)], check=True, capture_output=True, text=True
    )
    return out.stdout.split()[1]


@dataclass(frozen=True)
class ClientKeys:
    """Private keys by name: the three types without passphrase, plus "ed25519-passphrase"."""

    directory: Path

    @classmethod
    def generate(cls, workdir: Path, name: str = "client-keys") -> ClientKeys:
        directory = workdir / name
        directory.mkdir()
        for key_type in KEY_TYPES:
            _keygen(directory / key_type, key_type)
        _keygen(directory / "ed25519-passphrase", "ed25519", PASSPHRASE)
        return cls(directory)

    def private(self, name: str) -> Path:
        return self.directory / name

    def public_lines(self) -> list[str]:
        return [p.read_text().strip() for p in sorted(self.directory.glob("*.pub"))]


@dataclass
class SFTPServer:
    container: RestrictedContainer
    host: str
    port: int
    host_key_public: str  # "ssh-ed25519 AAAA..."
    host_key_fingerprint: str  # "SHA256:..."
    user: str = SFTP_USER

    def uri(self, path: str, host: str | None = None, port: int | None = None) -> str:
        return f"sftp://{self.user}@{host or self.host}:{port or self.port}{path}"

    def known_hosts(self, path: Path, name: str | None = None) -> Path:
        """Write a known_hosts file vouching for this server under `name` (default `[host]:port`)."""
        path.write_text(f"{name or f'[{self.host}]:{self.port}'} {self.host_key_public}\n")
        path.chmod(0o644)
        return path

    def run(self, command: str) -> str:
        code, out = self.container.exec(["sh", "-c", command])
        if code != 0:
            raise AssertionError(f"`{command}` in {self.container.name} exited {code}: {out}")
        return out

    def sha256(self, remote_path: str) -> str:
        return self.run(f"sha256sum {shlex.quote(remote_path)}").split()[0]

    def listdir(self, remote_path: str) -> list[str]:
        """All names in a directory, hidden ones included."""
        return sorted(self.run(f"ls -A {shlex.quote(remote_path)}").split())

    def exists(self, remote_path: str) -> bool:
        code, _ = self.container.exec(["test", "-e", remote_path])
        return code == 0

    def _listening_count(self) -> int:
        return self.container.logs().count("Server listening on")

    def wait_ready(self, starts: int = 1, timeout: float = 60) -> None:
        """Wait until sshd has logged its `starts`-th start (restarts append to the same log)."""
        self.container.wait_for(lambda: self._listening_count() >= starts, "sshd listening", timeout)

    def kill(self) -> None:
        self.container.container.kill()

    def start(self) -> None:
        """Start a killed or stopped server again and wait until it answers."""
        starts = self._listening_count()
        self.container.start()
        self.wait_ready(starts + 1)
        _wait_for_published_port(self)

    def restart(self) -> None:
        starts = self._listening_count()
        self.container.restart(timeout=5)
        self.wait_ready(starts + 1)
        _wait_for_published_port(self)


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sftp_server(
    sandbox: Sandbox,
    workdir: Path,
    authorized_keys: list[str],
    alias: str = "sftp",
    data_tmpfs_size: str | None = None,
    sshd_config: Path | None = None,
) -> SFTPServer:
    """The sftp image with its host key and authorized_keys mounted read-only, as the chart mounts them.

    `data_tmpfs_size` (e.g. "8m") puts /data on a small tmpfs instead of a volume: a disk that fills up.
    `sshd_config` replaces the image's /etc/sftp/sshd_config (e.g. to refuse some SFTP requests).
    """
    host_keys = workdir / f"{alias}-host-keys"
    authorized = workdir / f"{alias}-authorized-keys"
    host_keys.mkdir(mode=0o755)
    authorized.mkdir(mode=0o755)
    _keygen(host_keys / "ssh_host_ed25519_key", "ed25519")
    # Secrets are mounted readable by group 0, the group every OpenShift UID runs with.
    (host_keys / "ssh_host_ed25519_key").chmod(0o640)
    (authorized / "authorized_keys").write_text("\n".join(authorized_keys) + "\n")
    (authorized / "authorized_keys").chmod(0o644)
    port = free_loopback_port()
    tmpfs = {"/tmp": "size=16m"}
    volumes = {str(host_keys): "/etc/sftp/host-keys-source", str(authorized): "/etc/sftp/authorized-keys"}
    if sshd_config is not None:
        sshd_config.chmod(0o644)
        volumes[str(sshd_config)] = "/etc/sftp/sshd_config"
    if data_tmpfs_size:
        tmpfs[DATA_DIR] = f"size={data_tmpfs_size},mode=0770"  # root:root, writable through group 0
    else:
        volumes[sandbox.volume(f"{alias}-data")] = DATA_DIR
    container = sandbox.run(
        "sftp",
        alias=alias,
        env={"SFTP_USER": SFTP_USER},
        tmpfs=tmpfs,
        volumes=volumes,
        read_only_mounts=["/etc/sftp/host-keys-source", "/etc/sftp/authorized-keys", "/etc/sftp/sshd_config"],
        ports={f"{SFTP_PORT}/tcp": ("127.0.0.1", port)},
    )
    public = (host_keys / "ssh_host_ed25519_key.pub").read_text().split()
    server = SFTPServer(
        container=container,
        host="127.0.0.1",
        port=port,
        host_key_public=f"{public[0]} {public[1]}",
        host_key_fingerprint=fingerprint(host_keys / "ssh_host_ed25519_key.pub"),
    )
    server.wait_ready()
    _wait_for_published_port(server)
    return server


def _wait_for_published_port(server: SFTPServer, timeout: float = 20) -> None:
    """docker-proxy accepts before sshd answers; wait for the SSH banner through the published port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((server.host, server.port), timeout=2) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no SSH banner on {server.host}:{server.port}:\n{server.container.logs(tail=20)}")


@dataclass
class ProxyingMlflow:
    """The mlflow image serving artifacts from the SFTP server (`--serve-artifacts`), on PostgreSQL."""

    container: RestrictedContainer
    url: str
    username: str
    password: str
    artifacts_root: str  # the directory on the SFTP server
    env: dict[str, str] = field(default_factory=dict)  # the server container's environment
    credentials: Path | None = None  # the host folder mounted at /etc/mlflow-sftp

    def client_env(self) -> dict[str, str]:
        """What a data scientist's process needs: the server and a login, no SFTP credentials."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": self.username,
            "MLFLOW_TRACKING_PASSWORD": self.password,
        }


def start_mlflow_proxying_to(
    sandbox: Sandbox,
    workdir: Path,
    server: SFTPServer,
    client_key: Path,
    artifacts_root: str = "/data/mlflow-artifacts",
    workers: int = 2,
    auth: bool = True,
) -> ProxyingMlflow:
    """PostgreSQL + `db-upgrade` + the MLflow server, wired as the chart wires them (images/README.md).

    The server reaches the SFTP server by its network alias, so known_hosts names `[sftp]:2222`.
    """
    credentials = workdir / "mlflow-sftp"
    credentials.mkdir(mode=0o755)
    (credentials / "id").write_bytes(client_key.read_bytes())
    (credentials / "id").chmod(0o640)  # a Secret readable by group 0
    server.known_hosts(credentials / "known_hosts", name=f"[sftp]:{SFTP_PORT}")
    db_password, admin_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)

    db = sandbox.run(
        "postgresql",
        alias="db",
        env={"POSTGRES_ADMIN_PASSWORD": secrets.token_urlsafe(16), "POSTGRES_PASSWORD": db_password},
        tmpfs={"/tmp": ""},
        volumes={sandbox.volume("pgdata"): "/var/lib/postgresql/data"},
    )
    db.wait_for_port(5432, timeout=120)
    env = {
        "MLFLOW_DB_HOST": "db",
        "MLFLOW_DB_USER": "mlflow",
        "MLFLOW_DB_PASSWORD": db_password,
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(32),
        "MLFLOW_ARTIFACTS_DESTINATION": f"sftp://{server.user}@sftp:{SFTP_PORT}{artifacts_root}",
        "MLOPS_SFTP_KEY_FILE": "/etc/mlflow-sftp/id",
        "MLOPS_SFTP_KNOWN_HOSTS": "/etc/mlflow-sftp/known_hosts",
        "MLFLOW_WORKERS": str(workers),
        "MLFLOW_AUTH_ENABLED": "true" if auth else "false",
    }
    upgrade = sandbox.run("mlflow", name="db-upgrade", env=env, command=["db-upgrade"], tmpfs={"/tmp": ""})
    code = upgrade.wait_for_exit(timeout=300)
    if code != 0:
        raise AssertionError(f"mlflow db-upgrade exited {code}:\n{upgrade.logs(tail=40)}")
    return _start_mlflow_server(sandbox, "mlflow", env, credentials, artifacts_root)


def _start_mlflow_server(
    sandbox: Sandbox, alias: str, env: dict[str, str], credentials: Path, artifacts_root: str
) -> ProxyingMlflow:
    mlflow = sandbox.run(
        "mlflow",
        alias=alias,
        env=env,
        tmpfs={"/tmp": ""},
        volumes={str(credentials): "/etc/mlflow-sftp"},
        read_only_mounts=["/etc/mlflow-sftp"],
    )
    mlflow.wait_for_http(5000, "/health", timeout=180)
    return ProxyingMlflow(
        container=mlflow,
        url=mlflow.url(5000).rstrip("/"),
        username="admin",
        password=env["MLFLOW_AUTH_ADMIN_PASSWORD"],
        artifacts_root=artifacts_root,
        env=env,
        credentials=credentials,
    )


def start_mlflow_beside(sandbox: Sandbox, first: ProxyingMlflow, alias: str, auth: bool) -> ProxyingMlflow:
    """A second MLflow server on the same database and SFTP server, with basic-auth on or off (the auth
    database is created by its first start)."""
    env = {**first.env, "MLFLOW_AUTH_ENABLED": "true" if auth else "false"}
    assert first.credentials is not None
    return _start_mlflow_server(sandbox, alias, env, first.credentials, first.artifacts_root)

"""Fixtures for the image tests: a Docker sandbox per module, SSH keys, host-side mount folders."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.images.kubelet import PodVolumes
from tests.support.containers import RestrictedContainer, Sandbox, docker_client, image_missing


def _unavailable(reason: str) -> None:
    # CI must never pass by skipping the image tests; a developer without Docker may skip them.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine() -> docker.DockerClient:
    try:
        client = docker_client()
        client.ping()
    except docker.errors.DockerException as err:
        _unavailable(f"no Docker engine answers ({err}); start one with scripts/docker-engine")
    return client


@pytest.fixture(scope="session")
def images_built(docker_engine: docker.DockerClient) -> None:
    for component in ("postgresql", "sftp", "mlflow", "prefect"):
        reason = image_missing(component, docker_engine)
        if reason:
            _unavailable(reason)


@pytest.fixture(scope="module")
def sandbox(images_built: None, docker_engine: docker.DockerClient) -> Iterator[Sandbox]:
    with Sandbox("img-", docker_engine) as box:
        yield box


def new_password() -> str:
    """Random, with the characters that break naive quoting in URIs, SQL and ini files."""
    return f"{secrets.token_urlsafe(12)} %@:/'\"#;$"


@dataclass(frozen=True)
class SSHKey:
    private_path: Path
    public_line: str


def make_ssh_key(folder: Path, name: str = "id_ed25519") -> SSHKey:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    path = folder / name
    path.write_bytes(private)
    path.chmod(0o600)
    (folder / f"{name}.pub").write_bytes(public + b"\n")
    return SSHKey(path, public.decode())


def mount_folder(parent: Path, name: str, files: dict[str, str | bytes]) -> Path:
    """A host folder to bind-mount read-only (like a Secret): readable by any container UID."""
    folder = parent / name
    folder.mkdir(parents=True)
    for file_name, content in files.items():
        target = folder / file_name
        if isinstance(content, str):
            content = content.encode()
        target.write_bytes(content)
        target.chmod(0o644)
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def mount_root() -> Iterator[Path]:
    """A host folder the container UIDs can traverse (pytest's own temporary folders are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="img-mounts-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


POSTGRES_DATA = "/var/lib/postgresql/data"
# What the chart declares for PostgreSQL: the data PVC and an emptyDir for /tmp (socket, passwd file).
POSTGRES_TMPFS = {"/tmp": "size=64m"}


def start_postgres(
    sandbox: Sandbox,
    volume: str | None,
    env: dict[str, str],
    name: str = "pg",
    secrets: dict[str, str] | None = None,
    pod: PodVolumes | None = None,
) -> RestrictedContainer:
    """`secrets`: host folder -> container path, mounted read-only like a Secret. `volume` is the data
    volume; or the kubelet-prepared `pod` mounts its volumes (tests/images/kubelet.py)."""
    secrets = secrets or {}
    volumes = {volume: POSTGRES_DATA} if volume is not None else {}
    options = pod.run_options(tmpfs=POSTGRES_TMPFS) if pod else {"tmpfs": POSTGRES_TMPFS}
    return sandbox.run(
        "postgresql",
        name=name,
        alias=name,
        env=env,
        volumes={**volumes, **secrets},
        read_only_mounts=secrets.values(),
        **options,
    )


def wait_for_postgres(container: RestrictedContainer) -> None:
    """Ready means the final server (not the socket-only setup one) accepts connections."""

    def serving() -> bool:
        logs = container.logs()
        marker = "run-postgresql: starting PostgreSQL"
        return marker in logs and "ready to accept connections" in logs.rsplit(marker, 1)[-1]

    container.wait_for(serving, "PostgreSQL on port 5432", timeout=90)
    container.wait_for_port(5432)

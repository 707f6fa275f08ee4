"""The upgrade that separates the stores keeps every existing artifact and DVC object (issue 13).

On the local runner, as a stack of its own (project `<PROJECT>-upgrade`, its own state and ports): the
chart as it was before this change (the merge base with main, one sshd serving all of /data) is
installed, an artifact is logged through MLflow and DVC objects are stored as a data scientist, then
this commit's chart is applied over it (`up` again: an upgrade, pre-upgrade hooks included). Afterwards
every file of the volume is still there, byte for byte, MLflow serves the artifact from its own store
and the data scientist reads the DVC objects, but nothing of MLflow's tree, through the DVC store.
Prefect is off: it plays no part in the stores and would double the stack's start-up time.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml

from mlops_stack.localrun.plan import docker_name

from .targets import REPO_ROOT, SFTP_HOST_KEYS_DIR, LocalStack

pytestmark = [pytest.mark.slow, pytest.mark.stack]

PROJECT = f"{LocalStack.PROJECT}-upgrade"
RELEASE = "mlops-stack"
BIND = "127.0.0.1"
MLFLOW_PORT = LocalStack.MLFLOW_PORT + 1
SFTP_PORT = LocalStack.SFTP_PORT + 1
MARKER = uuid.uuid4().hex
DVC_OBJECT = f"/data/dvc/team/iris/files/md5/{MARKER[:2]}/{MARKER[2:]}"
DVC_SHARED_OBJECT = f"/data/dvc/files/md5/{MARKER[2:4]}/{MARKER[4:]}"  # the shared path of old inits


class Stack:
    """One local-runner stack driven directly (`python -m mlops_stack.localrun up`), chart by chart."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.client_key = state / "client" / "id_ed25519"

    def localrun(self, *args: str, timeout: int = 1500) -> str:
        command = [
            sys.executable,
            "-m",
            "mlops_stack.localrun",
            "--project",
            PROJECT,
            "--state-dir",
            str(self.state),
        ]
        done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            output = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            pytest.fail(f"localrun {args[0]} failed ({done.returncode}):\n{output}")
        return done.stdout.strip()

    def values(self) -> list[str]:
        prefix = os.environ.get("IMAGE_PREFIX") or "mlops-stack"
        public = self.client_key.with_suffix(".pub").read_text().strip()
        values: dict[str, Any] = {
            c: {"image": {"repository": f"{prefix}/{c}"}} for c in ("mlflow", "postgresql", "sftp")
        }
        values["sftp"]["authorizedKeys"] = [public]
        values["prefect"] = {"enabled": False}
        path = self.state / "upgrade-values.yaml"
        path.write_text(yaml.safe_dump(values))
        return ["--values", str(path)]

    def up(self, chart: Path) -> str:
        return self.localrun(
            "up",
            "--chart", str(chart),
            "--release", RELEASE,
            "--helm", str(REPO_ROOT / ".tools" / "bin" / "helm"),
            "--timeout", "900",
            "--values", str(chart / "ci" / "local-docker-values.yaml"),
            *self.values(),
            "--publish", f"{RELEASE}-mlflow:5000={BIND}:{MLFLOW_PORT}",
            "--publish", f"{RELEASE}-sftp:2222={BIND}:{SFTP_PORT}",
        )  # fmt: skip

    def secret(self, name: str, key: str) -> str:
        return self.localrun("secret", name, key)

    def volume_digests(self) -> dict[str, str]:
        """Every file of the data volume (read from the Docker volume, not through a server)."""
        prefix = os.environ.get("IMAGE_PREFIX") or "mlops-stack"
        volume = docker_name(PROJECT, f"{RELEASE}-sftp")
        script = f"cd /v && find . -type f ! -path './{SFTP_HOST_KEYS_DIR}/*' -exec sha256sum {{}} +"
        done = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--user", "1000680000:0", "--read-only",
             "--cap-drop", "ALL", "--entrypoint", "sh", "-v", f"{volume}:/v:ro", f"{prefix}/sftp:0.1.0",
             "-c", script],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        pairs = (line.split(maxsplit=1) for line in done.stdout.splitlines())
        return {path.removeprefix("./"): digest for digest, path in pairs}


# The last release of the chart with one sshd serving all of /data: the commit before the stores were
# separated (a merge base with main stops being that once the change is on main).
ONE_SSHD_CHART = "b72d62f"


def previous_chart(into: Path) -> Path:
    """The chart before this change (one sshd serving all of /data), from git history."""
    base = ONE_SSHD_CHART
    archive = subprocess.run(
        ["git", "archive", base, "charts"], cwd=REPO_ROOT, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "charts" / "mlops-stack"


def ssh(stack: Stack, key: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    fingerprint = stack.localrun("fingerprint", f"{RELEASE}-sftp-host-keys", "ssh_host_ecdsa_key")

    class Pinned(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, found: paramiko.PKey) -> None:
            if found.fingerprint != fingerprint:
                raise paramiko.SSHException(f"host key {found.fingerprint}, pinned {fingerprint}")

    client.set_missing_host_key_policy(Pinned())
    client.connect(
        BIND, SFTP_PORT, "mlops", pkey=paramiko.PKey.from_path(key), allow_agent=False, look_for_keys=False
    )
    return client


def mlflow_client(stack: Stack) -> Any:  # mlflow is imported lazily (seconds)
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = stack.secret(f"{RELEASE}-mlflow", "admin-password")
    return MlflowClient(tracking_uri=f"http://{BIND}:{MLFLOW_PORT}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("upgrade-stack")
    (state / "client").mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(state / "client" / "id_ed25519")],
        check=True,
    )
    stack = Stack(state)
    try:
        yield stack
    finally:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlops_stack.localrun",
                "--project",
                PROJECT,
                "--state-dir",
                str(state),
                "clean",
            ],
            check=False,
        )


def test_the_upgrade_to_separated_stores_keeps_every_artifact_and_dvc_object(
    stack: Stack, tmp_path: Path
) -> None:
    stack.up(previous_chart(tmp_path / "previous"))
    client = mlflow_client(stack)
    run = client.create_run(client.create_experiment(f"upgrade-{MARKER[:8]}"))
    client.log_text(run.info.run_id, MARKER, "before-upgrade.txt")
    with ssh(stack, stack.client_key) as before, before.open_sftp() as sftp:
        for path in (DVC_OBJECT, DVC_SHARED_OBJECT):
            for depth in range(2, path.count("/")):  # /data/dvc first: a new install has none
                parent = "/".join(path.split("/")[: depth + 1])
                with contextlib.suppress(OSError):  # exists
                    sftp.mkdir(parent)
            sftp.putfo(io.BytesIO(MARKER.encode()), path)
        # The old layout's hole this change closes: the data scientist's key reaches MLflow's tree.
        assert "mlflow-artifacts" in sftp.listdir("/data")
    stored = stack.volume_digests()
    assert {
        f"dvc/{DVC_OBJECT.removeprefix('/data/dvc/')}",
        f"dvc/{DVC_SHARED_OBJECT.removeprefix('/data/dvc/')}",
    } <= set(stored)

    stack.up(REPO_ROOT / "charts" / "mlops-stack")

    assert stack.volume_digests() == stored  # every file kept, byte for byte
    downloaded = client.download_artifacts(run.info.run_id, "before-upgrade.txt", str(tmp_path))
    assert Path(downloaded).read_text() == MARKER  # MLflow serves it from its own store
    with ssh(stack, stack.client_key) as after, after.open_sftp() as sftp:
        for path in (DVC_OBJECT, DVC_SHARED_OBJECT):
            assert sftp.open(path).read().decode() == MARKER
        assert sftp.listdir("/data") == ["dvc"]
    mlflow_key = tmp_path / "mlflow"
    mlflow_key.write_text(stack.secret(f"{RELEASE}-mlflow-sftp-key", "ssh-privatekey") + "\n")
    mlflow_key.chmod(0o600)
    with pytest.raises(paramiko.AuthenticationException):  # MLflow's key is no longer one of the DVC store's
        ssh(stack, mlflow_key)
    # A new run after the upgrade lands in the same store.
    client.log_text(run.info.run_id, "after", "after-upgrade.txt")
    assert "mlflow-artifacts/" in " ".join(
        p for p in stack.volume_digests() if p.endswith("after-upgrade.txt")
    )

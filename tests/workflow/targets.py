"""The two places the workflow suite runs against, behind one small interface.

`LocalStack`: the whole stack from the rendered chart on the local Docker engine (`make up`,
scripts/stack-up), as a stack of its own beside a developer's `make up`: its own Docker project
(`mlops-stack-tests-<checkout>`, named after this checkout's path, so that a stack another checkout left
running on the same engine, e.g. one that dockerd restarted after a reboot, is never touched nor
mistaken for this one), state directory (`.stack-tests/`) and ports (15000, 12222, 14200, or free ones
when something else holds them), each overridable with the same variables as `make up` (PROJECT,
STACK_DIR, MLFLOW_PORT, SFTP_PORT, PREFECT_PORT). It starts from nothing (`make clean` of that project
first), so leftovers of an interrupted run cannot make it pass or fail, and is removed at the end, unless
KEEP_STACK=1, which keeps it running for the next session to reuse.

`KindCluster`: the chart installed on the kind cluster a kubeconfig names (scripts/kind-up, or installed
here), reached through `kubectl port-forward`; `helm test` runs with the helm CLI.

Both give the same `Endpoints` (tracking URI, admin credentials, SFTP endpoint and user, the data
scientist's key, the pinned host key), run the chart's test hook, and list what the SFTP server stores.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pytest
from tests.support.containers import image_ref
from tests.support.servers import http_ok
from tests.support.workflow import Endpoints

from mlops_stack.localrun.plan import docker_name

from . import cluster, git_server

if TYPE_CHECKING:
    import paramiko

REPO_ROOT = Path(__file__).resolve().parents[2]
SFTP_DATA_DIR = PurePosixPath("/data")  # the SFTP server's data volume, as its user sees it
SFTP_HOST_KEYS_DIR = ".sftp-host-keys"  # kept on the volume by the image; not the stack's data
SFTP_USER = "mlops"
READY_TIMEOUT_SEC = 600


@dataclass(frozen=True)
class HelmTest:
    """What running the chart's test hooks returned and printed."""

    returncode: int
    output: str  # stdout, where the runners report
    errors: str  # stderr


class Target(ABC):
    """A running stack the data scientist's workflow is tried on."""

    name: str
    endpoints: Endpoints

    @abstractmethod
    def helm_test(self) -> HelmTest:
        """Run the chart's `helm test` hooks against the running release."""

    @abstractmethod
    def helm_test_problems(self, output: str) -> list[str]:
        """What the runner's output lacks to say the test hook ran and passed (empty when it says so)."""

    @abstractmethod
    def sftp_data_digests(self, known_hosts: Path) -> dict[str, str]:
        """{path under the SFTP data volume: sha256} of every file the stack stored there."""

    prefect_api_url: str  # the Prefect API as this host reaches it

    @abstractmethod
    def prefect_auth_string(self) -> str:
        """The Prefect server's `user:password`, from where the stack keeps it."""

    @abstractmethod
    def git_server(self, repo: str) -> contextlib.AbstractContextManager[str]:
        """A git server the stack's Prefect worker reaches as `git://git-server/<repo>`; yields the URL this
        host pushes to (tests/workflow/git_server.py)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sftp_session(endpoints: Endpoints, known_hosts: Path) -> paramiko.SFTPClient:
    """An SFTP session as the data scientist, the host key checked against `known_hosts`."""
    import paramiko

    ssh = paramiko.SSHClient()
    ssh.load_host_keys(str(known_hosts))  # pinned by `mlops init`
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(
        endpoints.sftp_host,
        port=endpoints.sftp_port,
        username=endpoints.sftp_user,
        key_filename=str(endpoints.identity_file),
        allow_agent=False,
        look_for_keys=False,
    )
    return ssh.open_sftp()


def pinned_session(endpoints: Endpoints) -> paramiko.SFTPClient:
    """An SFTP session with `endpoints`' key, the host key checked against its pinned fingerprint."""
    import paramiko

    class Pinned(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            if key.fingerprint != endpoints.host_key_fingerprint:
                raise paramiko.SSHException(
                    f"{hostname}: {key.fingerprint}, pinned {endpoints.host_key_fingerprint}"
                )

    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(Pinned())
    ssh.connect(
        endpoints.sftp_host,
        port=endpoints.sftp_port,
        username=endpoints.sftp_user,
        pkey=paramiko.PKey.from_path(endpoints.identity_file),
        allow_agent=False,
        look_for_keys=False,
    )
    return ssh.open_sftp()


# ---- the local stack


def _checkout_project() -> str:
    return "mlops-stack-tests-" + hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]


def _port(variable: str, preferred: int, bind: str, kept: dict[str, int]) -> int:
    """The variable's port, else the one the stack this suite kept runs on, else `preferred` when it is
    free, else any free port: another stack on this machine must not make the suite fail to start."""
    if variable in os.environ:
        return int(os.environ[variable])
    if variable in kept:
        return int(kept[variable])
    if _free(bind, preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind((bind, 0))
        return int(probe.getsockname()[1])


def _free(bind: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((bind, port))
        except OSError:
            return False
        return True


class LocalStack(Target):
    name = "local"
    PROJECT = os.environ.get("PROJECT") or _checkout_project()
    STACK_DIR = Path(os.environ.get("STACK_DIR", REPO_ROOT / ".stack-tests")).resolve()
    BIND = os.environ.get("BIND_ADDRESS", "127.0.0.1")
    KEPT_PORTS = STACK_DIR / "kept-ports.json"  # written with KEEP_STACK=1: where the kept stack listens
    _kept = json.loads(KEPT_PORTS.read_text()) if KEPT_PORTS.exists() else {}
    MLFLOW_PORT = _port("MLFLOW_PORT", 15000, BIND, _kept)
    SFTP_PORT = _port("SFTP_PORT", 12222, BIND, _kept)
    PREFECT_PORT = _port("PREFECT_PORT", 14200, BIND, _kept)
    TRACKING_URI = f"http://{BIND}:{MLFLOW_PORT}"
    PREFECT_API_URL = f"http://{BIND}:{PREFECT_PORT}/api"
    NETWORK = f"{PROJECT}-net"  # the local runner's network (localrun/engine.py): the pods' Service names
    SFTP_VOLUME = docker_name(PROJECT, "mlops-stack-sftp")

    def __init__(self, up_output: str) -> None:
        self.up_output = up_output  # what `make up` printed ("" when a kept stack was reused)
        self.prefect_api_url = self.PREFECT_API_URL
        self.endpoints = self.read_endpoints()

    @classmethod
    def env(cls) -> dict[str, str]:
        """What `make up`, `make down` and `make clean` read to run this stack and not another."""
        return {
            **os.environ,
            "PROJECT": cls.PROJECT,
            "STACK_DIR": str(cls.STACK_DIR),
            "MLFLOW_PORT": str(cls.MLFLOW_PORT),
            "SFTP_PORT": str(cls.SFTP_PORT),
            "PREFECT_PORT": str(cls.PREFECT_PORT),
        }

    @classmethod
    def reusable(cls) -> bool:
        """A stack this suite kept (KEEP_STACK=1) that still answers."""
        kept = (cls.STACK_DIR / "release.json").exists()
        return kept and http_ok(f"{cls.TRACKING_URI}/health", timeout=3)

    @classmethod
    def make(cls, target: str, **extra_env: str) -> str:
        """`make up` / `make down` as a user runs them (images are built by `make test` before the tests)."""
        env = {**cls.env(), "SKIP_IMAGES": "1", "FORCE": "1", **extra_env}
        command = ["make", "--no-print-directory", target]
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(
                f"make {target} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
            )
        return done.stdout

    @classmethod
    def localrun(cls, *args: str) -> str:
        command = [sys.executable, "-m", "mlops_stack.localrun", "--state-dir", str(cls.STACK_DIR), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def prefect_auth_string(self) -> str:
        return self.localrun("secret", "mlops-stack-prefect", "auth-string")

    def git_server(self, repo: str) -> contextlib.AbstractContextManager[str]:
        name = f"{self.PROJECT}-test-git-server-{uuid.uuid4().hex[:8]}"
        return git_server.on_docker_network(image_ref("prefect"), self.NETWORK, name, repo)

    def read_endpoints(self) -> Endpoints:
        return Endpoints(
            tracking_uri=self.TRACKING_URI,
            username="admin",
            password=self.localrun("secret", "mlops-stack-mlflow", "admin-password"),
            sftp_host=self.BIND,
            sftp_port=self.SFTP_PORT,
            sftp_user=SFTP_USER,
            identity_file=self.STACK_DIR / "client" / "id_ed25519",
            host_key_fingerprint=self.localrun(
                "fingerprint", "mlops-stack-sftp-host-keys", "ssh_host_ecdsa_key"
            ),
        )

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[LocalStack]:
        started = not cls.reusable()
        if started:
            cls.KEPT_PORTS.unlink(missing_ok=True)
            cls.make("clean", BACKUPS="delete")  # a test stack starts from nothing, backups included
        output = cls.make("up") if started else ""
        yield cls(output)
        if os.environ.get("KEEP_STACK") == "1":
            ports = {"MLFLOW_PORT": cls.MLFLOW_PORT, "SFTP_PORT": cls.SFTP_PORT}
            cls.KEPT_PORTS.write_text(json.dumps({**ports, "PREFECT_PORT": cls.PREFECT_PORT}))
        else:
            cls.make("clean", BACKUPS="delete")

    def down_and_up(self) -> str:
        """`make down && make up` (data kept); returns what `make up` printed."""
        self.make("down")
        return self.make("up")

    def helm_test(self) -> HelmTest:
        done = subprocess.run(
            [str(REPO_ROOT / "scripts" / "stack-up"), "--test"],
            cwd=REPO_ROOT,
            env={**self.env(), "TIMEOUT": "600"},
            capture_output=True,
            text=True,
            check=False,
        )
        return HelmTest(done.returncode, done.stdout, done.stderr)

    def helm_test_problems(self, output: str) -> list[str]:
        expected = ["hook test Pod/mlops-stack-test (weight 0): running", "1 test hook(s) passed"]
        last = output.splitlines()[-2:]
        return [] if last == expected else [f"the local runner ended with {last}, not {expected}"]

    def sftp_data_digests(self, known_hosts: Path) -> dict[str, str]:
        """Read straight from the Docker volume, not through the SFTP server."""
        image = (
            f"{os.environ.get('IMAGE_PREFIX') or 'mlops-stack'}/sftp:{os.environ.get('IMAGE_TAG') or '0.1.0'}"
        )
        done = subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--user",
                "1000680000:0",
                "--read-only",
                "--cap-drop",
                "ALL",
                "--entrypoint",
                "sh",
                "-v",
                f"{self.SFTP_VOLUME}:/v:ro",
                image,
                "-c",
                f"cd /v && find . -type f ! -path './{SFTP_HOST_KEYS_DIR}/*' -exec sha256sum {{}} +",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        digests = {}
        for line in done.stdout.splitlines():
            digest, path = line.split(maxsplit=1)
            digests[path.removeprefix("./")] = digest
        return digests


# ---- a kind cluster


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    kubeconfig: Path

    def service(self, component: str) -> str:
        return cluster.component_name(self.kubeconfig, "service", component, self.name, self.namespace)

    def objects(self, kind: str) -> list[dict]:
        return cluster.objects(self.kubeconfig, kind, self.namespace, {cluster.INSTANCE_LABEL: self.name})

    def image_of(self, kind: str, component: str) -> str:
        return cluster.image_of(self.kubeconfig, kind, component, self.name, self.namespace)


class KindCluster(Target):
    name = "cluster"

    def __init__(
        self, release: Release, mlflow_port: int, sftp_port: int, mlflow_store_port: int, prefect_port: int
    ) -> None:
        self.release = release
        self.mlflow_store_port = mlflow_store_port  # MLflow's artifact store (its own sshd and Service)
        self.prefect_api_url = f"http://127.0.0.1:{prefect_port}/api"
        self.admin = cluster.admin_credentials(release.kubeconfig, release.name, release.namespace)
        self.endpoints = Endpoints(
            tracking_uri=f"http://127.0.0.1:{mlflow_port}",
            username=self.admin.username,
            password=self.admin.password,
            sftp_host="127.0.0.1",
            sftp_port=sftp_port,
            sftp_user=SFTP_USER,
            identity_file=cluster.DATA_SCIENTIST_KEY,
            host_key_fingerprint=cluster.sftp_host_key_fingerprint(
                release.kubeconfig, release.name, release.namespace
            ),
        )

    @staticmethod
    def ready_release(kubeconfig: Path) -> Release:
        """The chart installed on kind (by scripts/kind-up, else here) with every workload ready."""
        # pytest-helm-charts' wait helpers (the conditions `helm --wait` uses) speak pykube.
        import pykube
        from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run
        from pytest_helm_charts.k8s.stateful_set import wait_for_stateful_sets_to_run

        cluster.ensure_release(kubeconfig)
        found = Release(cluster.RELEASE, cluster.NAMESPACE, kubeconfig)
        deployments = [
            cluster.component_name(kubeconfig, "deployment", c, found.name, found.namespace)
            for c in ("mlflow", "sftp", "prefect", "prefect-worker")
        ]
        statefulset = cluster.component_name(
            kubeconfig, "statefulset", "postgresql", found.name, found.namespace
        )
        kube = pykube.HTTPClient(pykube.KubeConfig.from_file(str(kubeconfig)))
        wait_for_stateful_sets_to_run(kube, [statefulset], found.namespace, READY_TIMEOUT_SEC)
        wait_for_deployments_to_run(kube, deployments, found.namespace, READY_TIMEOUT_SEC)
        return found

    @classmethod
    @contextlib.contextmanager
    def running(cls, kubeconfig: Path) -> Iterator[KindCluster]:
        release = cls.ready_release(kubeconfig)
        forward = release.kubeconfig, release.namespace
        with (
            cluster.port_forward(*forward, release.service("mlflow"), 5000) as mlflow_port,
            cluster.port_forward(*forward, release.service("sftp"), 2222) as sftp_port,
            cluster.port_forward(*forward, release.service("sftp-mlflow"), 2223) as mlflow_store_port,
            cluster.port_forward(*forward, release.service("prefect"), 4200) as prefect_port,
        ):
            yield cls(release, mlflow_port, sftp_port, mlflow_store_port, prefect_port)

    def prefect_auth_string(self) -> str:
        release = self.release
        secret = cluster.read(release.kubeconfig, "secret", release.service("prefect"), release.namespace)
        return base64.b64decode(secret["data"]["auth-string"]).decode()

    def git_server(self, repo: str) -> contextlib.AbstractContextManager[str]:
        release = self.release
        image = release.image_of("deployment", "prefect-worker")
        return git_server.in_cluster(release.kubeconfig, release.namespace, image, repo)

    def helm_test(self) -> HelmTest:
        release = self.release
        done = cluster.helm(
            release.kubeconfig, "test", release.name, "-n", release.namespace, "--logs", "--timeout", "10m"
        )
        return HelmTest(done.returncode, done.stdout, done.stderr)

    def helm_test_problems(self, output: str) -> list[str]:
        evidence = ["Phase:          Succeeded", "OK: run ", "artifact found at sftp:/data/mlflow-artifacts/"]
        return [f"no {line!r} in the output of helm test" for line in evidence if line not in output]

    def sftp_data_digests(self, known_hosts: Path) -> dict[str, str]:
        """Walked through the SFTP server (the volume is a claim inside the cluster): the DVC store with
        the data scientist's key, MLflow's store with MLflow's key (each sshd serves only its own)."""
        release = self.release
        secret = cluster.read(
            release.kubeconfig, "secret", f"{release.service('mlflow')}-sftp-key", release.namespace
        )
        with tempfile.TemporaryDirectory() as tmp:
            mlflow_key = Path(tmp, "id_mlflow")
            mlflow_key.write_bytes(base64.b64decode(secret["data"]["ssh-privatekey"]))
            mlflow_key.chmod(0o600)
            mlflow_store = dataclasses.replace(
                self.endpoints, sftp_port=self.mlflow_store_port, identity_file=mlflow_key
            )
            # known_hosts pins the DVC store's address only; MLflow's store presents the same host key.
            with pinned_session(mlflow_store) as sftp:
                mlflow_digests = self._digests(sftp)
        with sftp_session(self.endpoints, known_hosts) as sftp:
            return {**self._digests(sftp), **mlflow_digests}

    @staticmethod
    def _digests(sftp: paramiko.SFTPClient) -> dict[str, str]:
        digests: dict[str, str] = {}
        pending = [SFTP_DATA_DIR]
        while pending:
            directory = pending.pop()
            for entry in sftp.listdir_attr(str(directory)):
                path = directory / entry.filename
                relative = str(path.relative_to(SFTP_DATA_DIR))
                if relative == SFTP_HOST_KEYS_DIR:
                    continue
                if stat.S_ISDIR(entry.st_mode or 0):
                    pending.append(path)
                elif stat.S_ISREG(entry.st_mode or 0):
                    with sftp.open(str(path)) as f:
                        digests[relative] = hashlib.sha256(f.read()).hexdigest()
        return digests

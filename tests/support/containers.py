"""Run the project's images the way OpenShift's restricted-v2 SCC runs them, on the local Docker engine.

Every container gets an arbitrary UID in group 0, a read-only root filesystem, no capabilities and
no-new-privileges; only the tmpfs and volumes a test passes (the ones the chart declares) are writable.
A `Sandbox` owns everything it creates (containers, one network, volumes) and removes it all in
`cleanup()`, so a test module needs one fixture:

    @pytest.fixture(scope="module")
    def sandbox():
        with Sandbox("img-pg-") as box:
            yield box

    db = sandbox.run("postgresql", alias="db", env={...}, tmpfs={"/tmp": ""},
                     volumes={sandbox.volume("data"): "/var/lib/postgresql/data"})
    db.wait_for_port(5432)
    host, port = db.address(5432)   # reachable from the test process
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from tests.support.servers import http_ok, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_YAML = REPO_ROOT / "charts" / "mlops-stack" / "Chart.yaml"

# A UID from an OpenShift namespace range, always with GID 0 (restricted-v2 SCC).
RESTRICTED_USER = "1000680000:0"
RESTRICTED_UID = 1000680000


def chart_app_version() -> str:
    """The chart's appVersion, which is the tag `make images` gives the images."""
    match = re.search(r'^appVersion:\s*"?([^"\s]+)"?\s*$', CHART_YAML.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no appVersion in {CHART_YAML}")
    return match.group(1)


def image_ref(component: str) -> str:
    """`$IMAGE_PREFIX/<component>:$IMAGE_TAG`, with the Makefile's defaults."""
    prefix = os.environ.get("IMAGE_PREFIX") or "mlops-stack"
    tag = os.environ.get("IMAGE_TAG") or chart_app_version()
    return f"{prefix}/{component}:{tag}"


def docker_client() -> docker.DockerClient:
    return docker.from_env(timeout=300)


def image_missing(component: str, client: docker.DockerClient | None = None) -> str | None:
    """None when the image exists locally, else a reason naming the command that builds it."""
    client = client or docker_client()
    ref = image_ref(component)
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return f"image {ref} not built: run `make images`"
    return None


class ContainerFailed(AssertionError):
    """A container exited or never became ready; the message carries its log tail."""


class RestrictedContainer:
    """One running container plus the waits and probes the tests need."""

    def __init__(self, container: Container, network: str | None) -> None:
        self.container = container
        self.network = network

    @property
    def name(self) -> str:
        return self.container.name

    def reload(self) -> RestrictedContainer:
        self.container.reload()
        return self

    @property
    def status(self) -> str:
        return self.reload().container.status

    def ip(self) -> str:
        """The container's address on its network (reachable from the host on Linux)."""
        self.reload()
        networks = self.container.attrs["NetworkSettings"]["Networks"]
        net = networks.get(self.network) if self.network else next(iter(networks.values()), None)
        if not net or not net.get("IPAddress"):
            raise ContainerFailed(f"{self.name} has no IP address (status {self.container.status})")
        return net["IPAddress"]

    def address(self, port: int) -> tuple[str, int]:
        return self.ip(), port

    def logs(self, tail: int | str = "all") -> str:
        return self.container.logs(tail=tail).decode(errors="replace")

    def _fail(self, what: str) -> ContainerFailed:
        self.reload()
        return ContainerFailed(
            f"{self.name}: {what} (status {self.container.status}); last log lines:\n{self.logs(tail=40)}"
        )

    def _check_running(self) -> None:
        if self.status in ("exited", "dead"):
            raise self._fail("exited")

    def wait_for(
        self, probe: Callable[[], bool], what: str, timeout: float = 60, interval: float = 0.3
    ) -> None:
        """Poll `probe` until it returns True; fail early when the container exits."""
        wait_until(
            probe,
            timeout=timeout,
            interval=interval,
            check=self._check_running,
            timed_out=lambda: self._fail(f"{what} not ready after {timeout:.0f} s"),
        )

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        def open_() -> bool:
            try:
                with socket.create_connection(self.address(port), timeout=1):
                    return True
            except OSError:
                return False

        self.wait_for(open_, f"TCP port {port}", timeout)

    def url(self, port: int, path: str = "/") -> str:
        return f"http://{self.ip()}:{port}{path}"

    def wait_for_http(self, port: int, path: str = "/", timeout: float = 90, status: int = 200) -> None:
        def answers() -> bool:
            return http_ok(self.url(port, path), status=status)

        self.wait_for(answers, f"HTTP {path} on port {port} answering {status}", timeout, interval=0.5)

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        self.wait_for(lambda: text in self.logs(), f"log line {text!r}", timeout)

    def wait_for_exit(self, timeout: float = 60) -> int:
        """Wait until the container stops by itself; returns its exit code."""
        result = self.container.wait(timeout=timeout)
        return int(result["StatusCode"])

    def exec(self, cmd: str | list[str], user: str | None = None) -> tuple[int, str]:
        """Run a command inside (as the container's user unless given); returns (exit code, output)."""
        code, out = self.container.exec_run(cmd, user=user or "", demux=False)
        return code, (out or b"").decode(errors="replace")

    def restart(self, timeout: int = 20) -> None:
        self.container.restart(timeout=timeout)

    def stop(self, timeout: int = 20) -> None:
        self.container.stop(timeout=timeout)

    def start(self) -> None:
        self.container.start()

    def remove(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True, v=False)


class Sandbox:
    """Containers, one user-defined network and named volumes under one name prefix, removed together.

    `prefix` must be unique to the calling test suite (e.g. "img-", "store-", "stack-") so that suites
    running side by side never touch each other's objects.
    """

    def __init__(self, prefix: str, client: docker.DockerClient | None = None) -> None:
        self.client = client or docker_client()
        self.prefix = f"{prefix}{uuid.uuid4().hex[:6]}-"
        self.network = self.prefix + "net"
        self.client.networks.create(self.network, driver="bridge", labels={"mlops-stack.test": prefix})
        self.containers: list[RestrictedContainer] = []
        self.volumes: list[str] = []

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def volume(self, suffix: str) -> str:
        """A named volume (created empty; Docker copies the image's directory into it on first mount)."""
        name = self.prefix + suffix
        if name not in self.volumes:
            self.client.volumes.create(name, labels={"mlops-stack.test": self.prefix})
            self.volumes.append(name)
        return name

    def run(
        self,
        image: str,
        *,
        name: str | None = None,
        alias: str | None = None,
        env: Mapping[str, str] | None = None,
        command: str | list[str] | None = None,
        entrypoint: str | list[str] | None = None,
        tmpfs: Mapping[str, str] | None = None,
        volumes: Mapping[str, str] | None = None,
        read_only_mounts: Iterable[str] = (),
        user: str = RESTRICTED_USER,
        group_add: Iterable[str | int] = (),
        restricted: bool = True,
        **extra: Any,
    ) -> RestrictedContainer:
        """Start `image` (a component name like "sftp", or a full reference) detached.

        tmpfs: {"/tmp": "size=64m"}; volumes: {volume name or absolute host path: container path};
        read_only_mounts: container paths among `volumes` to mount read-only (Secrets, ConfigMaps).
        `restricted=False` drops the OpenShift-like flags (only for helpers such as volume seeding).
        """
        ref = image if (":" in image or "/" in image) else image_ref(image)
        ro = set(read_only_mounts)
        binds = {
            src: {"bind": dst, "mode": "ro" if dst in ro else "rw"} for src, dst in (volumes or {}).items()
        }
        options: dict[str, Any] = {
            "name": self.prefix + (name or alias or "c"),
            "detach": True,
            "environment": dict(env or {}),
            "network": self.network,
            "volumes": binds,
            "tmpfs": dict(tmpfs or {}),
            "labels": {"mlops-stack.test": self.prefix},
        }
        if restricted:
            options.update(
                user=user,
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                group_add=[str(g) for g in group_add],
            )
        if command is not None:
            options["command"] = command
        if entrypoint is not None:
            options["entrypoint"] = entrypoint
        options.update(extra)
        if alias:
            # `network` + `networking_config` is how the SDK sets an alias on the first network.
            options["networking_config"] = {
                self.network: self.client.api.create_endpoint_config(aliases=[alias])
            }
        container = RestrictedContainer(self.client.containers.run(ref, **options), self.network)
        self.containers.append(container)
        return container

    def cleanup(self) -> None:
        """Remove everything this sandbox created; one failure does not stop the rest."""
        errors: list[str] = []

        def attempt(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except docker.errors.NotFound:
                pass
            except Exception as err:  # report every leftover, then raise once
                errors.append(f"{what}: {err}")

        for c in self.containers:
            attempt(f"container {c.name}", c.remove)
        self.containers.clear()
        for name in self.volumes:
            attempt(f"volume {name}", lambda name=name: self.client.volumes.get(name).remove(force=True))
        self.volumes.clear()
        attempt(f"network {self.network}", lambda: self.client.networks.get(self.network).remove())
        if errors:
            raise RuntimeError("sandbox cleanup left objects behind: " + "; ".join(errors))

"""The Docker client of one project: names, labels, the private network, images, and finding, stopping
or removing what the runner made. Stopping needs only the pod's Docker name: its containers carry their
grace period as a label (pod_engine.py puts it there), so `down` works without the manifests."""

import contextlib
import time

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.plan import DEFAULT_GRACE_SECONDS, docker_name

LABEL = "io.mlops-stack.localrun"
PROJECT = f"{LABEL}.project"
POD = f"{LABEL}.pod"
ROLE = f"{LABEL}.role"  # pause, prep, init, main
CONFIG_HASH = f"{LABEL}.config-hash"
VOLUME_KIND = f"{LABEL}.volume"  # claim or pod
GRACE = f"{LABEL}.grace-seconds"  # terminationGracePeriodSeconds, used by a graceful stop
VOLUME_RELEASE_SECONDS = 10  # how long a removed container's mounts may take to be released


class Engine:
    """One project's objects on the engine; every name starts with `<project>-`."""

    def __init__(self, project: str, client: docker.DockerClient | None = None) -> None:
        self.project = project
        try:
            self.client = client or docker.from_env()
            self.client.ping()
        except Exception as exc:
            raise LocalRunError(
                f"no Docker engine answers ({exc}); start one with `scripts/docker-engine`"
            ) from None

    @property
    def network_name(self) -> str:
        return f"{self.project}-net"

    def name(self, kubernetes_name: str) -> str:
        return docker_name(self.project, kubernetes_name)

    def labels(self, **extra: str) -> dict[str, str]:
        return {PROJECT: self.project, **extra}

    def ensure_network(self) -> None:
        if not self._networks():
            # A user-defined bridge: Docker's DNS resolves the aliases given to pods (the Service names).
            self.client.networks.create(self.network_name, driver="bridge", labels=self.labels())

    def image_id(self, image: str, where: str) -> str:
        try:
            return self.client.images.get(image).id
        except ImageNotFound:
            raise LocalRunError(
                f"{where}: image {image!r} is not on the local engine; build it (`make images`) "
                "or set the image in the values (the runner never pulls)"
            ) from None

    def containers(self, pod: str | None = None, role: str | None = None) -> list[Container]:
        filters = [f"{PROJECT}={self.project}"]
        if pod is not None:
            filters.append(f"{POD}={pod}")
        if role is not None:
            filters.append(f"{ROLE}={role}")
        return self.client.containers.list(all=True, filters={"label": filters})

    def pods(self) -> set[str]:
        return {c.labels[POD] for c in self.containers() if POD in c.labels}

    def stop_pod(self, pod: str) -> None:
        """Stop the pod's containers gracefully (each its grace period), then remove the pod."""
        for container in self.containers(pod=pod, role="main"):
            if container.status == "running":
                with contextlib.suppress(APIError, NotFound):
                    container.stop(timeout=int(container.labels.get(GRACE, DEFAULT_GRACE_SECONDS)))
        self.remove_pod(pod)

    def remove_pod(self, pod: str) -> None:
        """Remove the pod's containers (the pause container last) and its pod-scoped volumes."""
        found = self.containers(pod=pod)
        for container in sorted(found, key=lambda c: c.labels.get(ROLE) == "pause"):
            with contextlib.suppress(NotFound):
                container.remove(force=True)
        for volume in self.client.volumes.list(
            filters={"label": [f"{PROJECT}={self.project}", f"{POD}={pod}"]}
        ):
            self.remove_volume(volume.name)

    def remove_volume(self, name: str) -> None:
        """Remove a volume once nothing mounts it; one that stays held gets an error naming the holder
        (never a traceback, and nothing else of the stack is left half-removed by it)."""
        deadline = time.monotonic() + VOLUME_RELEASE_SECONDS
        while True:
            try:
                self.client.api.remove_volume(name, force=True)
                return
            except NotFound:
                return
            except APIError as exc:
                if time.monotonic() > deadline:
                    raise LocalRunError(self._held_volume(name, exc)) from None
                time.sleep(0.5)

    def _held_volume(self, name: str, error: APIError) -> str:
        holders = sorted(c.name for c in self.client.containers.list(all=True, filters={"volume": name}))
        why = error.explanation or str(error)
        if holders:
            return (
                f"volume {name} cannot be removed ({why}): container(s) {', '.join(holders)} still use it; "
                f"another runner of project {self.project!r} may be at work: stop it (or remove those "
                "containers), then retry"
            )
        return (
            f"volume {name} cannot be removed ({why}) though no container uses it: dockerd keeps a stale "
            "mount count in memory (seen after dockerd was stopped uncleanly with containers running); "
            "restart dockerd, then retry"
        )

    def volume_names(self, kind: str | None = None) -> list[str]:
        filters = [f"{PROJECT}={self.project}"] + ([f"{VOLUME_KIND}={kind}"] if kind else [])
        return [v.name for v in self.client.volumes.list(filters={"label": filters})]

    def remove_network(self) -> None:
        for network in self._networks():
            network.remove()

    def _networks(self) -> list:
        # The engine's name filter matches substrings; keep the exact name only.
        return [
            n for n in self.client.networks.list(names=[self.network_name]) if n.name == self.network_name
        ]


def log_tail(container: Container, lines: int = 40, since: int | None = None) -> str:
    """The last lines a container wrote, indented for an error message."""
    try:
        text = container.logs(tail=lines, since=since).decode(errors="replace").rstrip()
    except (APIError, NotFound):
        return "    (no logs)"
    return "\n".join(f"    | {line}" for line in text.splitlines()) or "    (no output)"

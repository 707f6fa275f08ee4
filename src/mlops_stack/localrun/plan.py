"""A pod as the runner will run it, planned from the manifests alone: no engine is asked anything.

Everything the kubelet would decide before it starts a pod is decided here, in frozen dataclasses that
tests can compare value for value: each container's image, command line, environment, mounts and their
modes, user and groups, read-only root, capabilities, resources, probes; the pod's restart policy, grace
period, fsGroup and volumes with their ownership rules (volumes.py); the pause container's address, Service
aliases and published ports. pod_engine.py turns a plan into Docker objects, readiness.py waits on it, and
its `config_hash` tells whether a running pod is the one planned (then `up` leaves it running).

The only outside fact a plan holds is the ID of each image (`image_id`, given by the engine), so that a
rebuilt image makes a new plan.
"""

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from mlops_stack.localrun import volumes
from mlops_stack.localrun.environment import PodIdentity, command_line, resolve
from mlops_stack.localrun.manifests import Release
from mlops_stack.localrun.probes import KINDS, Probe, named_ports, probe_of
from mlops_stack.localrun.quantities import Resources, resources
from mlops_stack.localrun.security import (
    ContainerSecurity,
    container_security,
    fs_group,
    fs_group_change_policy,
)
from mlops_stack.localrun.volumes import VolumePlan
from mlops_stack.localrun.workloads import Pod

DEFAULT_GRACE_SECONDS = 30  # Kubernetes' terminationGracePeriodSeconds

# (image, where) -> the image's ID on the engine; raises when the image is not there.
ImageId = Callable[[str, str], str]


def docker_name(project: str, kubernetes_name: str) -> str:
    """The Docker name of a pod, container or claim: every one starts with `<project>-`."""
    prefix = f"{project}-"
    return kubernetes_name if kubernetes_name.startswith(prefix) else prefix + kubernetes_name


@dataclass(frozen=True)
class Mount:
    target: str  # mountPath
    volume: str  # the Docker volume
    read_only: bool
    sub_path: str = ""  # volumeMounts[].subPath: this directory of the volume instead of its root


@dataclass(frozen=True)
class ContainerPlan:
    name: str  # as in the manifest
    docker_name: str
    init: bool
    image: str
    image_id: str
    entrypoint: tuple[str, ...] | None  # Kubernetes `command`; None keeps the image's ENTRYPOINT
    command: tuple[str, ...] | None  # Kubernetes `args`; None keeps the image's CMD
    env: tuple[tuple[str, str], ...]  # in Kubernetes' order, `$(VAR)` expanded
    working_dir: str | None
    mounts: tuple[Mount, ...]
    security: ContainerSecurity
    resources: Resources
    probes: tuple[Probe, ...]  # in the order they are awaited (probes.KINDS)


@dataclass(frozen=True)
class PausePlan:
    """The pod's infra container: its network namespace, address, aliases, ports and memory volumes."""

    image: str
    hostname: str
    aliases: tuple[str, ...]
    publish: tuple[tuple[int, str, int], ...]  # (container port, host address, host port)
    memory_volumes: tuple[str, ...]  # the tmpfs volumes it holds for the pod's lifetime


@dataclass(frozen=True)
class PodPlan:
    name: str
    owner: str  # `Kind/name` of the workload
    docker_name: str
    restart_policy: str  # Always, OnFailure or Never
    grace_seconds: int
    fs_group: int
    fs_group_change_policy: str
    volumes: tuple[VolumePlan, ...]
    pause: PausePlan
    init: tuple[ContainerPlan, ...]
    main: tuple[ContainerPlan, ...]
    ports: Mapping[str, int]  # named container ports, which probes may name
    controller: Mapping = field(default_factory=dict)  # the workload's spec (a Job's backoffLimit, ...)

    @property
    def where(self) -> str:
        return f"{self.owner} pod {self.name}"

    @cached_property
    def config_hash(self) -> str:
        """The plan's fingerprint: everything but the controller's spec (a Job's retries change no pod)."""
        plan = dataclasses.asdict(self)
        del plan["controller"]
        text = json.dumps(plan, sort_keys=True, default=_digest)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _digest(value: object) -> str:
    """File contents enter the fingerprint by their digest."""
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"{type(value).__name__} in a pod plan")


def _identity(pod: Pod) -> PodIdentity:
    spec, metadata = pod.spec, pod.template.get("metadata") or {}
    return PodIdentity(
        pod.name,
        pod.namespace,
        spec.get("serviceAccountName", spec.get("serviceAccount", "default")),
        {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
    )


@dataclass(frozen=True)
class _PodContext:
    """What every container of one pod is planned with."""

    pod: Pod
    release: Release
    identity: PodIdentity
    docker_name: str
    volumes: Mapping[str, VolumePlan]
    image_id: ImageId

    def container(self, container: dict, init: bool) -> ContainerPlan:
        where = f"{self.pod.where} container {container['name']}"
        env = resolve(container, self.release, self.identity, where)
        entrypoint, command = command_line(container, env)
        mounts = []
        for mount in container.get("volumeMounts") or []:
            volume = self.volumes[mount["name"]]
            read_only = volume.read_only or bool(mount.get("readOnly"))
            sub_path = str(mount.get("subPath") or "").strip("/")
            mounts.append(Mount(mount["mountPath"], volume.docker_name, read_only, sub_path))
        image = container["image"]
        image_id = self.image_id(image, where)
        pod_sc = self.pod.spec.get("securityContext") or {}
        return ContainerPlan(
            name=container["name"],
            docker_name=f"{self.docker_name}-{container['name']}",
            init=init,
            image=image,
            image_id=image_id,
            entrypoint=None if entrypoint is None else tuple(entrypoint),
            command=None if command is None else tuple(command),
            env=tuple(env.items()),
            working_dir=container.get("workingDir"),
            mounts=tuple(mounts),
            security=container_security(pod_sc, container.get("securityContext") or {}, where),
            resources=resources(container.get("resources") or {}, where),
            probes=tuple(probe_of(kind, container[kind]) for kind in KINDS if kind in container),
        )


def plan_pod(pod: Pod, release: Release, project: str, image_id: ImageId) -> PodPlan:
    """The plan of one pod of the release; raises what the kubelet would refuse (a missing key, ...)."""
    spec = pod.spec
    name = docker_name(project, pod.name)
    plans = volumes.plan(
        spec.get("volumes") or [], release, name, lambda claim: docker_name(project, claim), pod.where
    )
    context = _PodContext(pod, release, _identity(pod), name, {p.name: p for p in plans}, image_id)
    init = tuple(context.container(c, init=True) for c in spec.get("initContainers") or [])
    main = tuple(context.container(c, init=False) for c in spec["containers"])
    pause = PausePlan(
        image=main[0].image,
        hostname=pod.name[:63],
        aliases=tuple(sorted(set(pod.aliases))),
        publish=tuple((port, address, host) for port, (address, host) in sorted(pod.publish.items())),
        memory_volumes=tuple(p.docker_name for p in plans if p.kind == "tmpfs"),
    )
    pod_sc = spec.get("securityContext") or {}
    return PodPlan(
        name=pod.name,
        owner=pod.owner,
        docker_name=name,
        restart_policy=pod.restart_policy,
        grace_seconds=int(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)),
        fs_group=fs_group(pod_sc),
        fs_group_change_policy=fs_group_change_policy(pod_sc),
        volumes=tuple(plans),
        pause=pause,
        init=init,
        main=main,
        ports=named_ports(spec["containers"]),
        controller=pod.controller,
    )

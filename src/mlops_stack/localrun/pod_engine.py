"""A planned pod (plan.py) made real on the engine: its volumes, the root helper that sets them up as the
kubelet does, the pause container, the init containers run in order to success, then the containers.

The pause container plays the role it plays in Kubernetes: it owns the pod's network namespace (its
address, its Service aliases, its published ports; the pod's containers share it, so they reach each other
on localhost) and it holds the pod's memory-backed volumes mounted for the pod's lifetime (a tmpfs Docker
volume is emptied when no container holds it, which would lose what an init container wrote).

This is the one place where a plan becomes Docker's keyword arguments (`create_options`).
"""

import time
from collections.abc import Callable

from docker.models.containers import Container
from docker.types import Mount

from mlops_stack.localrun import subpaths, volumes
from mlops_stack.localrun.engine import CONFIG_HASH, GRACE, POD, ROLE, VOLUME_KIND, Engine, log_tail
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.plan import ContainerPlan, PodPlan
from mlops_stack.localrun.quantities import Resources
from mlops_stack.localrun.security import ContainerSecurity

PAUSE_USER = "65534:65534"
RESTART_POLICIES = {"Always": "unless-stopped", "OnFailure": "on-failure", "Never": "no"}
# The kubelet is root with every capability; setting up volumes needs these: CHOWN (chgrp any file), FOWNER
# (chmod files of other users), FSETID (set the setgid bit on files and directories of a group the process
# is not in: without it the kernel drops the bit silently), DAC_OVERRIDE and DAC_READ_SEARCH (walk into
# directories a pod made private, e.g. mode 0700 or 000).
PREP_CAPABILITIES = ["CHOWN", "FOWNER", "FSETID", "DAC_OVERRIDE", "DAC_READ_SEARCH"]

Report = Callable[[str], None]


def security_options(security: ContainerSecurity) -> dict:
    """`containers.create` arguments enforcing a container's securityContext."""
    options: dict = {"user": security.user}
    if security.groups:
        options["group_add"] = [str(g) for g in security.groups]
    if security.read_only_root:
        options["read_only"] = True
    if security.cap_drop:
        options["cap_drop"] = list(security.cap_drop)
    if security.cap_add:
        options["cap_add"] = list(security.cap_add)
    security_opt = []
    if security.no_new_privileges:
        security_opt.append("no-new-privileges:true")
    if security.seccomp_unconfined:
        security_opt.append("seccomp=unconfined")
    if security_opt:
        options["security_opt"] = security_opt
    return options


def resource_options(resources: Resources) -> dict:
    """`containers.create` arguments enforcing a container's resources."""
    options = {
        "mem_limit": resources.memory_limit,
        # Without a swap limit Docker lets the container swap as much again; the kubelet gives no swap.
        "memswap_limit": resources.memory_limit,
        "nano_cpus": resources.nano_cpus,
        "mem_reservation": resources.memory_reservation,
        "cpu_shares": resources.cpu_shares,
    }
    return {key: value for key, value in options.items() if value is not None}


def create_options(pod: PodPlan, container: ContainerPlan, mountpoints: dict[str, str] | None = None) -> dict:
    """`containers.create` arguments of one container, but for the pod's network and labels.
    `mountpoints`: the engine's directory of each volume mounted by subPath (subpaths.py)."""
    options = {
        "image": container.image,
        "name": container.docker_name,
        "entrypoint": None if container.entrypoint is None else list(container.entrypoint),
        "command": None if container.command is None else list(container.command),
        "environment": [f"{key}={value}" for key, value in container.env],
        "working_dir": container.working_dir,
        **security_options(container.security),
        **resource_options(container.resources),
    }
    options = {key: value for key, value in options.items() if value is not None}
    restart = "no" if container.init else RESTART_POLICIES[pod.restart_policy]
    if restart == "on-failure":
        options["restart_policy"] = {"Name": restart, "MaximumRetryCount": 0}
    else:
        options["restart_policy"] = {"Name": restart}
    options["mounts"] = [
        Mount(m.target, f"{(mountpoints or {})[m.volume]}/{m.sub_path}", type="bind", read_only=m.read_only)
        if m.sub_path
        else Mount(m.target, m.volume, type="volume", read_only=m.read_only, no_copy=True)
        for m in container.mounts
    ]
    return options


def is_current(engine: Engine, pod: PodPlan) -> bool:
    """The pod already runs with exactly this plan (then `up` leaves it alone)."""
    found = engine.containers(pod=pod.docker_name)
    pause = [c for c in found if c.labels.get(ROLE) == "pause"]
    mains = [c for c in found if c.labels.get(ROLE) == "main"]
    return (
        len(pause) == 1
        and pause[0].labels.get(CONFIG_HASH) == pod.config_hash
        and pause[0].status == "running"
        and len(mains) == len(pod.main)
        and all(c.status == "running" for c in mains)
    )


def start(engine: Engine, pod: PodPlan, deadline: float, report: Report) -> None:
    """Create the pod from scratch (any previous incarnation is removed first)."""
    engine.stop_pod(pod.docker_name)
    _create_volumes(engine, pod)
    pause = _start_pause(engine, pod)
    for container in pod.init:
        _run_init(engine, pod, container, pause, deadline, report)
    for container in pod.main:
        _create(engine, pod, container, pause).start()


def _create_volumes(engine: Engine, pod: PodPlan) -> None:
    """Create the pod's volumes and set them up as the kubelet does before the containers start."""
    client = engine.client
    lines: list[str] = []
    archives: dict[str, bytes] = {}
    for plan in pod.volumes:
        labels = engine.labels(**{VOLUME_KIND: "claim" if plan.kind == "pvc" else "pod"})
        if plan.kind != "pvc":
            labels[POD] = pod.docker_name
        target = f"/prep/{plan.name}"
        if plan.kind == "pvc":
            new = not any(
                v.name == plan.docker_name for v in client.volumes.list(filters={"name": plan.docker_name})
            )
            if new:
                client.volumes.create(plan.docker_name, labels=labels)
            # An existing claim keeps its data; the fsGroup change is made again at every pod start.
            lines += plan.setup(pod.fs_group, pod.fs_group_change_policy, new_claim=new).script(target)
        elif plan.kind == "tmpfs":
            client.volumes.create(
                plan.docker_name,
                driver="local",
                driver_opts={"type": "tmpfs", "device": "tmpfs", "o": plan.tmpfs_options(pod.fs_group)},
                labels=labels,
            )
        else:
            client.volumes.create(plan.docker_name, labels=labels)
            if plan.kind == "files":
                archives[target] = volumes.tar_of(plan.files)
            lines += plan.setup(pod.fs_group).script(target)
    if lines:
        _prep(engine, pod, lines, archives)


def _prep(engine: Engine, pod: PodPlan, lines: list[str], archives: dict[str, bytes]) -> None:
    """Fill file volumes, then run the volume set-up as root (PREP_CAPABILITIES), as the kubelet does."""
    mounts = [
        Mount(f"/prep/{p.name}", p.docker_name, type="volume", no_copy=True)
        for p in pod.volumes
        if p.kind != "tmpfs"
    ]
    container = _root_helper(
        engine, pod, f"{pod.docker_name}-prep", ["/bin/sh", "-ec", "\n".join(lines)], mounts
    )
    try:
        for target, archive in archives.items():
            container.put_archive(target, archive)
        container.start()
        status = container.wait(timeout=60)
        if status.get("StatusCode") != 0:
            raise LocalRunError(
                f"{pod.where}: preparing volumes failed (exit {status.get('StatusCode')}):\n"
                f"{log_tail(container)}"
            )
    finally:
        container.remove(force=True)


def _root_helper(
    engine: Engine, pod: PodPlan, name: str, entrypoint: list[str], mounts: list[Mount]
) -> Container:
    """A container of the pod's image that does, as root with only PREP_CAPABILITIES and no network, what
    the kubelet does itself (volume set-up, subPaths); created, not started."""
    return engine.client.containers.create(
        pod.main[0].image,
        entrypoint=entrypoint,
        command=[],
        name=name,
        user="0:0",
        network_mode="none",
        read_only=True,
        cap_drop=["ALL"],
        cap_add=PREP_CAPABILITIES,
        security_opt=["no-new-privileges:true"],
        mounts=mounts,
        labels=engine.labels(**{POD: pod.docker_name, ROLE: "prep"}),
    )


def _start_pause(engine: Engine, pod: PodPlan) -> Container:
    client, network, spec = engine.client, engine.network_name, pod.pause
    container = client.containers.create(
        spec.image,
        entrypoint=["sleep", "infinity"],
        command=[],
        name=pod.docker_name,
        hostname=spec.hostname,
        user=PAUSE_USER,
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="32m",
        network=network,
        networking_config={network: client.api.create_endpoint_config(aliases=list(spec.aliases))},
        ports={f"{port}/tcp": (address, host_port) for port, address, host_port in spec.publish},
        mounts=[Mount(f"/pod-volumes/{n}", n, type="volume", no_copy=True) for n in spec.memory_volumes],
        restart_policy={"Name": "unless-stopped" if pod.restart_policy == "Always" else "no"},
        labels=engine.labels(**{POD: pod.docker_name, ROLE: "pause", CONFIG_HASH: pod.config_hash}),
    )
    container.start()
    return container


def _create(engine: Engine, pod: PodPlan, container: ContainerPlan, pause: Container) -> Container:
    role = "init" if container.init else "main"
    return engine.client.containers.create(
        network_mode=f"container:{pause.id}",
        labels=engine.labels(**{POD: pod.docker_name, ROLE: role, GRACE: str(pod.grace_seconds)}),
        **create_options(pod, container, _make_sub_paths(engine, pod, container)),
    )


def _make_sub_paths(engine: Engine, pod: PodPlan, container: ContainerPlan) -> dict[str, str]:
    """Make the container's missing subPaths as root, as the kubelet does when the container starts;
    returns the engine's directory of each volume concerned."""
    names = subpaths.volumes_with_sub_paths(container)
    if not names:
        return {}
    script = subpaths.script(container, f"{pod.where} container {container.name}")
    mounts = [Mount(f"{subpaths.SUB_ROOT}/{n}", n, type="volume", no_copy=True) for n in names]
    helper = _root_helper(engine, pod, f"{container.docker_name}-subpath", ["/bin/sh", "-c", script], mounts)
    try:
        helper.start()
        status = helper.wait(timeout=60)
        if status.get("StatusCode") != 0:
            raise LocalRunError(
                f"{pod.where}: container {container.name}: making its subPaths failed:\n{log_tail(helper)}"
            )
    finally:
        helper.remove(force=True)
    return {n: engine.client.volumes.get(n).attrs["Mountpoint"] for n in names}


def _run_init(
    engine: Engine, pod: PodPlan, plan: ContainerPlan, pause: Container, deadline: float, report: Report
) -> None:
    """Run one init container to success; a pod that restarts (Always/OnFailure) retries with backoff."""
    container = _create(engine, pod, plan, pause)
    backoff = 2.0
    while True:
        attempt_started = int(time.time())
        container.start()
        remaining = max(1.0, deadline - time.monotonic())
        try:
            code = container.wait(timeout=remaining).get("StatusCode")
        except Exception:
            raise LocalRunError(
                f"{pod.where}: init container {plan.name} did not finish in time:\n{log_tail(container)}"
            ) from None
        if code == 0:
            return
        message = (
            f"{pod.where}: init container {plan.name} exited with {code}:\n"
            f"{log_tail(container, since=attempt_started)}"
        )
        if pod.restart_policy == "Never" or time.monotonic() + backoff > deadline:
            raise LocalRunError(message)
        report(f"  {message.splitlines()[0].rstrip(':')}; retrying in {backoff:.0f} s")
        time.sleep(backoff)
        backoff = min(backoff * 2, 30.0)

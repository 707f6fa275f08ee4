"""One pod on the engine: a pause container, volumes, init containers in order, then the containers.

The pause container plays the role it plays in Kubernetes: it owns the pod's network namespace (its
address, its Service aliases, its published ports; the pod's containers share it, so they reach each other
on localhost) and it holds the pod's memory-backed volumes mounted for the pod's lifetime (a tmpfs Docker
volume is emptied when no container holds it, which would lose what an init container wrote).
"""

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.types import Mount

from mlops_stack.localrun import probes, security, volumes
from mlops_stack.localrun.engine import CONFIG_HASH, GRACE, POD, ROLE, VOLUME_KIND, Engine
from mlops_stack.localrun.environment import PodIdentity, command_line, resolve
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import Release

PAUSE_USER = "65534:65534"
DEFAULT_GRACE_SECONDS = 30
RESTART_POLICIES = {"Always": "unless-stopped", "OnFailure": "on-failure", "Never": "no"}

Report = Callable[[str], None]


@dataclass
class Pod:
    """A pod the runner will create, as the controller of its workload would."""

    name: str
    owner: str
    template: dict
    namespace: str
    restart_policy: str
    aliases: list[str] = field(default_factory=list)
    publish: dict[int, tuple[str, int]] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)  # volume name -> claim name (volumeClaimTemplates)
    controller: dict = field(default_factory=dict)  # the workload's spec (a Job's backoffLimit, ...)

    @property
    def spec(self) -> dict:
        return self.template.get("spec") or {}

    @property
    def where(self) -> str:
        return f"{self.owner} pod {self.name}"


@dataclass
class Prepared:
    pod: Pod
    docker_name: str
    volumes: list[volumes.VolumePlan]
    pause: dict
    init: list[dict]
    main: list[dict]
    config_hash: str


def _log_tail(container: Container, lines: int = 40, since: int | None = None) -> str:
    try:
        text = container.logs(tail=lines, since=since).decode(errors="replace").rstrip()
    except (APIError, NotFound):
        return "    (no logs)"
    return "\n".join(f"    | {line}" for line in text.splitlines()) or "    (no output)"


class PodRunner:
    def __init__(self, engine: Engine, release: Release, report: Report) -> None:
        self.engine = engine
        self.release = release
        self.report = report

    # ---- planning
    def prepare(self, pod: Pod) -> Prepared:
        spec, where = pod.spec, pod.where
        docker_name = self.engine.name(pod.name)
        metadata = pod.template.get("metadata") or {}
        identity = PodIdentity(
            pod.name,
            pod.namespace,
            spec.get("serviceAccountName", spec.get("serviceAccount", "default")),
            {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
            {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
        )
        plans = volumes.plan(
            spec.get("volumes") or [],
            self.release,
            docker_name,
            lambda claim: self.engine.name(claim),
            where,
        )
        by_name = {p.name: p for p in plans}
        pod_sc = spec.get("securityContext") or {}
        grace = int(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))

        def container_options(container: dict, role: str) -> dict:
            cwhere = f"{where} container {container['name']}"
            image = container["image"]
            env = resolve(container, self.release, identity, cwhere)
            entrypoint, command = command_line(container, env)
            mounts = []
            for mount in container.get("volumeMounts") or []:
                plan = by_name[mount["name"]]
                read_only = plan.read_only or bool(mount.get("readOnly"))
                mounts.append(
                    {"target": mount["mountPath"], "source": plan.docker_name, "read_only": read_only}
                )
            options = {
                "image": image,
                "image_id": self.engine.image_id(image, cwhere),
                "name": f"{docker_name}-{container['name']}",
                "entrypoint": entrypoint,
                "command": command,
                "environment": [f"{k}={v}" for k, v in env.items()],
                "working_dir": container.get("workingDir"),
                "mounts": mounts,
                "grace": grace,
                "role": role,
                "spec": container,
                **security.docker_options(pod_sc, container, cwhere),
            }
            return options

        init = [container_options(c, "init") for c in spec.get("initContainers") or []]
        main = [container_options(c, "main") for c in spec["containers"]]
        pause = {
            "image": main[0]["image"],
            "hostname": pod.name[:63],
            "aliases": sorted(set(pod.aliases)),
            "publish": {str(k): list(v) for k, v in sorted(pod.publish.items())},
            "tmpfs": [p.docker_name for p in plans if p.kind == "tmpfs"],
        }
        fingerprint = {
            "pause": pause,
            "volumes": [
                {
                    "name": p.docker_name,
                    "kind": p.kind,
                    "size": p.tmpfs_bytes,
                    "files": {k: [hashlib.sha256(v[0]).hexdigest(), v[1]] for k, v in p.files.items()},
                }
                for p in plans
            ],
            "containers": init + main,
            "restart": pod.restart_policy,
            "fsgroup": [security.fs_group(pod_sc), security.fs_group_change_policy(pod_sc)],
        }
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        return Prepared(pod, docker_name, plans, pause, init, main, digest[:16])

    # ---- starting
    def is_current(self, prepared: Prepared) -> bool:
        """The pod already runs with exactly this configuration (then `up` leaves it alone)."""
        found = self.engine.containers(pod=prepared.docker_name)
        pause = [c for c in found if c.labels.get(ROLE) == "pause"]
        mains = [c for c in found if c.labels.get(ROLE) == "main"]
        return (
            len(pause) == 1
            and pause[0].labels.get(CONFIG_HASH) == prepared.config_hash
            and pause[0].status == "running"
            and len(mains) == len(prepared.main)
            and all(c.status == "running" for c in mains)
        )

    def start(self, prepared: Prepared, deadline: float) -> None:
        """Create the pod from scratch (any previous incarnation is removed first)."""
        self.stop_pod(prepared.docker_name)
        self._create_volumes(prepared)
        pause = self._start_pause(prepared)
        for options in prepared.init:
            self._run_init(prepared, options, pause, deadline)
        for options in prepared.main:
            self._create(prepared, options, pause).start()

    def stop_pod(self, docker_name: str) -> None:
        """Stop the containers gracefully (their grace period), then remove the pod."""
        for container in self.engine.containers(pod=docker_name, role="main"):
            if container.status == "running":
                with contextlib.suppress(APIError, NotFound):
                    container.stop(timeout=int(container.labels.get(GRACE, DEFAULT_GRACE_SECONDS)))
        self.engine.remove_pod(docker_name)

    def _create_volumes(self, prepared: Prepared) -> None:
        """Create the pod's volumes and set them up as the kubelet does before the containers start."""
        client = self.engine.client
        pod_sc = prepared.pod.spec.get("securityContext") or {}
        fs_group, policy = security.fs_group(pod_sc), security.fs_group_change_policy(pod_sc)
        lines: list[str] = []
        archives: dict[str, bytes] = {}
        for plan in prepared.volumes:
            labels = self.engine.labels(**{VOLUME_KIND: "claim" if plan.kind == "pvc" else "pod"})
            if plan.kind != "pvc":
                labels[POD] = prepared.docker_name
            target = f"/prep/{plan.name}"
            if plan.kind == "pvc":
                new = not any(
                    v.name == plan.docker_name
                    for v in client.volumes.list(filters={"name": plan.docker_name})
                )
                if new:
                    client.volumes.create(plan.docker_name, labels=labels)
                # An existing claim keeps its data; the fsGroup change is made again at every pod start.
                lines += plan.setup(fs_group, policy, new_claim=new).script(target)
            elif plan.kind == "tmpfs":
                client.volumes.create(
                    plan.docker_name,
                    driver="local",
                    driver_opts={"type": "tmpfs", "device": "tmpfs", "o": plan.tmpfs_options(fs_group)},
                    labels=labels,
                )
            else:
                client.volumes.create(plan.docker_name, labels=labels)
                if plan.kind == "files":
                    archives[target] = volumes.tar_of(plan.files)
                lines += plan.setup(fs_group).script(target)
        if lines:
            self._prep(prepared, lines, archives)

    def _prep(self, prepared: Prepared, lines: list[str], archives: dict[str, bytes]) -> None:
        """Fill file volumes, then run the volume set-up as root, as the kubelet does before a pod starts.

        The kubelet is root with every capability; the set-up needs these: CHOWN (chgrp any file), FOWNER
        (chmod files of other users), FSETID (set the setgid bit on files and directories of a group the
        process is not in: without it the kernel drops the bit silently), DAC_OVERRIDE and DAC_READ_SEARCH
        (walk into directories a pod made private, e.g. mode 0700 or 000).
        """
        mounts = [
            Mount(f"/prep/{p.name}", p.docker_name, type="volume", no_copy=True)
            for p in prepared.volumes
            if p.kind != "tmpfs"
        ]
        container = self.engine.client.containers.create(
            prepared.main[0]["image"],
            entrypoint=["/bin/sh", "-ec", "\n".join(lines)],
            command=[],
            name=f"{prepared.docker_name}-prep",
            user="0:0",
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            cap_add=["CHOWN", "FOWNER", "FSETID", "DAC_OVERRIDE", "DAC_READ_SEARCH"],
            security_opt=["no-new-privileges:true"],
            mounts=mounts,
            labels=self.engine.labels(**{POD: prepared.docker_name, ROLE: "prep"}),
        )
        try:
            for target, archive in archives.items():
                container.put_archive(target, archive)
            container.start()
            status = container.wait(timeout=60)
            if status.get("StatusCode") != 0:
                raise LocalRunError(
                    f"{prepared.pod.where}: preparing volumes failed (exit {status.get('StatusCode')}):\n"
                    f"{_log_tail(container)}"
                )
        finally:
            container.remove(force=True)

    def _start_pause(self, prepared: Prepared) -> Container:
        client, network = self.engine.client, self.engine.network_name
        spec = prepared.pause
        ports = {
            f"{port}/tcp": (address, host_port) for port, (address, host_port) in spec["publish"].items()
        }
        container = client.containers.create(
            spec["image"],
            entrypoint=["sleep", "infinity"],
            command=[],
            name=prepared.docker_name,
            hostname=spec["hostname"],
            user=PAUSE_USER,
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            mem_limit="32m",
            network=network,
            networking_config={network: client.api.create_endpoint_config(aliases=spec["aliases"])},
            ports=ports,
            mounts=[Mount(f"/pod-volumes/{n}", n, type="volume", no_copy=True) for n in spec["tmpfs"]],
            restart_policy={"Name": "unless-stopped" if prepared.pod.restart_policy == "Always" else "no"},
            labels=self.engine.labels(
                **{POD: prepared.docker_name, ROLE: "pause", CONFIG_HASH: prepared.config_hash}
            ),
        )
        container.start()
        return container

    def _create(self, prepared: Prepared, options: dict, pause: Container) -> Container:
        skip = {"image_id", "role", "spec", "mounts", "grace"}
        kwargs = {k: v for k, v in options.items() if k not in skip and v is not None}
        restart = "no" if options["role"] == "init" else RESTART_POLICIES[prepared.pod.restart_policy]
        if restart == "on-failure":
            kwargs["restart_policy"] = {"Name": restart, "MaximumRetryCount": 0}
        else:
            kwargs["restart_policy"] = {"Name": restart}
        mounts = [Mount(m["target"], m["source"], type="volume", read_only=m["read_only"], no_copy=True)
                  for m in options["mounts"]]  # fmt: skip
        return self.engine.client.containers.create(
            network_mode=f"container:{pause.id}",
            mounts=mounts,
            labels=self.engine.labels(
                **{POD: prepared.docker_name, ROLE: options["role"], GRACE: str(options["grace"])}
            ),
            **kwargs,
        )

    def _run_init(self, prepared: Prepared, options: dict, pause: Container, deadline: float) -> None:
        """Run one init container to success; a pod that restarts (Always/OnFailure) retries with backoff."""
        container = self._create(prepared, options, pause)
        backoff = 2.0
        while True:
            attempt_started = int(time.time())
            container.start()
            remaining = max(1.0, deadline - time.monotonic())
            try:
                code = container.wait(timeout=remaining).get("StatusCode")
            except Exception:
                raise LocalRunError(
                    f"{prepared.pod.where}: init container {options['spec']['name']} did not finish "
                    f"in time:\n{_log_tail(container)}"
                ) from None
            if code == 0:
                return
            message = (
                f"{prepared.pod.where}: init container {options['spec']['name']} exited with {code}:\n"
                f"{_log_tail(container, since=attempt_started)}"
            )
            if prepared.pod.restart_policy == "Never" or time.monotonic() + backoff > deadline:
                raise LocalRunError(message)
            self.report(f"  {message.splitlines()[0].rstrip(':')}; retrying in {backoff:.0f} s")
            time.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    # ---- waiting
    def address(self, prepared: Prepared) -> str:
        pause = self.engine.client.containers.get(prepared.docker_name)
        return pause.attrs["NetworkSettings"]["Networks"][self.engine.network_name]["IPAddress"]

    def wait_ready(self, prepared: Prepared, deadline: float) -> None:
        """Startup, then readiness probes; a liveness probe must also pass once (see admission.py)."""
        address = self.address(prepared)
        specs = [o["spec"] for o in prepared.main]
        for options in prepared.main:
            container = self.engine.client.containers.get(options["name"])
            spec = options["spec"]
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if kind in spec:
                    self._await_probe(prepared, container, kind, spec[kind], address, specs, deadline)
            if not any(k in spec for k in ("startupProbe", "readinessProbe", "livenessProbe")):
                self._await_running(prepared, container, deadline)

    def _fail(self, prepared: Prepared, container: Container, why: str) -> LocalRunError:
        return LocalRunError(
            f"{prepared.pod.where}: {why}; last output of {container.name}:\n{_log_tail(container)}"
        )

    def _await_running(self, prepared: Prepared, container: Container, deadline: float) -> None:
        while True:
            container.reload()
            state = container.attrs["State"]
            if state["Running"] and not state.get("Restarting"):
                return
            if time.monotonic() > deadline:
                raise self._fail(prepared, container, f"container not running ({container.status})")
            time.sleep(0.5)

    def _await_probe(
        self,
        prepared: Prepared,
        container: Container,
        kind: str,
        probe: dict,
        address: str,
        specs: list[dict],
        deadline: float,
    ) -> None:
        where = f"{prepared.pod.where} container {container.name} {kind}"
        period = float(probe.get("periodSeconds", 10))
        needed = int(probe.get("successThreshold", 1))
        allowed_failures = int(probe.get("failureThreshold", 3))
        time.sleep(min(float(probe.get("initialDelaySeconds", 0)), max(0.0, deadline - time.monotonic())))
        successes = failures = 0
        while True:
            container.reload()
            if container.status == "exited" and prepared.pod.restart_policy == "Never":
                raise self._fail(
                    prepared, container, f"container exited ({container.attrs['State']['ExitCode']})"
                )
            if probes.succeeds(probe, address, container, specs, where):
                successes += 1
                failures = 0
                if successes >= needed:
                    return
            else:
                successes = 0
                failures += 1
                if kind == "startupProbe" and failures >= allowed_failures:
                    self.report(
                        f"  {where}: failed {failures} times; restarting the container as the kubelet would"
                    )
                    container.restart()
                    failures = 0
            if time.monotonic() + period > deadline:
                raise self._fail(prepared, container, f"{kind} still failing at the deadline")
            time.sleep(period)

    def wait_completed(self, prepared: Prepared, deadline: float) -> None:
        """A Job pod: every container must exit 0."""
        for options in prepared.main:
            container = self.engine.client.containers.get(options["name"])
            try:
                code = container.wait(timeout=max(1.0, deadline - time.monotonic())).get("StatusCode")
            except Exception:
                raise self._fail(prepared, container, "did not finish before the deadline") from None
            if code != 0:
                raise self._fail(prepared, container, f"exited with {code}")

"""Waiting on a started pod (pod_engine.py) as `helm --wait` and the kubelet do: startup, then readiness
probes (a liveness probe must pass once), or, for a Job's pod, every container exiting 0.

The runner waits once and leaves: it does not stay resident to restart containers on later liveness
failures (admission.py says so; Docker restarts containers that exit).
"""

import time
from collections.abc import Callable

from docker.models.containers import Container

from mlops_stack.localrun import probes
from mlops_stack.localrun.engine import Engine, log_tail
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.plan import PodPlan
from mlops_stack.localrun.probes import Probe

Report = Callable[[str], None]


def _address(engine: Engine, pod: PodPlan) -> str:
    pause = engine.client.containers.get(pod.docker_name)
    return pause.attrs["NetworkSettings"]["Networks"][engine.network_name]["IPAddress"]


def _fail(pod: PodPlan, container: Container, why: str) -> LocalRunError:
    return LocalRunError(f"{pod.where}: {why}; last output of {container.name}:\n{log_tail(container)}")


def wait_ready(engine: Engine, pod: PodPlan, deadline: float, report: Report) -> None:
    """Each container's probes in order (startup, readiness, liveness), or else running."""
    address = _address(engine, pod)
    for plan in pod.main:
        container = engine.client.containers.get(plan.docker_name)
        for probe in plan.probes:
            _await_probe(pod, container, probe, address, deadline, report)
        if not plan.probes:
            _await_running(pod, container, deadline)


def _await_running(pod: PodPlan, container: Container, deadline: float) -> None:
    while True:
        container.reload()
        state = container.attrs["State"]
        if state["Running"] and not state.get("Restarting"):
            return
        if time.monotonic() > deadline:
            raise _fail(pod, container, f"container not running ({container.status})")
        time.sleep(0.5)


def _await_probe(
    pod: PodPlan, container: Container, probe: Probe, address: str, deadline: float, report: Report
) -> None:
    where = f"{pod.where} container {container.name} {probe.kind}"
    time.sleep(min(probe.initial_delay, max(0.0, deadline - time.monotonic())))
    successes = failures = 0
    while True:
        container.reload()
        if container.status == "exited" and pod.restart_policy == "Never":
            raise _fail(pod, container, f"container exited ({container.attrs['State']['ExitCode']})")
        if probes.succeeds(probe, address, container, pod.ports, where):
            successes += 1
            failures = 0
            if successes >= probe.success_threshold:
                return
        else:
            successes = 0
            failures += 1
            if probe.kind == "startupProbe" and failures >= probe.failure_threshold:
                report(f"  {where}: failed {failures} times; restarting the container as the kubelet would")
                container.restart()
                failures = 0
        if time.monotonic() + probe.period > deadline:
            raise _fail(pod, container, f"{probe.kind} still failing at the deadline")
        time.sleep(probe.period)


def wait_completed(engine: Engine, pod: PodPlan, deadline: float) -> None:
    """A Job's pod: every container must exit 0."""
    for plan in pod.main:
        container = engine.client.containers.get(plan.docker_name)
        try:
            code = container.wait(timeout=max(1.0, deadline - time.monotonic())).get("StatusCode")
        except Exception:
            raise _fail(pod, container, "did not finish before the deadline") from None
        if code != 0:
            raise _fail(pod, container, f"exited with {code}")

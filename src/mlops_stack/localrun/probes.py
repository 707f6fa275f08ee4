"""Startup, readiness and liveness probes: what a manifest asks for (a typed `Probe`), and one attempt of it
run from the host against the pod's address, as the kubelet runs it from the node.

Kept apart from the waiting (readiness.py): a probe is part of a pod's plan, the attempt is the only part
that touches the network or the engine.
"""

import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from docker.models.containers import Container

from mlops_stack.localrun.errors import LocalRunError

# The order the kubelet gates on them: startup, then readiness; liveness must pass once here (admission.py).
KINDS = ("startupProbe", "readinessProbe", "livenessProbe")


@dataclass(frozen=True)
class HttpGet:
    port: int | str  # a number or the name of a container port, resolved when the probe runs
    path: str = "/"
    https: bool = False
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TcpSocket:
    port: int | str


@dataclass(frozen=True)
class Exec:
    command: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    kind: str  # one of KINDS
    action: HttpGet | TcpSocket | Exec
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def probe_of(kind: str, spec: dict) -> Probe:
    """The probe of a container's `kind` field, with Kubernetes' defaults."""
    action: HttpGet | TcpSocket | Exec
    if "httpGet" in spec:
        get = spec["httpGet"]
        headers = tuple((str(h["name"]), str(h["value"])) for h in get.get("httpHeaders") or [])
        https = str(get.get("scheme", "HTTP")).upper() == "HTTPS"
        action = HttpGet(get["port"], str(get.get("path", "/")), https, headers)
    elif "tcpSocket" in spec:
        action = TcpSocket(spec["tcpSocket"]["port"])
    else:
        action = Exec(tuple(spec["exec"]["command"]))
    return Probe(
        kind,
        action,
        float(spec.get("initialDelaySeconds", 0)),
        float(spec.get("periodSeconds", 10)),
        float(spec.get("timeoutSeconds", 1)),
        int(spec.get("successThreshold", 1)),
        int(spec.get("failureThreshold", 3)),
    )


def named_ports(containers: list[dict]) -> dict[str, int]:
    """The containers' ports by name (the first container declaring a name has it)."""
    ports: dict[str, int] = {}
    for container in containers:
        for declared in container.get("ports") or []:
            if "name" in declared and "containerPort" in declared:
                ports.setdefault(str(declared["name"]), int(declared["containerPort"]))
    return ports


def resolve_port(port: int | str, named: Mapping[str, int], where: str) -> int:
    """A probe or Service port given by number or by the name of a container port."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    if port in named:
        return named[port]
    raise LocalRunError(f"{where}: no container port is named {port!r}")


def _http(get: HttpGet, address: str, port: int, timeout: float) -> bool:
    if get.https:
        # The kubelet does not verify probe certificates either.
        context = ssl._create_unverified_context()  # noqa: S323
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", get.path, headers=dict(get.headers))
        status = connection.getresponse().status
        return 200 <= status < 400  # the kubelet's success range
    except OSError:
        return False
    finally:
        connection.close()


def _tcp(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _exec(command: tuple[str, ...], container: Container, timeout: float) -> bool:
    outcome: list[int] = []

    def run() -> None:
        try:
            outcome.append(container.exec_run(list(command)).exit_code)
        except Exception:  # a container that is restarting cannot exec; the probe just fails
            outcome.append(-1)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome) and outcome[0] == 0


def succeeds(probe: Probe, address: str, container: Container, ports: Mapping[str, int], where: str) -> bool:
    """One attempt of the probe; `ports` are the pod's named container ports."""
    action = probe.action
    if isinstance(action, HttpGet):
        return _http(action, address, resolve_port(action.port, ports, where), probe.timeout)
    if isinstance(action, TcpSocket):
        return _tcp(address, resolve_port(action.port, ports, where), probe.timeout)
    return _exec(action.command, container, probe.timeout)

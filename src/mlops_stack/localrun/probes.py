"""Readiness, startup and liveness probes, run from the host against the pod's address like the kubelet."""

import http.client
import socket
import ssl
import threading

from docker.models.containers import Container

from mlops_stack.localrun.errors import LocalRunError


def resolve_port(port: int | str, containers: list[dict], where: str) -> int:
    """A probe or Service port given by number or by the name of a container port."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for container in containers:
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
    raise LocalRunError(f"{where}: no container port is named {port!r}")


def _http(probe: dict, address: str, containers: list[dict], timeout: float, where: str) -> bool:
    spec = probe["httpGet"]
    port = resolve_port(spec["port"], containers, where)
    headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
    if spec.get("scheme", "HTTP").upper() == "HTTPS":
        # The kubelet does not verify probe certificates either.
        context = ssl._create_unverified_context()  # noqa: S323
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", spec.get("path", "/"), headers=headers)
        status = connection.getresponse().status
        return 200 <= status < 400  # the kubelet's success range
    except OSError:
        return False
    finally:
        connection.close()


def _tcp(probe: dict, address: str, containers: list[dict], timeout: float, where: str) -> bool:
    port = resolve_port(probe["tcpSocket"]["port"], containers, where)
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _exec(probe: dict, container: Container, timeout: float) -> bool:
    outcome: list[int] = []

    def run() -> None:
        try:
            outcome.append(container.exec_run(probe["exec"]["command"]).exit_code)
        except Exception:  # a container that is restarting cannot exec; the probe just fails
            outcome.append(-1)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome) and outcome[0] == 0


def succeeds(probe: dict, address: str, container: Container, containers: list[dict], where: str) -> bool:
    """One attempt of the probe."""
    timeout = float(probe.get("timeoutSeconds", 1))
    if "httpGet" in probe:
        return _http(probe, address, containers, timeout, where)
    if "tcpSocket" in probe:
        return _tcp(probe, address, containers, timeout, where)
    return _exec(probe, container, timeout)

"""Service names as DNS aliases, published ports, init containers and readiness probes on the engine."""

import socket
import time
import urllib.request

import docker
import pytest

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.runner import Runner

from .conftest import logs
from .manifests import container, deployment, job, service

pytestmark = pytest.mark.images


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web(image: str, probe: dict) -> dict:
    """busybox httpd serving a page that an init container wrote into a memory-backed emptyDir."""
    init = container(
        "write-page",
        image,
        "echo served-by-$(POD) > /www/index.html",
        env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        volumeMounts=[{"name": "www", "mountPath": "/www"}],
    )
    server = container(
        "httpd",
        image,
        "sleep 2; exec busybox httpd -f -p 8080 -h /www",
        ports=[{"name": "http", "containerPort": 8080}],
        readinessProbe=probe,
        volumeMounts=[{"name": "www", "mountPath": "/www", "readOnly": True}],
    )
    return deployment(
        "web",
        {"app": "web"},
        [server],
        initContainers=[init],
        volumes=[{"name": "www", "emptyDir": {"medium": "Memory"}}],
        terminationGracePeriodSeconds=1,  # busybox httpd as PID 1 ignores SIGTERM
    )


HTTP_PROBE = {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1}


def test_service_alias_published_port_init_and_readiness(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    port = free_port()
    client = container(
        "client",
        toolbox,
        "busybox wget -qO- http://web-svc:8080/ && busybox wget -qO- http://web-svc.default.svc.cluster.local:8080/",
    )
    started = time.monotonic()
    runner.up(
        [web(toolbox, HTTP_PROBE), service("web-svc", {"app": "web"}, 8080, "http"), job("client", [client])],
        {"web-svc": {8080: ("127.0.0.1", port)}},
    )
    # Readiness was awaited: httpd starts after 2 s and `up` returned only once it answered.
    assert time.monotonic() - started >= 2
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
        assert response.read() == b"served-by-web-0\n"
    assert logs(docker_client, f"{runner.engine.project}-client-client") == "served-by-web-0\n" * 2
    pause = docker_client.containers.get(f"{runner.engine.project}-web-0")
    assert pause.attrs["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    }


def test_tcp_and_exec_probes(runner: Runner, toolbox: str) -> None:
    pod = f"{runner.engine.project}-web-0"
    runner.up([web(toolbox, {"tcpSocket": {"port": 8080}, "periodSeconds": 1})])
    exec_probe = web(toolbox, {"exec": {"command": ["test", "-s", "/www/index.html"]}, "periodSeconds": 1})
    runner.up([exec_probe])
    lines = runner.lines  # type: ignore[attr-defined]
    # The changed probe is a changed pod: it is replaced, and awaited again.
    assert [line for line in lines if line.startswith(f"pod {pod}: starting")] == [f"pod {pod}: starting"] * 2
    assert lines[-1] == "upgrade complete: 1 pod(s) ready, 0 job(s) succeeded"
    runner.up([exec_probe])
    assert f"pod {pod}: unchanged, left running" in runner.lines  # type: ignore[attr-defined]


def test_readiness_that_never_passes_fails_with_the_logs(runner: Runner, toolbox: str) -> None:
    runner.timeout = 6
    never = web(toolbox, {"httpGet": {"path": "/missing", "port": 8080}, "periodSeconds": 1})
    never["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "echo starting-httpd; exec busybox httpd -f -p 8080 -h /www"
    ]
    with pytest.raises(LocalRunError) as caught:
        runner.up([never])
    message = str(caught.value)
    assert (
        "Deployment/web pod web-0: readinessProbe still failing at the deadline; "
        f"last output of {runner.engine.project}-web-0-httpd" in message
    )
    assert "    | starting-httpd" in message


def test_failing_init_container_of_a_job_fails_with_its_output(runner: Runner, toolbox: str) -> None:
    init = container("check", toolbox, "echo database-unreachable >&2; exit 4")
    failing = job("migrate", [container("main", toolbox, "true")], pod={"initContainers": [init]})
    with pytest.raises(LocalRunError) as caught:
        runner.up([failing])
    assert "Job/migrate failed after 1 attempt(s)" in str(caught.value)
    assert "init container check exited with 4" in str(caught.value)
    assert "    | database-unreachable" in str(caught.value)

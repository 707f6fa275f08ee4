"""A git server for the re-training tests, reached by the Prefect worker over the network under the name
`git-server`, as a team's GitLab would be (never a mounted folder): `git daemon` with push enabled, run
from the prefect image (it has git) under the same restricted constraints as the stack.

Each context manager yields the URL this host pushes to; the worker clones `git://git-server/<repo>`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.containers import RESTRICTED_USER

from . import cluster

NAME = "git-server"
PORT = 9418
UID = cluster.OPENSHIFT_STYLE_UID
SERVE = (
    "git init -q --bare /srv/git/{repo} && exec git daemon --reuseaddr --base-path=/srv/git "
    "--export-all --enable=receive-pack --informative-errors /srv/git"
)


@contextlib.contextmanager
def on_docker_network(image: str, network: str, container_name: str, repo: str) -> Iterator[str]:
    """A container on the local stack's network, with `git-server` as its alias there."""
    import docker

    client = docker.from_env()
    container = client.containers.run(
        image,
        name=container_name,
        entrypoint=["sh", "-c"],
        command=[SERVE.format(repo=repo)],
        user=RESTRICTED_USER,
        read_only=True,
        cap_drop=["ALL"],
        tmpfs={"/srv/git": "mode=1777", "/tmp": ""},
        detach=True,
        network=network,
        networking_config={network: client.api.create_endpoint_config(aliases=[NAME])},
    )
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        yield f"git://{address}/{repo}"
    finally:
        container.remove(force=True)


@contextlib.contextmanager
def in_cluster(
    kubeconfig: Path, namespace: str, image: str, repo: str, timeout: float = 180
) -> Iterator[str]:
    """A Pod and a Service `git-server` in the release's namespace (the worker resolves the short name),
    pushed to through `kubectl port-forward`."""
    api = cluster.core(kubeconfig)
    labels = {"app.kubernetes.io/name": "workflow-test-git-server"}
    _delete(api, namespace)  # a run that was interrupted
    api.create_namespaced_pod(namespace, _pod(image, repo, labels))
    api.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "git", "port": PORT, "targetPort": PORT}]},
        },
    )
    try:
        _wait_ready(kubeconfig, namespace, timeout)
        with cluster.port_forward(kubeconfig, namespace, NAME, PORT) as local_port:
            yield f"git://127.0.0.1:{local_port}/{repo}"
    finally:
        _delete(api, namespace)


def _pod(image: str, repo: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": NAME, "labels": labels},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": 0, "fsGroup": UID,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "git", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
            "containers": [{
                "name": "git-daemon", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", SERVE.format(repo=repo)],
                "ports": [{"containerPort": PORT, "name": "git"}],
                "readinessProbe": {"tcpSocket": {"port": PORT}, "periodSeconds": 2},
                "volumeMounts": [{"name": "git", "mountPath": "/srv/git"},
                                 {"name": "tmp", "mountPath": "/tmp"}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
            }],
        },
    }  # fmt: skip


def _wait_ready(kubeconfig: Path, namespace: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = cluster.read(kubeconfig, "pods", NAME, namespace).get("status", {})
        if any(c.get("ready") for c in status.get("containerStatuses", [])):
            return
        time.sleep(2)
    raise TimeoutError(f"pod {NAME} not ready within {timeout:.0f} s: {status}")


def _delete(api, namespace: str) -> None:
    from kubernetes.client.exceptions import ApiException

    for delete in (api.delete_namespaced_service, api.delete_namespaced_pod):
        with contextlib.suppress(ApiException):
            delete(NAME, namespace, grace_period_seconds=0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the name is free only once the pod is gone
        try:
            api.read_namespaced_pod(NAME, namespace)
        except ApiException:
            return
        time.sleep(1)

"""The chart on a real Kubernetes (kind): pods ready as an arbitrary UID, `helm test` passes, MLflow refuses
anonymous requests, and the NetworkPolicies keep PostgreSQL away from pods that are not the stack's."""

from __future__ import annotations

import json

import pytest
import requests

from . import cluster
from .conftest import Release

pytestmark = [
    pytest.mark.kind,
    pytest.mark.skipif(cluster.unreachable_reason() is not None, reason=str(cluster.unreachable_reason())),
]

OPENSHIFT_STYLE_UID = str(cluster.OPENSHIFT_STYLE_UID)


def image_of(release: Release, kind: str, component: str) -> str:
    name = cluster.component_name(release.kubeconfig, kind, component, release.name, release.namespace)
    got = cluster.kubectl(release.kubeconfig, "get", kind, name, "-n", release.namespace, "-o", "json")
    return json.loads(got.stdout)["spec"]["template"]["spec"]["containers"][0]["image"]


def release_objects(release: Release, kind: str) -> list[dict]:
    return cluster.objects(
        release.kubeconfig, kind, release.namespace, {cluster.INSTANCE_LABEL: release.name}
    )


def test_every_pod_is_ready_and_runs_as_the_uid_openshift_would_assign(release: Release) -> None:
    pods = release_objects(release, "pods")
    running = {
        p["metadata"]["labels"][cluster.COMPONENT_LABEL]: p
        for p in pods
        if p["status"].get("phase") == "Running"
    }
    assert set(running) == {"mlflow", "postgresql", "sftp"}
    for component, pod in running.items():
        assert all(c["ready"] for c in pod["status"]["containerStatuses"]), component
        whoami = cluster.kubectl(
            release.kubeconfig, "exec", pod["metadata"]["name"], "-n", release.namespace, "--", "id", "-u"
        )
        assert whoami.stdout.strip() == OPENSHIFT_STYLE_UID, (component, whoami.stderr)


def test_helm_test_logs_a_run_and_finds_its_artifact_on_sftp(release: Release) -> None:
    result = cluster.helm(
        release.kubeconfig, "test", release.name, "-n", release.namespace, "--logs", "--timeout", "10m"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Phase:          Succeeded" in result.stdout
    assert "OK: run " in result.stdout
    assert "artifact found at sftp:/data/mlflow-artifacts/" in result.stdout


def test_mlflow_refuses_anonymous_requests_and_accepts_the_admin(
    mlflow_port: int, admin: cluster.AdminCredentials
) -> None:
    url = f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow/experiments/search?max_results=1"
    assert requests.get(url, timeout=30).status_code == 401
    answer = requests.get(url, auth=(admin.username, admin.password), timeout=30)
    assert answer.status_code == 200, answer.text
    assert requests.get(f"http://127.0.0.1:{mlflow_port}/health", timeout=30).text == "OK"


def test_every_claim_is_bound_on_the_wait_for_first_consumer_class(release: Release) -> None:
    """kind's default StorageClass binds on first consumer: `helm --wait` (scripts/kind-up) only ends
    because a long-running pod mounts every claim, the backup claim included (chart README, "Storage
    binding")."""
    claims = release_objects(release, "pvc")
    components = {c["metadata"]["labels"].get(cluster.COMPONENT_LABEL) for c in claims}
    assert components == {"backup", "sftp", "postgresql"}
    phases = {c["metadata"]["name"]: c["status"].get("phase") for c in claims}
    assert set(phases.values()) == {"Bound"}, phases
    classes = json.loads(cluster.kubectl(release.kubeconfig, "get", "storageclass", "-o", "json").stdout)
    default = "storageclass.kubernetes.io/is-default-class"
    modes = [
        c["volumeBindingMode"]
        for c in classes["items"]
        if c["metadata"].get("annotations", {}).get(default) == "true"
    ]
    assert modes == ["WaitForFirstConsumer"]


def test_pods_get_the_fs_group_openshift_would_assign(release: Release) -> None:
    for pod in release_objects(release, "pods"):
        if pod["status"].get("phase") != "Running":
            continue
        name = pod["metadata"]["name"]
        assert pod["spec"]["securityContext"]["fsGroup"] == cluster.OPENSHIFT_STYLE_UID, name
        groups = cluster.kubectl(release.kubeconfig, "exec", name, "-n", release.namespace, "--", "id", "-G")
        assert OPENSHIFT_STYLE_UID in groups.stdout.split(), (name, groups.stderr)


def test_network_policy_lets_only_the_stack_reach_postgresql(release: Release) -> None:
    image = image_of(release, "statefulset", "postgresql")
    service = release.service("postgresql")
    # --username and --dbname explicitly: the pod's UID has no passwd entry, so libpq has no default user
    # and pg_isready would make no attempt at all (exit 3) whatever the NetworkPolicy does.
    probe = [
        "pg_isready", "--host", service, "--port", "5432", "--username", cluster.DB_USER,
        "--dbname", cluster.DB_NAME, "--timeout", "10",
    ]  # fmt: skip
    stranger, stranger_log = cluster.run_pod(
        release.kubeconfig, release.namespace, image, probe, {"app": "stranger"}
    )
    as_mlflow, mlflow_log = cluster.run_pod(
        release.kubeconfig,
        release.namespace,
        image,
        probe,
        {
            cluster.INSTANCE_LABEL: release.name,
            "app.kubernetes.io/name": "mlops-stack",
            cluster.COMPONENT_LABEL: "mlflow",
        },
    )
    # pg_isready: 0 = accepting connections, 2 = no response (the policy drops the stranger's packets);
    # 3 = no attempt made, 1 = rejecting connections: neither says anything about the policy.
    assert (as_mlflow, stranger) == (0, 2), (mlflow_log, stranger_log)
    assert "accepting connections" in mlflow_log
    assert "no response" in stranger_log

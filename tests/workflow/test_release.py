"""The release itself on every target: the chart's `helm test` hook passes (it logs a run with an artifact
through the service and finds it on SFTP) and MLflow refuses anonymous requests.

Marked `[cluster]` only (`only_on("cluster")`), what a real Kubernetes (kind) adds: pods ready as an
arbitrary UID with the fsGroup OpenShift would assign, every claim Bound on the WaitForFirstConsumer class,
and NetworkPolicies that keep PostgreSQL away from pods that are not the stack's.
"""

from __future__ import annotations

import requests

from . import cluster
from .conftest import only_on
from .targets import KindCluster, Target

OPENSHIFT_STYLE_UID = str(cluster.OPENSHIFT_STYLE_UID)


def test_helm_test_logs_a_run_and_finds_its_artifact_on_sftp(target: Target) -> None:
    run = target.helm_test()
    assert run.returncode == 0, run.output[-3000:] + run.errors[-3000:]
    assert target.helm_test_problems(run.output) == [], run.output[-3000:]


def test_mlflow_refuses_anonymous_requests_and_accepts_the_admin(target: Target) -> None:
    endpoints = target.endpoints
    url = f"{endpoints.tracking_uri}/api/2.0/mlflow/experiments/search"
    assert requests.get(url, params={"max_results": 1}, timeout=30).status_code == 401
    answer = requests.get(
        url, params={"max_results": 1}, auth=(endpoints.username, endpoints.password), timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert requests.get(f"{endpoints.tracking_uri}/health", timeout=30).text == "OK"


def running_pods(target: KindCluster) -> list[dict]:
    return [p for p in target.release.objects("pods") if p["status"].get("phase") == "Running"]


@only_on("cluster")
def test_every_pod_is_ready_and_runs_as_the_uid_openshift_would_assign(target: KindCluster) -> None:
    release = target.release
    running = {p["metadata"]["labels"][cluster.COMPONENT_LABEL]: p for p in running_pods(target)}
    assert set(running) == {"mlflow", "postgresql", "sftp", "prefect", "prefect-worker"}
    for component, pod in running.items():
        assert all(c["ready"] for c in pod["status"]["containerStatuses"]), component
        uid, stderr = cluster.exec_in(release.kubeconfig, release.namespace, pod, ["id", "-u"])
        assert uid.strip() == OPENSHIFT_STYLE_UID, (component, stderr)


@only_on("cluster")
def test_every_claim_is_bound_on_the_wait_for_first_consumer_class(target: KindCluster) -> None:
    """kind's default StorageClass binds on first consumer: `helm --wait` (scripts/kind-up) only ends
    because a long-running pod mounts every claim, the backup claim included (chart README, "Storage
    binding")."""
    claims = target.release.objects("pvc")
    components = {c["metadata"]["labels"].get(cluster.COMPONENT_LABEL) for c in claims}
    assert components == {"backup", "sftp", "postgresql"}
    phases = {c["metadata"]["name"]: c["status"].get("phase") for c in claims}
    assert set(phases.values()) == {"Bound"}, phases
    default = "storageclass.kubernetes.io/is-default-class"
    modes = [
        c["volumeBindingMode"]
        for c in cluster.storage_classes(target.release.kubeconfig)
        if (c["metadata"].get("annotations") or {}).get(default) == "true"
    ]
    assert modes == ["WaitForFirstConsumer"]


@only_on("cluster")
def test_pods_get_the_fs_group_openshift_would_assign(target: KindCluster) -> None:
    release = target.release
    for pod in running_pods(target):
        name = pod["metadata"]["name"]
        assert pod["spec"]["securityContext"]["fsGroup"] == cluster.OPENSHIFT_STYLE_UID, name
        groups, stderr = cluster.exec_in(release.kubeconfig, release.namespace, pod, ["id", "-G"])
        assert OPENSHIFT_STYLE_UID in groups.split(), (name, stderr)


@only_on("cluster")
def test_network_policy_lets_only_the_stack_reach_postgresql(target: KindCluster) -> None:
    release = target.release
    image = release.image_of("statefulset", "postgresql")
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

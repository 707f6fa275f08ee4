"""The plan of the chart's pods, exactly, from the chart as `make up` renders it (helm, no engine).

What the kubelet decides before a pod starts is all in the plan (plan.py); pod_engine.create_options is
the one place it becomes Docker's arguments.
"""

from pathlib import Path

import pytest
from docker.types import Mount as DockerMount
from tests.unit.chart.helm import CHART, helm_path

from mlops_stack.localrun import pod_engine, volumes, workloads
from mlops_stack.localrun.manifests import Release, build_release
from mlops_stack.localrun.plan import Mount, PodPlan, plan_pod
from mlops_stack.localrun.probes import HttpGet, Probe, TcpSocket
from mlops_stack.localrun.quantities import Resources
from mlops_stack.localrun.render import Chart, render
from mlops_stack.localrun.security import ContainerSecurity

PROJECT = "p"
MI = 2**20
# restricted-v2 without a runAsUser or fsGroup in the chart: UID 1000680000, group 0, fsGroup 1000680000.
RESTRICTED = ContainerSecurity(
    user="1000680000:0", groups=(1000680000,), read_only_root=True, cap_drop=("ALL",), no_new_privileges=True
)


@pytest.fixture(scope="module")
def release() -> Release:
    values = [CHART / "ci" / "local-docker-values.yaml"]
    return build_release(render(Chart(CHART, "mlops-stack", "default", values, [], helm_path())))


def image_id(image: str, where: str) -> str:
    return f"sha256:{image}"


@pytest.fixture(scope="module")
def plans(release: Release) -> dict[str, PodPlan]:
    running, jobs = workloads.plan(release, {"mlops-stack-mlflow": {5000: ("127.0.0.1", 5000)}}, "default")
    return {pod.name: plan_pod(pod, release, PROJECT, image_id) for pod in running + jobs}


@pytest.fixture(autouse=True)
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning asks no engine: any Docker call would fail here."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")


def test_mlflow_container(plans: dict[str, PodPlan]) -> None:
    pod = plans["mlops-stack-mlflow-0"]
    (mlflow,) = pod.main
    assert (mlflow.docker_name, mlflow.image, mlflow.image_id) == (
        "p-mlops-stack-mlflow-0-mlflow",
        "mlops-stack/mlflow:0.1.0",
        "sha256:mlops-stack/mlflow:0.1.0",
    )
    assert (mlflow.entrypoint, mlflow.command, mlflow.working_dir) == (
        ("mlflow-entrypoint",),
        ("server",),
        None,
    )
    assert mlflow.security == RESTRICTED
    assert mlflow.resources == Resources(
        memory_limit=1536 * MI, nano_cpus=2_000_000_000, memory_reservation=512 * MI, cpu_shares=256
    )
    # Kubernetes' order, as rendered.
    assert [name for name, _ in mlflow.env[:4]] == [
        "MLFLOW_DB_HOST",
        "MLFLOW_DB_PORT",
        "MLFLOW_DB_USER",
        "MLFLOW_DB_PASSWORD_FILE",
    ]
    assert mlflow.env[:2] == (("MLFLOW_DB_HOST", "mlops-stack-postgresql"), ("MLFLOW_DB_PORT", "5432"))
    assert mlflow.mounts == (
        Mount("/tmp", "p-mlops-stack-mlflow-0-tmp", read_only=False),
        Mount("/var/run/secrets/mlops-stack/db", "p-mlops-stack-mlflow-0-db-password", read_only=True),
        Mount("/var/run/secrets/mlops-stack/mlflow", "p-mlops-stack-mlflow-0-mlflow-auth", read_only=True),
        Mount("/var/run/mlops-ssh", "p-mlops-stack-mlflow-0-ssh-config", read_only=True),
        Mount("/var/run/secrets/mlops-stack/sftp", "p-mlops-stack-mlflow-0-sftp-client-key", read_only=True),
    )
    health = HttpGet("http", "/health")
    assert mlflow.probes == (
        Probe("startupProbe", health, period=5, failure_threshold=60),
        Probe("readinessProbe", health, period=10, timeout=5),
        Probe("livenessProbe", health, period=20, timeout=5),
    )
    assert pod.ports == {"http": 5000}

    # The init container writes the known hosts into the memory volume that the server mounts read-only.
    (known_hosts,) = pod.init
    assert known_hosts.init
    assert known_hosts.security == RESTRICTED
    assert known_hosts.mounts == (
        Mount("/etc/sftp/host-keys-source", "p-mlops-stack-mlflow-0-sftp-host-keys", read_only=True),
        Mount("/var/run/mlops-ssh", "p-mlops-stack-mlflow-0-ssh-config", read_only=False),
    )
    assert known_hosts.resources == Resources(64 * MI, 200_000_000, 16 * MI, 10)


def test_mlflow_pod_volumes_pause_and_policies(plans: dict[str, PodPlan], release: Release) -> None:
    pod = plans["mlops-stack-mlflow-0"]
    assert (pod.restart_policy, pod.grace_seconds, pod.fs_group, pod.fs_group_change_policy) == (
        "Always",
        30,
        1000680000,
        "Always",
    )
    assert [(v.name, v.kind, v.read_only, v.tmpfs_bytes) for v in pod.volumes] == [
        ("tmp", "tmpfs", False, 2048 * MI),  # a sizeLimit: a tmpfs of that size
        ("db-password", "files", True, None),
        ("mlflow-auth", "files", True, None),
        ("sftp-host-keys", "files", True, None),
        ("ssh-config", "tmpfs", False, 1 * MI),
        ("sftp-client-key", "files", True, None),
    ]
    by_name = {v.name: v for v in pod.volumes}
    password = release.secrets["mlops-stack-postgresql"]["password"]
    assert by_name["db-password"].files == {"password": (password, 0o440)}
    # The kubelet's set-up of each, with the pod's fsGroup.
    assert by_name["db-password"].setup(pod.fs_group).root == (0o3777, 1000680000)
    assert by_name["db-password"].setup(pod.fs_group).ownership == volumes.Ownership(
        1000680000, read_only=True
    )
    assert by_name["tmp"].tmpfs_options(pod.fs_group) == "mode=2777,uid=0,gid=1000680000,size=2147483648"
    assert by_name["ssh-config"].tmpfs_options(pod.fs_group) == "mode=3777,uid=0,gid=1000680000,size=1048576"

    assert pod.pause.image == "mlops-stack/mlflow:0.1.0"
    assert pod.pause.hostname == "mlops-stack-mlflow-0"
    assert pod.pause.aliases == (
        "mlops-stack-mlflow",
        "mlops-stack-mlflow.default",
        "mlops-stack-mlflow.default.svc",
        "mlops-stack-mlflow.default.svc.cluster.local",
    )
    assert pod.pause.publish == ((5000, "127.0.0.1", 5000),)
    assert pod.pause.memory_volumes == ("p-mlops-stack-mlflow-0-tmp", "p-mlops-stack-mlflow-0-ssh-config")


def test_postgresql_claims_and_a_read_only_mount_of_a_writable_claim(plans: dict[str, PodPlan]) -> None:
    pod = plans["mlops-stack-postgresql-0"]
    (postgresql,) = pod.main
    assert postgresql.probes[0] == Probe(
        "startupProbe", TcpSocket("postgresql"), period=5, failure_threshold=60
    )
    assert pod.ports == {"postgresql": 5432}
    claims = {v.name: v for v in pod.volumes if v.kind == "pvc"}
    # volumeClaimTemplates give `<template>-<pod>`; claims outlive the pod, so they have no pod in their name.
    assert {n: v.docker_name for n, v in claims.items()} == {
        "backups": "p-mlops-stack-backup",
        "data": "p-data-mlops-stack-postgresql-0",
    }
    assert Mount("/backups", "p-mlops-stack-backup", read_only=True) in postgresql.mounts
    # Only the mount is read-only, not the claim: the fsGroup walk still gives it to the pod's group.
    assert claims["backups"].setup(pod.fs_group).ownership == volumes.Ownership(1000680000, read_only=False)
    assert claims["data"].setup(pod.fs_group, new_claim=True).root == (0o2775, 1000680000)


def test_docker_arguments_are_made_at_the_engine_boundary(plans: dict[str, PodPlan]) -> None:
    pod = plans["mlops-stack-mlflow-0"]
    options = pod_engine.create_options(pod, pod.main[0])
    environment = options.pop("environment")
    assert environment[0] == "MLFLOW_DB_HOST=mlops-stack-postgresql"
    mounts = options.pop("mounts")
    assert mounts[0] == DockerMount("/tmp", "p-mlops-stack-mlflow-0-tmp", type="volume", no_copy=True)
    assert [m["ReadOnly"] for m in mounts] == [False, True, True, True, True]
    assert options == {
        "image": "mlops-stack/mlflow:0.1.0",
        "name": "p-mlops-stack-mlflow-0-mlflow",
        "entrypoint": ["mlflow-entrypoint"],
        "command": ["server"],
        "user": "1000680000:0",
        "group_add": ["1000680000"],
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": 1536 * MI,
        "memswap_limit": 1536 * MI,  # no swap, as the kubelet gives none
        "nano_cpus": 2_000_000_000,
        "mem_reservation": 512 * MI,
        "cpu_shares": 256,
        "restart_policy": {"Name": "unless-stopped"},
    }
    init = pod_engine.create_options(pod, pod.init[0])
    assert init["restart_policy"] == {"Name": "no"}


def test_a_job_never_restarts_and_keeps_its_controller(release: Release) -> None:
    (hook,) = [h for h in release.hooks if h.name == "mlops-stack-db-migration"]
    (pod,) = workloads.pods_of(hook.manifest, "default")
    job = plan_pod(pod, release, PROJECT, image_id)
    assert job.restart_policy == "Never"
    assert (job.controller["backoffLimit"], job.controller["activeDeadlineSeconds"]) == (0, 1800)
    assert pod_engine.create_options(job, job.main[0])["restart_policy"] == {"Name": "no"}


def test_the_config_hash_is_the_plans_fingerprint(release: Release) -> None:
    running, _ = workloads.plan(release, {}, "default")
    (mlflow,) = [p for p in running if p.name == "mlops-stack-mlflow-0"]

    def config_hash(pod: workloads.Pod, ids=image_id) -> str:
        return plan_pod(pod, release, PROJECT, ids).config_hash

    assert config_hash(mlflow) == config_hash(mlflow)
    # A rebuilt image, a changed limit, a published port: a different pod.
    assert config_hash(mlflow, lambda image, where: "sha256:rebuilt") != config_hash(mlflow)
    container = mlflow.spec["containers"][0]
    limited = {**container, "resources": {"limits": {"memory": "1Gi"}}}
    changed = workloads.Pod(
        **{**vars(mlflow), "template": {"spec": {**mlflow.spec, "containers": [limited]}}}
    )
    assert config_hash(changed) != config_hash(mlflow)
    published = workloads.Pod(**{**vars(mlflow), "publish": {5000: ("127.0.0.1", 5001)}})
    assert config_hash(published) != config_hash(mlflow)

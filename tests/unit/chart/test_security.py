"""restricted-v2 readiness: exact security contexts on every pod and container of every render."""

from __future__ import annotations

from typing import Any

import pytest

from .helm import CHART, CI_VALUES, containers, find, pod_spec, render, workloads

CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_SECURITY_DEFAULT = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def all_renders() -> list[tuple[str, list[dict[str, Any]]]]:
    out = [("default", render()), ("upgrade", render(is_upgrade=True))]
    out += [(f.name, render([f])) for f in CI_VALUES]
    return out


def test_every_container_has_the_restricted_security_context() -> None:
    checked = 0
    for name, docs in all_renders():
        for workload in workloads(docs):
            for cname, container in containers(workload).items():
                where = f"{name}: {workload['kind']}/{workload['metadata']['name']}/{cname}"
                assert container["securityContext"] == CONTAINER_SECURITY, where
                checked += 1
    assert checked >= 60


def test_default_pods_set_no_uid_gid_or_fsgroup() -> None:
    """OpenShift assigns UID and fsGroup from the namespace range; a fixed one would be rejected."""
    for workload in workloads(render()):
        spec = pod_spec(workload)
        assert spec["securityContext"] == POD_SECURITY_DEFAULT, workload["metadata"]["name"]
        for container in containers(workload).values():
            assert "runAsUser" not in container["securityContext"]
            assert "runAsGroup" not in container["securityContext"]


def test_plain_kubernetes_values_set_the_ids_on_every_pod() -> None:
    docs = render(
        set_values=["podSecurity.runAsUser=1001", "podSecurity.runAsGroup=0", "podSecurity.fsGroup=1001"]
    )
    for workload in workloads(docs):
        assert pod_spec(workload)["securityContext"] == {
            **POD_SECURITY_DEFAULT,
            "runAsUser": 1001,
            "runAsGroup": 0,
            "fsGroup": 1001,
        }


def test_no_pod_mounts_a_service_account_token() -> None:
    docs = render()
    for workload in workloads(docs):
        assert pod_spec(workload)["automountServiceAccountToken"] is False
    service_account = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert [sa["automountServiceAccountToken"] for sa in service_account] == [False]


def test_every_container_has_requests_and_limits() -> None:
    for name, docs in all_renders():
        for workload in workloads(docs):
            for cname, container in containers(workload).items():
                resources = container["resources"]
                for kind in ("requests", "limits"):
                    assert set(resources[kind]) == {"cpu", "memory"}, f"{name}: {cname}: {kind}"


@pytest.mark.parametrize(
    ("kind", "name", "container", "writable"),
    [
        ("Deployment", "mlflow", "mlflow", {"/tmp"}),
        ("Deployment", "mlflow", "known-hosts", {"/var/run/mlops-ssh"}),
        ("StatefulSet", "postgresql", "postgresql", {"/var/lib/postgresql/data", "/tmp"}),
        # Each sshd writes its own store and (to lock the keys) its sealed host-key directory, nothing else.
        ("Deployment", "sftp", "sftp", {"/data/dvc", "/var/lib/sftp-host-keys"}),
        ("Deployment", "sftp", "sftp-mlflow", {"/data/mlflow-artifacts", "/var/lib/sftp-host-keys"}),
        ("Deployment", "sftp", "stage-host-keys", {"/tmp", "/var/lib/sftp-host-keys"}),
        ("Deployment", "sftp", "authorized-keys", {"/etc/sftp/authorized-keys"}),
        ("Deployment", "sftp", "authorized-keys-mlflow", {"/etc/sftp/authorized-keys"}),
        ("CronJob", "backup", "backup", {"/tmp", "/backups"}),
        ("CronJob", "restore", "restore", {"/tmp", "/backups", "/stores/sftp"}),
    ],
)
def test_writable_mounts_are_exactly_what_the_image_contract_names(
    kind: str, name: str, container: str, writable: set[str]
) -> None:
    """images/README.md lists the writable paths of each image; everything else is read-only."""
    spec = containers(find(render(), kind, name))[container]
    assert {m["mountPath"] for m in spec["volumeMounts"] if not m.get("readOnly")} == writable


def test_emptydirs_have_size_limits() -> None:
    for workload in workloads(render()):
        for volume in pod_spec(workload)["volumes"]:
            if "emptyDir" in volume:
                assert volume["emptyDir"]["sizeLimit"], volume["name"]


@pytest.mark.parametrize(
    ("value", "kind", "name", "default"),
    [
        ("mlflow", "Deployment", "mlflow", "2Gi"),
        ("migration", "Job", "db-migration", "256Mi"),
        ("tests", "Pod", "test", "256Mi"),
        ("postgresql", "StatefulSet", "postgresql", "256Mi"),
        ("backup", "CronJob", "backup", "256Mi"),
        ("sftp", "Deployment", "sftp", "64Mi"),
    ],
)
def test_tmp_size_limits_come_from_the_components_values(
    value: str, kind: str, name: str, default: str
) -> None:
    def tmp(docs: list[dict[str, Any]]) -> dict[str, Any]:
        return next(v for v in pod_spec(find(docs, kind, name))["volumes"] if v["name"] == "tmp")

    assert tmp(render(is_upgrade=True)) == {"name": "tmp", "emptyDir": {"sizeLimit": default}}
    set_values = [f"{value}.tmpSizeLimit=3Gi"]
    assert tmp(render(set_values=set_values, is_upgrade=True))["emptyDir"] == {"sizeLimit": "3Gi"}


def test_the_backup_restore_pods_tmp_size_limit_is_the_backups() -> None:
    values = [CHART / "ci" / "external-database-values.yaml"]
    docs = render(values, set_values=["backup.tmpSizeLimit=1Gi"])
    volumes = pod_spec(find(docs, "Deployment", "backup-restore"))["volumes"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in volumes

"""Storage binding: every PersistentVolumeClaim the chart creates is mounted by a long-running pod.

On a StorageClass with `volumeBindingMode: WaitForFirstConsumer` (kind's local-path, most cloud block
storage) a claim stays Pending until a pod that mounts it is scheduled, and `helm install --wait` waits
for every claim of the release to be Bound: helm 4 reports the claim InProgress until its timeout, helm 3
ends with `context deadline exceeded`. A claim mounted only by a CronJob or a hook Job is therefore never
bound during `--wait`. The chart README's "Storage binding" section explains the design.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from .helm import CHART, CI_VALUES, PREFIX, ROOT, find, pod_spec, render, workloads

EXTERNAL = CHART / "ci" / "external-database-values.yaml"
KIND_VALUES = ROOT / "tests" / "kind" / "values.yaml"
LONG_RUNNING = {"Deployment", "StatefulSet"}
BACKUP_CLAIM = f"{PREFIX}-backup"
SFTP_CLAIM = f"{PREFIX}-sftp"
POSTGRESQL = f"StatefulSet/{PREFIX}-postgresql"
BACKUP_RESTORE = f"Deployment/{PREFIX}-backup-restore"
SFTP = f"Deployment/{PREFIX}-sftp"


def is_hook(doc: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (doc["metadata"].get("annotations") or {})


def mounted_claims(doc: dict[str, Any]) -> set[str]:
    """Claims a workload's containers (init or main) actually mount, not only declare."""
    spec = pod_spec(doc)
    by_volume = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounts = {
        m["name"] for c in [*spec.get("initContainers", []), *spec["containers"]] for m in c["volumeMounts"]
    }
    return {claim for volume, claim in by_volume.items() if volume in mounts}


def claim_holders(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each claim the release creates (hooks excluded: Helm does not wait for them) -> the long-running
    workloads (Deployment/StatefulSet, not a hook, not a Job or CronJob) that mount it."""
    created = sorted(
        d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim" and not is_hook(d)
    )
    holders: dict[str, list[str]] = {claim: [] for claim in created}
    for doc in docs:
        if doc["kind"] in LONG_RUNNING and not is_hook(doc):
            for claim in mounted_claims(doc) & set(created):
                holders[claim].append(f"{doc['kind']}/{doc['metadata']['name']}")
    return {claim: sorted(names) for claim, names in holders.items()}


def assert_held(docs: list[dict[str, Any]], expected: dict[str, list[str]]) -> None:
    holders = claim_holders(docs)
    unheld = sorted(claim for claim, names in holders.items() if not names)
    assert not unheld, (
        f"claims no Deployment or StatefulSet mounts: {unheld}; on WaitForFirstConsumer storage they stay "
        "Pending and `helm install --wait` never completes"
    )
    assert holders == expected


# The defaults and every ci/*-values.yaml, on install and on upgrade (the dump mounts the backup claim
# only on upgrade): the exact claims and what holds each.
CI_EXPECTED = {
    "defaults": {BACKUP_CLAIM: [POSTGRESQL], SFTP_CLAIM: [SFTP]},
    "corporate-values.yaml": {BACKUP_CLAIM: [POSTGRESQL], SFTP_CLAIM: [SFTP]},
    "existing-secrets-values.yaml": {SFTP_CLAIM: [SFTP]},  # backup.persistence.existingClaim
    "external-database-values.yaml": {BACKUP_CLAIM: [BACKUP_RESTORE], SFTP_CLAIM: [SFTP]},
    "kubernetes-ingress-values.yaml": {BACKUP_CLAIM: [POSTGRESQL], SFTP_CLAIM: [SFTP]},
    "local-docker-values.yaml": {BACKUP_CLAIM: [POSTGRESQL], SFTP_CLAIM: [SFTP]},  # pre-upgrade dump only
    "no-backup-values.yaml": {SFTP_CLAIM: [SFTP]},
    "openshift-values.yaml": {BACKUP_CLAIM: [POSTGRESQL], SFTP_CLAIM: [SFTP]},
}


def test_every_ci_values_file_is_covered() -> None:
    assert set(CI_EXPECTED) - {"defaults"} == {f.name for f in CI_VALUES}


@pytest.mark.parametrize("is_upgrade", [False, True], ids=["install", "upgrade"])
@pytest.mark.parametrize("name", sorted(CI_EXPECTED))
def test_every_claim_of_the_ci_values_is_mounted_by_a_long_running_pod(
    helm_binary: str, name: str, is_upgrade: bool
) -> None:
    files = [] if name == "defaults" else [CHART / "ci" / name]
    assert_held(render(files, is_upgrade=is_upgrade, helm=helm_binary), CI_EXPECTED[name])


@pytest.mark.parametrize("is_upgrade", [False, True], ids=["install", "upgrade"])
def test_the_kind_values_hold_every_claim_and_set_an_fs_group(is_upgrade: bool) -> None:
    """scripts/kind-up installs with tests/kind/values.yaml and `--wait` on kind's WaitForFirstConsumer
    class, with the UID, group 0 and fsGroup OpenShift would assign."""
    docs = render([KIND_VALUES], is_upgrade=is_upgrade)
    assert_held(docs, {BACKUP_CLAIM: [POSTGRESQL], SFTP_CLAIM: [SFTP]})
    for workload in workloads(docs):
        security = pod_spec(workload)["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (
            1000680000,
            0,
            1000680000,
        )


# Every combination of: in-chart PostgreSQL or externalDatabase, backup CronJob on/off, pre-upgrade dump
# on/off, migration Job on/off, backup and SFTP existingClaim or not, install or upgrade.
COMBINATIONS = list(itertools.product([True, False], repeat=7))


def combination_id(combo: tuple[bool, ...]) -> str:
    in_chart, backup, dump, migration, backup_claim, sftp_claim, upgrade = combo
    return "-".join(
        [
            "postgresql" if in_chart else "external",
            f"backup={backup}",
            f"dump={dump}",
            f"migration={migration}",
            "backup-existing" if backup_claim else "backup-created",
            "sftp-existing" if sftp_claim else "sftp-created",
            "upgrade" if upgrade else "install",
        ]
    )


@pytest.mark.parametrize("combo", COMBINATIONS, ids=combination_id)
def test_every_claim_of_every_combination_is_mounted_by_a_long_running_pod(combo: tuple[bool, ...]) -> None:
    in_chart, backup, dump, migration, backup_claim, sftp_claim, upgrade = combo
    files: list[Path] = [] if in_chart else [EXTERNAL]
    sets = [
        f"backup.enabled={backup}",
        f"migration.dumpBeforeUpgrade={dump}",
        f"migration.enabled={migration}",
    ]
    if backup_claim:
        sets.append("backup.persistence.existingClaim=team-backups")
    if sftp_claim:
        sets.append("sftp.persistence.existingClaim=team-data")
    expected: dict[str, list[str]] = {}
    if (backup or (migration and dump)) and not backup_claim:
        expected[BACKUP_CLAIM] = [POSTGRESQL if in_chart else BACKUP_RESTORE]
    if not sftp_claim:
        expected[SFTP_CLAIM] = [SFTP]
    assert_held(render(files, sets, is_upgrade=upgrade), expected)


def holder_selector(component: str) -> dict[str, Any]:
    return {
        "matchLabels": {
            "app.kubernetes.io/name": "mlops-stack",
            "app.kubernetes.io/instance": "t",
            "app.kubernetes.io/component": component,
        }
    }


@pytest.mark.parametrize(
    ("files", "holder"), [([], "postgresql"), ([EXTERNAL], "backup-restore")], ids=["postgresql", "external"]
)
def test_the_backup_writers_run_on_the_node_of_the_claims_holder(files: list[Path], holder: str) -> None:
    """A ReadWriteOnce claim attaches to one node: the CronJob and the pre-upgrade dump must run where the
    long-running holder already mounts it (the scheduler does not check that for CSI volumes)."""
    docs = render(
        files,
        ["postgresql.tolerations[0].key=db", "postgresql.tolerations[0].operator=Exists"],
        is_upgrade=True,
    )
    on_holder = {"labelSelector": holder_selector(holder), "topologyKey": "kubernetes.io/hostname"}
    on_sftp = {"labelSelector": holder_selector("sftp"), "topologyKey": "kubernetes.io/hostname"}
    # The backup mounts the SFTP claim too (read-only): it runs where both are, the SFTP pod being placed on
    # the holder's node; the restore and the verify need the backup claim only.
    expected = {
        ("CronJob", "backup"): [on_holder, on_sftp],
        ("CronJob", "verify"): [on_holder],
        ("CronJob", "restore"): [on_holder],
        ("Job", "db-migration"): [on_holder],
        ("Deployment", "sftp"): [on_holder],
    }
    for (kind, name), terms in expected.items():
        spec = pod_spec(find(docs, kind, name))
        if kind != "Deployment":
            assert BACKUP_CLAIM in mounted_claims(find(docs, kind, name))
        assert spec["affinity"] == {
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}
        }, (
            kind,
            name,
        )
        if kind == "Deployment":
            continue
        # PostgreSQL's tolerations, so that they may follow it onto a tainted node.
        expected_tolerations = [{"key": "db", "operator": "Exists"}] if holder == "postgresql" else None
        assert spec.get("tolerations") == expected_tolerations, (kind, name)


def test_a_migration_without_dump_mounts_no_claim_and_is_not_pinned() -> None:
    for docs in (
        render([EXTERNAL]),
        render(set_values=["migration.dumpBeforeUpgrade=false"], is_upgrade=True),
    ):
        job = find(docs, "Job", "db-migration")
        assert not mounted_claims(job)
        assert "affinity" not in pod_spec(job)


def test_postgresql_mounts_the_backups_read_only() -> None:
    """Read-only mount, read-write volume: the node attaches the claim read-write for the backup pods."""
    spec = pod_spec(find(render(), "StatefulSet", "postgresql"))
    mounts = spec["containers"][0]["volumeMounts"]
    assert {"name": "backups", "mountPath": "/backups", "readOnly": True} in mounts
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": BACKUP_CLAIM}} in spec["volumes"]
    existing = render(set_values=["backup.persistence.existingClaim=team-backups"])
    volumes = pod_spec(find(existing, "StatefulSet", "postgresql"))["volumes"]
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "team-backups"}} in volumes
    without = pod_spec(find(render([CHART / "ci" / "no-backup-values.yaml"]), "StatefulSet", "postgresql"))
    assert "backups" not in {v["name"] for v in without["volumes"]}


def test_the_backup_restore_pod_of_an_external_database() -> None:
    docs = render([EXTERNAL])
    deployment = find(docs, "Deployment", "backup-restore")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = pod_spec(deployment)
    container = spec["containers"][0]
    assert container["image"] == "mlops-stack/postgresql:0.1.0"
    assert container["command"] == ["container-entrypoint"]
    assert {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]} == {
        "/tmp": False,
        "/backups": True,
        "/var/run/secrets/mlops-stack/db": True,
        "/var/run/secrets/mlops-stack/db-ca": True,  # restores use TLS too (ci/external-database-values)
    }
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "PGHOST": "postgres.databases.svc.cluster.local",
        "PGPORT": "5432",
        "PGUSER": "mlflow",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/var/run/secrets/mlops-stack/db-ca/ca.crt",
    }
    assert "ports" not in container
    clients = find(docs, "NetworkPolicy", "clients")["spec"]["podSelector"]["matchExpressions"][0]["values"]
    # it accepts no connection
    assert clients == [
        "migration",
        "backup",
        "gc",
        "test",
        "backup-restore",
        "prefect-worker",
        "mlflow-account",
    ]
    assert find(docs, "PersistentVolumeClaim", "backup")["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep"
    }
    no_backup = render([EXTERNAL, CHART / "ci" / "no-backup-values.yaml"])
    assert not [d for d in no_backup if d["metadata"]["name"] == f"{PREFIX}-backup-restore"]


def test_the_storage_binding_is_documented() -> None:
    readme = (CHART / "README.md").read_text()
    section = readme.split("## Storage binding\n", 1)[1].split("\n## ", 1)[0]
    for fact in ("WaitForFirstConsumer", "--wait", "read-only", "backup-restore", "podAffinity"):
        assert fact in section, fact

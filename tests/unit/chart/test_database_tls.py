"""externalDatabase.sslMode and tlsCA, rendered exactly into every database client (Helm 3 and 4)."""

from __future__ import annotations

from .helm import CHART, containers, find, pod_spec, render, workloads

EXTERNAL = CHART / "ci" / "external-database-values.yaml"
CA_FILE = "/var/run/secrets/mlops-stack/db-ca/ca.crt"
CA_MOUNT = {"name": "db-ca", "mountPath": "/var/run/secrets/mlops-stack/db-ca", "readOnly": True}
# Every container that opens a database connection, by workload.
CLIENTS = {
    ("Deployment", "mlflow"): ["mlflow"],
    ("Job", "db-migration"): ["pg-dump", "db-upgrade"],
    ("CronJob", "backup"): ["backup"],
    ("CronJob", "restore"): ["restore", "accounts"],
    ("CronJob", "gc"): ["gc"],
    ("Deployment", "backup-restore"): ["backup-restore"],
}


def tls_env(container: dict) -> list[dict]:
    return [e for e in container.get("env", []) if e["name"].startswith("PGSSL")]


def test_verify_full_with_a_ca_reaches_every_database_client(helm_binary: str) -> None:
    docs = render([EXTERNAL], is_upgrade=True, helm=helm_binary)
    for (kind, name), clients in CLIENTS.items():
        workload = find(docs, kind, name)
        assert {"name": "db-ca", "configMap": {"name": "company-db-ca", "defaultMode": 0o444,
                "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in pod_spec(workload)["volumes"]  # fmt: skip
        for cname in clients:
            container = containers(workload)[cname]
            assert tls_env(container) == [
                {"name": "PGSSLMODE", "value": "verify-full"},
                {"name": "PGSSLROOTCERT", "value": CA_FILE},
            ], f"{name}/{cname}"
            assert CA_MOUNT in container["volumeMounts"], f"{name}/{cname}"


def test_a_ca_from_a_secret() -> None:
    docs = render(
        [EXTERNAL], set_values=["externalDatabase.tlsCA.kind=Secret", "externalDatabase.tlsCA.key=root.pem"]
    )
    volumes = {v["name"]: v for v in pod_spec(find(docs, "Deployment", "mlflow"))["volumes"]}
    assert volumes["db-ca"] == {
        "name": "db-ca",
        "secret": {
            "secretName": "company-db-ca",
            "defaultMode": 0o444,
            "items": [{"key": "root.pem", "path": "ca.crt"}],
        },
    }


def test_without_a_ca_only_the_mode_is_set() -> None:
    docs = render([EXTERNAL], set_values=["externalDatabase.sslMode=require", "externalDatabase.tlsCA.name="])
    mlflow = find(docs, "Deployment", "mlflow")
    assert tls_env(containers(mlflow)["mlflow"]) == [{"name": "PGSSLMODE", "value": "require"}]
    assert "db-ca" not in {v["name"] for v in pod_spec(mlflow)["volumes"]}


def test_the_in_chart_postgresql_gets_no_tls_settings() -> None:
    for workload in workloads(render(is_upgrade=True)):
        for container in containers(workload).values():
            assert tls_env(container) == []
        assert "db-ca" not in {v["name"] for v in pod_spec(workload).get("volumes", [])}


def test_the_trusted_ca_bundle_is_the_databases_ca_when_tls_ca_is_empty() -> None:
    docs = render(
        [EXTERNAL], set_values=["externalDatabase.tlsCA.name=", "global.caBundle.configMap=trusted-ca"]
    )
    for (kind, name), clients in CLIENTS.items():
        if kind == "Job":
            continue  # a hook: its dump container exists on upgrade only (checked in the first test)
        workload = find(docs, kind, name)
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        assert volumes["db-ca"]["configMap"] == {
            "name": "trusted-ca",
            "defaultMode": 0o444,
            "items": [{"key": "ca-bundle.crt", "path": "ca.crt"}],
        }, name
        for cname in clients:
            assert {"name": "PGSSLROOTCERT", "value": CA_FILE} in tls_env(containers(workload)[cname])

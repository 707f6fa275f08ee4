"""NOTES.txt gives a data scientist exactly what they need to start."""

from __future__ import annotations

from .helm import CHART, NAMESPACE, RELEASE, run_helm


def notes(*args: str) -> str:
    out = run_helm(["install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", *args])
    return out[out.index("NOTES:") :]


def test_notes_on_openshift() -> None:
    text = notes("-f", str(CHART / "ci" / "openshift-values.yaml"))
    assert "  URL:       https://mlflow.apps.example.com\n" in text
    assert (
        "  Password:  kubectl -n mlops get secret t-mlops-stack-mlflow -o jsonpath='{.data.admin-password}'"
        " | base64 -d; echo\n"
    ) in text
    assert "  Host:      <load balancer address: see below>\n" in text
    assert "  Port:      2222\n" in text
    assert (
        "kubectl -n mlops get secret t-mlops-stack-sftp-host-keys -o jsonpath='{.data.ssh_host_ecdsa_key}'"
        " | base64 -d | ssh-keygen -y -f /dev/stdin | ssh-keygen -l -f -\n"
    ) in text
    assert (
        "  mlops init --tracking-uri https://mlflow.apps.example.com"
        " --sftp-host <load balancer address: see below> --sftp-port 2222 --sftp-user mlops"
        " --host-key-fingerprint <SHA256:... from the admin>"
        " --prefect-api-url https://prefect.apps.example.com/api"
        " --prefect-auth-string-file <file holding the Prefect auth string>\n"
    ) in text
    assert "helm test t -n mlops" in text


def test_notes_in_cluster_only() -> None:
    text = notes()
    assert (
        "  mlops init --tracking-uri http://t-mlops-stack-mlflow.mlops.svc:5000"
        " --sftp-host t-mlops-stack-sftp.mlops.svc --sftp-port 2222 --sftp-user mlops"
    ) in text
    assert "No Route or Ingress was created" in text


def test_notes_with_node_port() -> None:
    text = notes("-f", str(CHART / "ci" / "kubernetes-ingress-values.yaml"))
    assert "--tracking-uri https://mlflow.example.com --sftp-host <a node address> --sftp-port 30222 " in text


def test_notes_tell_the_admin_where_the_backups_are() -> None:
    assert "  kubectl -n mlops exec sts/t-mlops-stack-postgresql -- ls -l /backups\n" in notes()
    external = notes("-f", str(CHART / "ci" / "external-database-values.yaml"))
    assert "  kubectl -n mlops exec deploy/t-mlops-stack-backup-restore -- ls -l /backups\n" in external
    assert "/backups" not in notes("-f", str(CHART / "ci" / "no-backup-values.yaml"))


def test_notes_list_the_cluster_settings_in_effect() -> None:
    text = notes("-f", str(CHART / "ci" / "corporate-values.yaml"))
    assert text.endswith(
        '\nCluster settings in effect (chart README, "Corporate clusters"):\n'
        "  - Trusted CA bundle: ConfigMap trusted-ca key ca-bundle.crt in the MLflow server, migration, gc"
        " and Prefect worker containers (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, GIT_SSL_CAINFO)\n"
        f"{GC_LINE}"
        "  - PodDisruptionBudget t-mlops-stack-mlflow: at least 2 up of the 3 MLflow pods during node"
        " drains\n"
        "  - MLflow pods on different nodes (hard anti-affinity)\n"
        "  - MLflow pods spread over topology.kubernetes.io/zone\n"
        "  - mlflow: 2 extraEnv, 1 extraEnvFrom, 1 extraVolumes, 1 extraVolumeMounts\n"
    ), text


GC_LINE = (
    "  - CronJob t-mlops-stack-gc (45 3 * * *): runs deleted more than 30d ago lose their artifacts and rows"
    " (run it now: kubectl -n mlops create job --from=cronjob/t-mlops-stack-gc gc-now)\n"
)


def test_notes_list_only_the_gc_by_default() -> None:
    assert notes().endswith(f'\nCluster settings in effect (chart README, "Corporate clusters"):\n{GC_LINE}')


def test_notes_list_no_cluster_settings_without_gc() -> None:
    assert "Cluster settings in effect" not in notes("--set", "gc.enabled=false")


def test_notes_name_the_external_database_tls() -> None:
    text = notes("-f", str(CHART / "ci" / "external-database-values.yaml"))
    assert (
        "  - External PostgreSQL postgres.databases.svc.cluster.local:5432 with sslMode verify-full, CA from"
        " ConfigMap company-db-ca key ca.crt\n"
    ) in text


def test_notes_name_the_trusted_ca_bundle() -> None:
    text = notes("--set", "global.caBundle.configMap=trusted-ca")
    assert (
        "  - Trusted CA bundle: ConfigMap trusted-ca key ca-bundle.crt in the MLflow server, migration, gc"
        " and Prefect worker containers (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, GIT_SSL_CAINFO)\n"
    ) in text


def test_notes_give_the_prefect_url_where_its_auth_string_is_and_the_init_flags() -> None:
    text = notes("-f", str(CHART / "ci" / "openshift-values.yaml"))
    assert (
        "Prefect server (UI and API; re-training on a schedule)\n"
        "  URL:       https://prefect.apps.example.com  (API: https://prefect.apps.example.com/api)\n"
        "  Auth:      kubectl -n mlops get secret t-mlops-stack-prefect -o jsonpath='{.data.auth-string}'"
        " | base64 -d; echo\n"
        "  Worker:    work pool mlops, MLflow account prefect-worker\n"
    ) in text
    assert (
        " --prefect-api-url https://prefect.apps.example.com/api"
        " --prefect-auth-string-file <file holding the Prefect auth string>\n"
    ) in text
    assert "Prefect" not in notes("--set", "prefect.enabled=false")

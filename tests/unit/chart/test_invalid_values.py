"""Bad input is refused with a message that says what to fix. Each file under invalid/ is one mistake a
user makes; the expected message is quoted (the JSON-schema ones come from Helm's validator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helm import CHART, NAMESPACE, HelmError, run_helm

INVALID = Path(__file__).parent / "invalid"
FAIL = "mlops-stack: invalid values:\n  - "

EXPECTED = {
    # _validation.tpl: cross-field checks, one message per mistake.
    "sftp-extra-mount-of-the-data-volume.yaml": FAIL
    + 'sftp.extraVolumeMounts[0] mounts the volume "data", which holds MLflow\'s artifact store as well as '
    "the DVC store: every DVC key could then read and replace MLflow's artifacts. Remove it; the DVC "
    "store's sshd already mounts its own directory at /data/dvc.",
    "sftp-extra-mount-under-data.yaml": FAIL
    + "sftp.extraVolumeMounts[0] mounts at /data, under /data, where the stores are mounted: choose a "
    "mountPath outside /data.",
    "external-db-without-host.yaml": FAIL + "postgresql.enabled is false: set externalDatabase.host (and "
    "externalDatabase.existingSecret) to your PostgreSQL server.",
    "external-db-without-secret.yaml": FAIL + "externalDatabase.existingSecret is required with an external "
    'database: create a Secret holding the password of user "mlflow" under the key "password" and set its '
    "name.",
    "both-databases.yaml": FAIL + "externalDatabase.host is set while postgresql.enabled is true: set "
    "postgresql.enabled=false to use the external database, or empty externalDatabase.host.",
    "plaintext-postgres-password.yaml": FAIL
    + "postgresql.auth.password: plaintext secrets are not accepted in "
    "values (they would be stored in the release history). Create a Secret and set the matching "
    "existingSecret value instead.",
    "plaintext-mlflow-admin-password.yaml": FAIL
    + "mlflow.auth.adminPassword: plaintext secrets are not accepted",
    "plaintext-external-db-password.yaml": FAIL
    + "externalDatabase.password: plaintext secrets are not accepted",
    "route-without-host.yaml": FAIL
    + "route.host is required when a Route is created: MLflow only answers to "
    "the host names in --allowed-hosts. Set route.host (e.g. mlflow.apps.example.com) or "
    "route.enabled=false.",
    "ingress-without-host.yaml": FAIL + "ingress.host is required when ingress.enabled is true: MLflow only "
    "answers to the host names in --allowed-hosts. Set ingress.host (e.g. mlflow.example.com).",
    "route-and-ingress-forced.yaml": FAIL
    + "route.force and ingress.enabled are both true: MLflow is exposed "
    "once. Set route.force=false to use the Ingress, or ingress.enabled=false to use the Route.",
    "latest-image-tag.yaml": FAIL
    + 'mlflow.image.tag is "latest": pin a version (e.g. 0.1.0) so that upgrades '
    "and rollbacks are reproducible, or leave it empty for the chart's appVersion.",
    "nodeport-with-clusterip.yaml": FAIL
    + "sftp.service.nodePort is set but sftp.service.type is ClusterIP: set "
    "sftp.service.type=NodePort, or remove the nodePort.",
    "private-key-as-authorized-key.yaml": FAIL
    + "sftp.authorizedKeys[0] is a private key: put the public key "
    "line (the .pub file, e.g. 'ssh-ed25519 AAAA... user@host') here and keep the private key on the user's "
    "machine.",
    "not-a-public-key.yaml": FAIL + 'sftp.authorizedKeys[0] ("alice@laptop") is not an OpenSSH public key '
    "line: paste the content of the user's .pub file, e.g. 'ssh-ed25519 AAAAC3Nza... alice@laptop'.",
    "bad-client-cidr.yaml": FAIL + 'networkPolicy.sftp.clientCIDRs[0] = "10.0.0.0" is not a CIDR: write a '
    "network with its prefix length, e.g. 10.20.0.0/16 (a single address is 10.20.0.5/32).",
    "bad-cron-schedule.yaml": FAIL + 'backup.schedule "every night" is not a cron schedule: use five fields '
    '(minute hour day-of-month month day-of-week), e.g. "15 2 * * *" for 02:15 daily, or @daily.',
    "root-uid.yaml": FAIL + "podSecurity.runAsUser is 0 (root): every pod runs with runAsNonRoot. Leave it "
    "empty on OpenShift, or set a non-root UID such as 1001.",
    "too-many-database-connections.yaml": FAIL + "MLflow may open 168 PostgreSQL connections (7 pods "
    "(mlflow.replicas 5 plus 2 for a rolling update's surge) x 2 workers x 3 engines (tracking, model "
    "registry, basic-auth) x 4 connections (databasePool.size 2 + maxOverflow 2)), more than "
    "postgresql.maxConnections (150) minus postgresql.reservedConnections (20) = 130; at the limit clients "
    "get 'too many clients' errors. Lower mlflow.replicas, mlflow.workers, mlflow.databasePool.size or "
    "mlflow.databasePool.maxOverflow, or raise postgresql.maxConnections.",
    "request-threads-over-the-pool.yaml": FAIL + "mlflow.requestThreads (3) needs pools of at least 6 "
    "connections per engine, but mlflow.databasePool.size + maxOverflow = 4: a request may hold two "
    "connections at once, so under load every connection would wait for a second one until SQLAlchemy's 30 s "
    "timeout fails the requests. Lower mlflow.requestThreads or raise mlflow.databasePool.maxOverflow.",
    "prefect-database-is-mlflows.yaml": FAIL + 'prefect.database.name "mlflow" is already MLflow\'s role or '
    "database (or the superuser): the Prefect server needs a role and database of its own, e.g. prefect.",
    "prefect-worker-without-mlflow-auth.yaml": FAIL
    + "prefect.worker.enabled needs mlflow.auth.enabled=true: "
    "the worker's flows log in to MLflow with an account of their own. Turn MLflow's auth on, or set "
    "prefect.worker.enabled=false.",
    "prefect-worker-as-mlflow-admin.yaml": FAIL
    + 'prefect.worker.mlflowUsername "admin" is the MLflow admin: '
    "the worker gets an account of its own (e.g. prefect-worker), never the admin's.",
    "prefect-host-is-mlflows.yaml": FAIL
    + 'prefect.host "mlops.apps.example.com" is MLflow\'s host too: give '
    "Prefect a host name of its own (both serve /).",
    "prefect-latest-image-tag.yaml": FAIL
    + 'prefect.image.tag is "latest": pin a version (e.g. 0.1.0) so that '
    "upgrades and rollbacks are reproducible, or leave it empty for the chart's appVersion.",
    "prefect-auth-user-with-colon.yaml": "- at '/prefect/auth/username': 'team:prefect' does not match "
    "pattern",
    "service-monitor-without-metrics.yaml": FAIL + "mlflow.metrics.serviceMonitor.enabled needs "
    "mlflow.metrics.enabled=true (the ServiceMonitor would scrape an endpoint that does not exist).",
    "missing-memory-limit.yaml": FAIL + "postgresql.resources.limits.memory is required: every container of "
    "this chart has requests and limits (quota-enforcing namespaces reject pods without them).",
    "same-auth-database.yaml": FAIL
    + "postgresql.auth.database and postgresql.auth.authDatabase must differ: "
    "MLflow's tracking store and its basic-auth store need separate databases.",
    # Extras (extraEnv, extraVolumes, extraVolumeMounts) never replace what the chart sets.
    "extra-env-collides-with-chart.yaml": FAIL
    + "mlflow.extraEnv[0] sets MLFLOW_DB_HOST, which the chart already sets in the mlflow container: "
    "remove it from mlflow.extraEnv (a chart value controls it, see the README's values table) or use "
    "another name.",
    "extra-env-collides-in-backup.yaml": FAIL
    + "backup.extraEnv[0] sets PGHOST, which the chart already sets "
    "in the backup container",
    "extra-volume-name-collides.yaml": FAIL + 'sftp.extraVolumes[0] is named "data", a volume the chart '
    "already has in the sftp pod: give it another name (and use that name in sftp.extraVolumeMounts).",
    "extra-mount-path-collides.yaml": FAIL + "postgresql.extraVolumeMounts[0] mounts at "
    "/var/lib/postgresql/data, where the chart already mounts a volume in the postgresql container: choose "
    "another mountPath.",
    "extra-mount-without-volume.yaml": FAIL + 'mlflow.extraVolumeMounts[0] mounts the volume "company-ca", '
    "which the mlflow pod does not have: add it to mlflow.extraVolumes.",
    # MLflow placement and disruption budget.
    "budget-blocks-drains.yaml": FAIL
    + "mlflow.podDisruptionBudget.minAvailable is 2 with mlflow.replicas 2: no MLflow pod could ever be "
    "evicted, so node drains would block. Set it below mlflow.replicas, or use maxUnavailable.",
    "anti-affinity-twice.yaml": FAIL
    + 'mlflow.podAntiAffinityPreset is "soft" and mlflow.affinity.podAntiAffinity is set too: set '
    'mlflow.podAntiAffinityPreset="" to use your own podAntiAffinity, or remove it to use the preset.',
    "gc-bad-schedule.yaml": FAIL
    + 'gc.schedule "nightly" is not a cron schedule: use five fields (minute hour '
    'day-of-month month day-of-week), e.g. "15 2 * * *" for 02:15 daily, or @daily.',
    "tls-without-ca.yaml": FAIL
    + "externalDatabase.sslMode is verify-full but externalDatabase.tlsCA.name is empty: the clients need "
    "the CA that signed the server's certificate. Create a ConfigMap (or Secret, tlsCA.kind) holding it "
    'under the key "ca.crt" and set externalDatabase.tlsCA.name (or set global.caBundle.configMap to a '
    "bundle that holds it).",
    # Backups: an off-cluster repository needs its credentials.
    "backup-s3-without-credentials.yaml": FAIL
    + 'backup.restic.repository is the S3 repository "s3:https://s3.example.com/mlops-backups/team-a" but '
    "backup.restic.credentialsSecret is empty: create a Secret with the key `credentials` holding an AWS "
    "shared-credentials file ([default] aws_access_key_id = ..., aws_secret_access_key = ...) and set its "
    "name.",
    "backup-sftp-without-credentials.yaml": FAIL
    + 'backup.restic.repository is the SFTP repository "sftp:backup@backup.example.com:/srv/restic/mlops" '
    "but backup.restic.credentialsSecret is empty: create a Secret with the keys `ssh-privatekey` (a key "
    "that server accepts) and `known_hosts` (its host key, e.g. from ssh-keyscan, checked against its "
    "fingerprint) and set its name.",
    "backup-unknown-repository.yaml": "- at '/backup/restic/repository': 'ftp://backup.example.com/mlops' "
    "does not match pattern",
    # values.schema.json: types, enums, ranges, unknown keys (Helm 4's wording).
    "sftp-service-type.yaml": "- at '/sftp/service/type': value must be one of 'ClusterIP', 'NodePort', "
    "'LoadBalancer'",
    "route-tls-termination.yaml": "- at '/route/tls/termination': value must be 'edge'",
    "zero-retention.yaml": "- at '/backup/retention': minimum: got 0, want 1",
    "replicas-zero.yaml": "- at '/mlflow/replicas': minimum: got 0, want 1",
    "pool-overflow-zero.yaml": "- at '/mlflow/databasePool/maxOverflow': minimum: got 0, want 1",
    "nodeport-out-of-range.yaml": "- at '/sftp/service/nodePort': minimum: got 2,222, want 30,000",
    "typo-in-key.yaml": "- at '': additional properties 'mlfow' not allowed",
    "anti-affinity-preset.yaml": "- at '/mlflow/podAntiAffinityPreset': value must be one of '', 'soft', "
    "'hard'",
    "gc-retention.yaml": "- at '/gc/retention': '30 days' does not match pattern "
    "'^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$'",
    "tls-bad-mode.yaml": "- at '/externalDatabase/sslMode': value must be one of 'disable', 'allow', "
    "'prefer', 'require', 'verify-ca', 'verify-full'",
    "extra-env-without-name.yaml": "- at '/mlflow/extraEnv/0': missing property 'name'",
    "extra-envfrom-without-source.yaml": "- at '/sftp/extraEnvFrom/0': 'oneOf' failed, none matched",
}


def test_every_invalid_file_has_an_expected_message() -> None:
    files = {f.name for f in INVALID.glob("*.yaml")}
    assert files == set(EXPECTED)
    assert len(files) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_values_are_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(HelmError) as refused:
        run_helm(["template", "t", str(CHART), "--namespace", NAMESPACE, "-f", str(INVALID / name)])
    assert EXPECTED[name] in str(refused.value)


@pytest.mark.parametrize(
    "name",
    [
        "external-db-without-secret.yaml",
        "plaintext-postgres-password.yaml",
        "extra-env-collides-with-chart.yaml",
    ],
)
def test_helm3_gives_the_same_message(name: str) -> None:
    with pytest.raises(HelmError) as refused:
        run_helm(["template", "t", str(CHART), "--namespace", NAMESPACE, "-f", str(INVALID / name)], "helm3")
    assert EXPECTED[name] in str(refused.value)


def test_all_mistakes_are_reported_at_once() -> None:
    with pytest.raises(HelmError) as refused:
        run_helm(
            [
                "template",
                "t",
                str(CHART),
                "--namespace",
                NAMESPACE,
                "-f",
                str(INVALID / "latest-image-tag.yaml"),
                "-f",
                str(INVALID / "route-without-host.yaml"),
            ]
        )
    message = str(refused.value)
    assert 'mlflow.image.tag is "latest"' in message
    assert "route.host is required when a Route is created" in message


def test_kubernetes_older_than_1_28_is_refused() -> None:
    with pytest.raises(HelmError) as refused:
        run_helm(["template", "t", str(CHART), "--namespace", NAMESPACE, "--kube-version", "1.27.0"])
    assert "chart requires kubeVersion: >=1.28.0-0 which is incompatible with Kubernetes v1.27.0" in str(
        refused.value
    )

"""Secrets: generated (no default password), kept through lookup, or taken from existing Secrets, and
wired into the pods as files; generated SSH keys are in a format OpenSSH 9.2 loads."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import yaml

from .helm import CHART, CI_VALUES, containers, env, find, pod_spec, render

EXISTING = CHART / "ci" / "existing-secrets-values.yaml"


def secret_data(docs: list[dict], name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in find(docs, "Secret", name)["data"].items()}


def volume(workload: dict, name: str) -> dict:
    return next(v for v in pod_spec(workload)["volumes"] if v["name"] == name)


def test_values_hold_no_password_or_key() -> None:
    values = (CHART / "values.yaml").read_text()
    assert "PRIVATE KEY" not in values
    flat = yaml.safe_load(values)
    assert "password" not in flat["postgresql"]["auth"]
    assert "adminPassword" not in flat["mlflow"]["auth"]


def test_generated_passwords_are_random_per_install() -> None:
    first = secret_data(render(set_values=["nameOverride=mlops-stack"]), "postgresql")
    second = secret_data(render(set_values=["nameOverride=mlops-stack", "mlflow.replicas=1"]), "postgresql")
    assert set(first) == {"postgres-password", "password", "prefect-password"}
    assert len(first["password"]) == 32
    assert first["password"].isalnum()
    assert first["password"] != second["password"]
    assert first["postgres-password"] != first["password"]


def test_generated_secrets_survive_uninstall_and_are_reused_on_upgrade() -> None:
    """Upgrade reuse is `lookup` of the live Secret (only a cluster can exercise it); here: every
    generated Secret calls lookup and is kept on uninstall, so lookup finds it again after a reinstall."""
    for template in [
        "postgresql/secret.yaml",
        "mlflow/secret-auth.yaml",
        "mlflow/secret-sftp-key.yaml",
        "mlflow/secret-metrics-token.yaml",
        "sftp/secret-host-keys.yaml",
    ]:
        text = (CHART / "templates" / template).read_text()
        assert 'lookup "v1" "Secret" .Release.Namespace $name' in text, template
    docs = render(set_values=["mlflow.metrics.enabled=true"])
    for name in ["postgresql", "mlflow", "mlflow-sftp-key", "mlflow-metrics", "sftp-host-keys"]:
        annotations = find(docs, "Secret", name)["metadata"]["annotations"]
        assert annotations == {"helm.sh/resource-policy": "keep"}


def test_mlflow_auth_secret_keys() -> None:
    data = secret_data(render(), "mlflow")
    assert set(data) == {"admin-username", "admin-password", "flask-secret-key"}
    assert data["admin-username"] == "admin"
    assert len(data["admin-password"]) == 32
    assert len(data["flask-secret-key"]) == 64


def test_mlflow_env_and_secret_files_are_wired() -> None:
    docs = render()
    deployment = find(docs, "Deployment", "mlflow")
    mlflow = containers(deployment)["mlflow"]
    e = env(mlflow)
    assert e["MLFLOW_DB_HOST"] == "t-mlops-stack-postgresql"
    assert e["MLFLOW_DB_PORT"] == "5432"
    assert e["MLFLOW_DB_USER"] == "mlflow"
    assert e["MLFLOW_DB_NAME"] == "mlflow"
    assert e["MLFLOW_AUTH_DB_NAME"] == "mlflow_auth"
    assert e["MLFLOW_DB_PASSWORD_FILE"] == "/var/run/secrets/mlops-stack/db/password"
    assert e["MLFLOW_AUTH_ENABLED"] == "true"
    assert e["MLFLOW_AUTH_ADMIN_USERNAME"] == "admin"
    assert e["MLFLOW_AUTH_DEFAULT_PERMISSION"] == "READ"
    assert e["MLFLOW_AUTH_ADMIN_PASSWORD_FILE"] == "/var/run/secrets/mlops-stack/mlflow/admin-password"
    assert e["MLFLOW_FLASK_SERVER_SECRET_KEY_FILE"] == "/var/run/secrets/mlops-stack/mlflow/flask-secret-key"
    assert e["MLOPS_SFTP_KEY_FILE"] == "/var/run/secrets/mlops-stack/sftp/id_mlflow"
    assert e["MLOPS_SFTP_KNOWN_HOSTS"] == "/var/run/mlops-ssh/known_hosts"
    assert e["MLFLOW_WORKERS"] == "2"
    assert e["MLFLOW_EXPOSE_PROMETHEUS"] == ""
    # No secret value travels as an environment variable.
    assert all(not isinstance(v, dict) for v in e.values())
    assert volume(deployment, "db-password")["secret"] == {
        "secretName": "t-mlops-stack-postgresql",
        "defaultMode": 0o440,
        "items": [{"key": "password", "path": "password"}],
    }
    assert volume(deployment, "mlflow-auth")["secret"] == {
        "secretName": "t-mlops-stack-mlflow",
        "defaultMode": 0o440,
        "items": [
            {"key": "admin-password", "path": "admin-password"},
            {"key": "flask-secret-key", "path": "flask-secret-key"},
        ],
    }
    assert volume(deployment, "sftp-client-key")["secret"] == {
        "secretName": "t-mlops-stack-mlflow-sftp-key",
        "defaultMode": 0o440,
        "items": [{"key": "ssh-privatekey", "path": "id_mlflow"}],
    }
    mounts = {m["name"]: m["mountPath"] for m in mlflow["volumeMounts"]}
    assert mounts["db-password"] == "/var/run/secrets/mlops-stack/db"
    assert mounts["mlflow-auth"] == "/var/run/secrets/mlops-stack/mlflow"
    assert mounts["sftp-client-key"] == "/var/run/secrets/mlops-stack/sftp"
    # The SFTP host private key is mounted only into the init container, not into the server.
    assert "sftp-host-keys" not in mounts


def test_postgresql_env_and_secret_files_are_wired() -> None:
    sts = find(render(), "StatefulSet", "postgresql")
    e = env(containers(sts)["postgresql"])
    assert e == {
        "POSTGRES_ADMIN_PASSWORD_FILE": "/var/run/secrets/mlops-stack/postgresql/admin-password",
        "POSTGRES_USER": "mlflow",
        "POSTGRES_PASSWORD_FILE": "/var/run/secrets/mlops-stack/postgresql/password",
        "POSTGRES_DATABASES": "mlflow mlflow_auth",
        "POSTGRES_EXTRA_ROLES": "prefect",
        "POSTGRES_PREFECT_PASSWORD_FILE": "/var/run/secrets/mlops-stack/postgresql/prefect-password",
    }
    assert volume(sts, "passwords")["secret"]["items"] == [
        {"key": "postgres-password", "path": "admin-password"},
        {"key": "password", "path": "password"},
        {"key": "prefect-password", "path": "prefect-password"},
    ]


def test_without_prefect_postgresql_has_no_prefect_role() -> None:
    docs = render(set_values=["prefect.enabled=false"])
    e = env(containers(find(docs, "StatefulSet", "postgresql"))["postgresql"])
    assert "POSTGRES_EXTRA_ROLES" not in e
    assert set(secret_data(docs, "postgresql")) == {"postgres-password", "password"}


def sftp_of(docs: list[dict]) -> dict:
    return find(docs, "Deployment", "sftp")


def test_existing_secrets_replace_every_generated_secret() -> None:
    docs = render([EXISTING])
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"] == []
    mlflow = find(docs, "Deployment", "mlflow")
    assert volume(mlflow, "db-password")["secret"]["secretName"] == "mlops-postgresql"
    assert volume(mlflow, "db-password")["secret"]["items"] == [
        {"key": "mlflow-password", "path": "password"}
    ]
    assert volume(mlflow, "mlflow-auth")["secret"]["secretName"] == "mlops-mlflow-auth"
    assert volume(mlflow, "sftp-client-key")["secret"]["secretName"] == "mlops-mlflow-sftp-key"
    assert volume(mlflow, "sftp-host-keys")["secret"]["secretName"] == "mlops-sftp-host-keys"
    pg = find(docs, "StatefulSet", "postgresql")
    assert volume(pg, "passwords")["secret"] == {
        "secretName": "mlops-postgresql",
        "defaultMode": 0o440,
        "items": [
            {"key": "superuser-password", "path": "admin-password"},
            {"key": "mlflow-password", "path": "password"},
            {"key": "prefect-password", "path": "prefect-password"},
        ],
    }
    server, worker = find(docs, "Deployment", "prefect"), find(docs, "Deployment", "prefect-worker")
    assert volume(server, "prefect-auth")["secret"]["secretName"] == "mlops-prefect-auth"
    assert volume(server, "prefect-db-password")["secret"]["secretName"] == "mlops-postgresql"
    assert volume(worker, "prefect-worker-mlflow")["secret"]["secretName"] == "mlops-prefect-worker"
    assert volume(sftp_of(docs), "prefect-worker-ssh-key")["secret"]["secretName"] == "mlops-prefect-worker"
    sftp = find(docs, "Deployment", "sftp")
    assert volume(sftp, "host-keys-source")["secret"]["secretName"] == "mlops-sftp-host-keys"
    assert volume(sftp, "existing-user-keys")["configMap"]["name"] == "team-ssh-keys"
    assert volume(find(docs, "CronJob", "backup"), "backups")["persistentVolumeClaim"] == {
        "claimName": "mlops-backups"
    }
    for cronjob in ("backup", "verify", "restore"):
        assert volume(find(docs, "CronJob", cronjob), "restic-password")["secret"]["secretName"] == (
            "mlops-backup-restic"
        )
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim" and "backup" in d["metadata"]["name"]]
    assert containers(mlflow)["mlflow"]["image"] == "registry.example.com/mlops/mlops-stack/mlflow:0.1.0"
    assert pod_spec(mlflow)["imagePullSecrets"] == [{"name": "registry-credentials"}]


def test_external_database_secret_is_wired() -> None:
    docs = render([CHART / "ci" / "external-database-values.yaml"])
    mlflow = find(docs, "Deployment", "mlflow")
    assert volume(mlflow, "db-password")["secret"]["secretName"] == "mlflow-db-credentials"
    assert env(containers(mlflow)["mlflow"])["MLFLOW_DB_HOST"] == "postgres.databases.svc.cluster.local"
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    assert "t-mlops-stack-postgresql" not in [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]


def write_key(tmp_path: Path, name: str, pem: str) -> Path:
    path = tmp_path / name
    path.write_text(pem)
    path.chmod(0o600)
    return path


def ssh_keygen_public(path: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_generated_keys_load_in_openssh(tmp_path: Path) -> None:
    """`ssh-keygen -y` (OpenSSH 9.2, as in the images) accepts the generated host and client keys."""
    docs = render()
    host_key = write_key(tmp_path, "host", secret_data(docs, "sftp-host-keys")["ssh_host_ecdsa_key"])
    client_key = write_key(tmp_path, "client", secret_data(docs, "mlflow-sftp-key")["ssh-privatekey"])
    assert ssh_keygen_public(host_key).startswith("ecdsa-sha2-nistp256 AAAA")
    assert ssh_keygen_public(client_key).startswith("ecdsa-sha2-nistp256 AAAA")


def test_known_hosts_and_authorized_keys_match_ssh_keygen(tmp_path: Path) -> None:
    """The init containers' `python3 -m mlops_stack.ssh` derives the same public keys as ssh-keygen
    (without needing a passwd entry for the pod's UID), in the lines OpenSSH and paramiko expect."""
    docs = render()
    host_key = write_key(
        tmp_path, "ssh_host_ecdsa_key", secret_data(docs, "sftp-host-keys")["ssh_host_ecdsa_key"]
    )
    client_key = write_key(tmp_path, "id_mlflow", secret_data(docs, "mlflow-sftp-key")["ssh-privatekey"])
    users = tmp_path / "users"
    users.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice\n\n"
    )
    known_hosts, authorized_keys = tmp_path / "known_hosts", tmp_path / "authorized_keys"
    names = "[t-mlops-stack-sftp]:2222,[t-mlops-stack-sftp.mlops.svc]:2222"
    run = [sys.executable, "-m", "mlops_stack.ssh"]
    subprocess.run(
        [
            *run,
            "known-hosts",
            "--out",
            str(known_hosts),
            "--port",
            "2222",
            "--names",
            "t-mlops-stack-sftp,t-mlops-stack-sftp.mlops.svc",
            str(host_key),
            str(tmp_path / "absent_rsa_key"),
        ],
        check=True,
    )
    subprocess.run(
        [
            *run,
            "authorized-keys",
            "--out",
            str(authorized_keys),
            "--key",
            str(client_key),
            "--append",
            str(users),
            str(tmp_path / "absent"),
        ],
        check=True,
    )
    assert known_hosts.read_text() == f"{names} {ssh_keygen_public(host_key)}\n"
    assert authorized_keys.read_text() == (
        f"{ssh_keygen_public(client_key)} mlflow-server\n"
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice\n"
    )
    # OpenSSH itself finds the host under the bracketed name with the port.
    found = subprocess.run(
        ["ssh-keygen", "-F", "[t-mlops-stack-sftp]:2222", "-f", str(known_hosts)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ecdsa-sha2-nistp256" in found.stdout


def test_known_hosts_init_container_lists_every_service_name() -> None:
    """mlops_stack.ssh (in the MLflow image) applies the `[name]:port` rule: names go without brackets."""
    init = containers(find(render(), "Deployment", "mlflow"))["known-hosts"]
    assert init["command"][:6] == [
        "python3",
        "-m",
        "mlops_stack.ssh",
        "known-hosts",
        "--out",
        "/var/run/mlops-ssh/known_hosts",
    ]
    # MLflow trusts the host key under the names of its own store's Service, at that store's port.
    assert init["command"][init["command"].index("--port") + 1] == "2223"
    names = init["command"][init["command"].index("--names") + 1]
    assert names == (
        "t-mlops-stack-sftp-mlflow,t-mlops-stack-sftp-mlflow.mlops,"
        "t-mlops-stack-sftp-mlflow.mlops.svc,t-mlops-stack-sftp-mlflow.mlops.svc.cluster.local"
    )
    assert init["command"][-3:] == [
        "/etc/sftp/host-keys-source/ssh_host_ecdsa_key",
        "/etc/sftp/host-keys-source/ssh_host_rsa_key",
        "/etc/sftp/host-keys-source/ssh_host_ed25519_key",
    ]


def test_every_ci_render_generates_no_password_for_existing_secrets() -> None:
    for f in CI_VALUES:
        docs = render([f])
        for secret in (d for d in docs if d["kind"] == "Secret"):
            assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", f.name


def test_auth_disabled_drops_every_auth_setting() -> None:
    # The worker logs in to MLflow with an account of its own: it goes with MLflow's auth.
    docs = render(set_values=["mlflow.auth.enabled=false", "prefect.worker.enabled=false"])
    assert "t-mlops-stack-mlflow" not in [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]
    e = env(containers(find(docs, "Deployment", "mlflow"))["mlflow"])
    assert e["MLFLOW_AUTH_ENABLED"] == "false"
    assert not [name for name in e if name.startswith(("MLFLOW_AUTH_ADMIN", "MLFLOW_FLASK"))]
    test_pod = containers(find(docs, "Pod", "test"))["tracking-roundtrip"]
    assert "ADMIN_PASSWORD_FILE" not in env(test_pod)
    assert "mlflow-auth" not in [v["name"] for v in pod_spec(find(docs, "Pod", "test"))["volumes"]]


def test_uninstall_leaves_the_data_volumes_and_secrets_labelled_for_cleanup() -> None:
    """The README's cleanup command selects by instance label: every kept object carries it."""
    for doc in render():
        if doc["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep":
            assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "t"
    claim = find(render(), "StatefulSet", "postgresql")["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["labels"]["app.kubernetes.io/instance"] == "t"


def test_the_restic_password_is_generated_once_kept_and_survives_uninstall() -> None:
    """Every snapshot is encrypted with it: generated (48 characters), kept by `lookup` (the same template
    code as the other generated Secrets) and by `helm uninstall` (resource-policy keep)."""
    secret = find(render(), "Secret", "backup-restic")
    assert secret["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert len(base64.b64decode(secret["data"]["restic-password"])) == 48

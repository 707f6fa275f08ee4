"""Prefect in the chart: the server, its exposure and auth, its database, the worker and its credentials,
and `prefect.enabled=false` rendering none of it."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from .helm import CHART, OPENSHIFT_APIS, PREFIX, containers, env, find, kinds, pod_spec, render

OPENSHIFT = CHART / "ci" / "openshift-values.yaml"
INGRESS = CHART / "ci" / "kubernetes-ingress-values.yaml"
EXTERNAL = CHART / "ci" / "external-database-values.yaml"


def secret(docs: list[dict], name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in find(docs, "Secret", name)["data"].items()}


def mounts(container: dict) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}


def test_the_server_runs_the_image_with_its_database_and_auth_string_as_files() -> None:
    server = find(render(), "Deployment", "prefect")
    assert server["spec"]["replicas"] == 1
    assert server["spec"]["strategy"] == {"type": "Recreate"}
    container = containers(server)["prefect"]
    assert container["image"] == "mlops-stack/prefect:0.1.0"
    assert (container["command"], container["args"]) == (["prefect-entrypoint"], ["server"])
    assert env(container) == {
        "PREFECT_DB_HOST": "t-mlops-stack-postgresql",
        "PREFECT_DB_PORT": "5432",
        "PREFECT_DB_USER": "prefect",
        "PREFECT_DB_PASSWORD_FILE": "/var/run/secrets/mlops-stack/prefect-db/password",
        "PREFECT_DB_NAME": "prefect",
        "PREFECT_SERVER_API_AUTH_STRING_FILE": "/var/run/secrets/mlops-stack/prefect/auth-string",
        "PREFECT_UI_API_URL": "http://t-mlops-stack-prefect.mlops.svc:4200/api",
    }
    assert container["startupProbe"]["httpGet"] == {"path": "/api/health", "port": "http"}
    assert mounts(container) == {
        "/tmp": "tmp",
        "/var/run/secrets/mlops-stack/prefect-db": "prefect-db-password",
        "/var/run/secrets/mlops-stack/prefect": "prefect-auth",
    }
    volumes = {v["name"]: v for v in pod_spec(server)["volumes"]}
    assert volumes["prefect-db-password"]["secret"]["items"] == [
        {"key": "prefect-password", "path": "password"}
    ]
    assert volumes["prefect-auth"]["secret"] == {
        "secretName": "t-mlops-stack-prefect",
        "defaultMode": 0o440,
        "items": [{"key": "auth-string", "path": "auth-string"}],
    }
    service = find(render(), "Service", "prefect")["spec"]
    assert service["ports"] == [{"name": "http", "port": 4200, "targetPort": "http", "protocol": "TCP"}]
    assert service["selector"]["app.kubernetes.io/component"] == "prefect"


def test_the_auth_string_is_generated_once_and_kept() -> None:
    docs = render()
    auth = secret(docs, "prefect")
    user, _, password = auth["auth-string"].partition(":")
    assert (user, len(password), password.isalnum()) == ("prefect", 32, True)
    assert secret(render(set_values=["mlflow.replicas=1"]), "prefect")["auth-string"] != auth["auth-string"]
    for template in ("prefect/secret-auth.yaml", "prefect/secret-worker.yaml"):
        text = (CHART / "templates" / template).read_text()
        assert 'lookup "v1" "Secret" .Release.Namespace $name' in text, template
    for name in ("prefect", "prefect-worker"):
        assert find(docs, "Secret", name)["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_the_worker_secret_holds_an_mlflow_password_and_an_ssh_key_openssh_loads(tmp_path) -> None:
    data = secret(render(), "prefect-worker")
    assert set(data) == {"mlflow-username", "mlflow-password", "ssh-privatekey"}
    assert data["mlflow-username"] == "prefect-worker"
    assert len(data["mlflow-password"]) == 32
    key = tmp_path / "prefect-worker"
    key.write_text(data["ssh-privatekey"])
    public = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_stack.ssh",
            "authorized-keys",
            "--out",
            str(tmp_path / "ak"),
            "--key",
            str(key),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert public.returncode == 0, public.stderr
    assert (tmp_path / "ak").read_text().startswith("ecdsa-sha2-nistp256 ")


def test_the_worker_gets_its_own_credentials_and_the_stack_addresses() -> None:
    worker = find(render([INGRESS]), "Deployment", "prefect-worker")
    spec = pod_spec(worker)
    assert [c["name"] for c in spec["initContainers"]] == ["known-hosts"]
    container = containers(worker)["worker"]
    assert container["image"] == "mlops-stack/prefect:0.1.0"
    assert (container["command"], container["args"]) == (
        ["prefect-entrypoint"],
        ["worker", "--with-healthcheck"],
    )
    assert env(container) == {
        "PREFECT_API_URL": "http://t-mlops-stack-prefect.mlops.svc:4200/api",
        "PREFECT_API_AUTH_STRING_FILE": "/var/run/secrets/mlops-stack/prefect/auth-string",
        "PREFECT_WORK_POOL": "mlops",
        "PREFECT_WORKER_WEBSERVER_HOST": "0.0.0.0",  # noqa: S104 (the kubelet probes the pod's address)
        "MLFLOW_TRACKING_URI": "http://t-mlops-stack-mlflow.mlops.svc:5000",
        "MLFLOW_TRACKING_USERNAME": "prefect-worker",
        "MLFLOW_TRACKING_PASSWORD_FILE": "/var/run/secrets/mlops-stack/prefect-worker-mlflow/mlflow-password",
        "MLOPS_SFTP_KEY_FILE": "/var/run/secrets/mlops-stack/prefect-worker-ssh/prefect-worker",
        "MLOPS_SFTP_KNOWN_HOSTS": "/var/run/mlops-ssh/known_hosts",
        "MLOPS_DVC_REMOTE_URL": "ssh://mlops@t-mlops-stack-sftp:2222/data/dvc",
        "GIT_TOKEN_FILE": "/var/run/secrets/mlops-stack/git-token/token",
        "GIT_TOKEN_USER": "oauth2",
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "health"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["git-token"]["secret"] == {
        "secretName": "team-gitlab-token",
        "defaultMode": 0o440,
        "items": [{"key": "token", "path": "token"}],
    }
    # The admin's password and the SFTP host's private key never reach the worker container.
    assert "mlflow-auth" not in volumes
    assert "sftp-host-keys" not in mounts(container).values()


def test_the_sftp_server_authorizes_the_workers_key() -> None:
    sftp = find(render(), "Deployment", "sftp")
    init = containers(sftp)["authorized-keys"]
    assert init["command"][init["command"].index("--extra-key") + 1] == (
        "/var/run/secrets/mlops-stack/prefect-worker-ssh/prefect-worker"
    )
    volumes = {v["name"]: v for v in pod_spec(sftp)["volumes"]}
    assert volumes["prefect-worker-ssh-key"]["secret"]["items"] == [
        {"key": "ssh-privatekey", "path": "prefect-worker"}
    ]


def test_the_mlflow_account_hook_creates_the_workers_account_as_the_admin() -> None:
    job = find(render(), "Job", "mlflow-account")
    container = containers(job)["mlflow-account"]
    assert container["command"] == ["python3", "/opt/mlops-stack/scripts/mlflow-account.py"]
    assert env(container) == {
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MLFLOW_TRACKING_URI": "http://t-mlops-stack-mlflow.mlops.svc:5000",
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD_FILE": "/var/run/secrets/mlops-stack/mlflow/admin-password",
        "ACCOUNT_USERNAME": "prefect-worker",
        "ACCOUNT_PASSWORD_FILE": "/var/run/secrets/mlops-stack/prefect-worker-mlflow/mlflow-password",
    }
    script = find(render(), "ConfigMap", "scripts")["data"]["mlflow-account.py"]
    assert script == (CHART / "files" / "mlflow-account.py").read_text()


def test_openshift_gives_prefect_its_own_edge_route_and_the_ui_its_public_api_url() -> None:
    docs = render([OPENSHIFT], api_versions=OPENSHIFT_APIS)
    route = find(docs, "Route", "prefect")["spec"]
    assert route["host"] == "prefect.apps.example.com"
    assert route["to"] == {"kind": "Service", "name": f"{PREFIX}-prefect", "weight": 100}
    assert route["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    server = containers(find(docs, "Deployment", "prefect"))["prefect"]
    assert env(server)["PREFECT_UI_API_URL"] == "https://prefect.apps.example.com/api"


def test_an_ingress_with_tls_for_prefect() -> None:
    docs = render([INGRESS])
    ingress = find(docs, "Ingress", "prefect")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["prefect.example.com"], "secretName": "prefect-example-com-tls"}]
    assert ingress["rules"][0]["host"] == "prefect.example.com"
    server = containers(find(docs, "Deployment", "prefect"))["prefect"]
    assert env(server)["PREFECT_UI_API_URL"] == "https://prefect.example.com/api"


def test_ui_api_url_can_be_given() -> None:
    docs = render(set_values=["prefect.uiApiUrl=http://127.0.0.1:4200/api"])
    server = containers(find(docs, "Deployment", "prefect"))["prefect"]
    assert env(server)["PREFECT_UI_API_URL"] == "http://127.0.0.1:4200/api"


def test_with_an_external_database_prefect_uses_its_database_and_the_external_role() -> None:
    docs = render([EXTERNAL])
    server = env(containers(find(docs, "Deployment", "prefect"))["prefect"])
    assert (server["PREFECT_DB_HOST"], server["PREFECT_DB_USER"], server["PREFECT_DB_NAME"]) == (
        "postgres.databases.svc.cluster.local",
        "mlflow",
        "prefect",
    )
    volume = next(
        v
        for v in pod_spec(find(docs, "Deployment", "prefect"))["volumes"]
        if v["name"] == "prefect-db-password"
    )
    assert volume["secret"]["secretName"] == "mlflow-db-credentials"
    migration = containers(find(docs, "Job", "db-migration"))
    assert (migration["prefect-db-upgrade"]["command"], migration["prefect-db-upgrade"]["args"]) == (
        ["prefect-entrypoint"],
        ["db-upgrade"],
    )


def test_the_backup_dumps_the_prefect_database_with_its_role() -> None:
    script = containers(find(render(), "CronJob", "backup"))["backup"]["args"][2]
    assert "prefect prefect /var/run/secrets/mlops-stack/prefect-db/password\n" in script


@pytest.mark.parametrize("values", [[], [OPENSHIFT]], ids=["default", "openshift"])
def test_prefect_disabled_renders_no_prefect_object_and_the_rest_still_works(values: list) -> None:
    apis = OPENSHIFT_APIS if values else ()
    on = render(values, api_versions=apis)
    off = render(values, set_values=["prefect.enabled=false"], api_versions=apis)
    prefect_objects = {
        ("Deployment", f"{PREFIX}-prefect"),
        ("Deployment", f"{PREFIX}-prefect-worker"),
        ("Job", f"{PREFIX}-mlflow-account"),
        ("NetworkPolicy", f"{PREFIX}-prefect"),
        ("Secret", f"{PREFIX}-prefect"),
        ("Secret", f"{PREFIX}-prefect-worker"),
        ("Service", f"{PREFIX}-prefect"),
    }
    if values:
        prefect_objects.add(("Route", f"{PREFIX}-prefect"))
    assert set(kinds(on)) - set(kinds(off)) == prefect_objects
    assert set(kinds(off)) <= set(kinds(on))
    text = "\n".join(str(d) for d in off if d["kind"] != "ConfigMap")
    assert "prefect" not in text.lower()
    upgrade = render(values, set_values=["prefect.enabled=false"], api_versions=apis, is_upgrade=True)
    migration = pod_spec(find(upgrade, "Job", "db-migration"))
    assert [c["name"] for c in migration["containers"]] == ["db-upgrade"]
    assert "prefect" not in migration["initContainers"][0]["args"][2]


def test_worker_disabled_keeps_the_server_only() -> None:
    docs = render(set_values=["prefect.worker.enabled=false"])
    names = {n for _, n in kinds(docs)}
    assert f"{PREFIX}-prefect" in names
    assert not {f"{PREFIX}-prefect-worker", f"{PREFIX}-mlflow-account"} & names
    assert "--extra-key" not in containers(find(docs, "Deployment", "sftp"))["authorized-keys"]["command"]


def test_the_prefect_database_clients_verify_the_external_servers_certificate() -> None:
    """asyncpg (server, db-upgrade) reads libpq's PGSSLMODE/PGSSLROOTCERT as psycopg2 does."""
    docs = render([EXTERNAL])
    server = containers(find(docs, "Deployment", "prefect"))["prefect"]
    upgrade = containers(find(docs, "Job", "db-migration"))["prefect-db-upgrade"]
    for container in (server, upgrade):
        assert (env(container)["PGSSLMODE"], env(container)["PGSSLROOTCERT"]) == (
            "verify-full",
            "/var/run/secrets/mlops-stack/db-ca/ca.crt",
        )
        assert mounts(container)["/var/run/secrets/mlops-stack/db-ca"] == "db-ca"
    ca = next(v for v in pod_spec(find(docs, "Deployment", "prefect"))["volumes"] if v["name"] == "db-ca")
    assert ca["configMap"] == {
        "name": "company-db-ca",
        "defaultMode": 0o444,
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }


def test_the_worker_trusts_the_clusters_ca_bundle_for_git_and_mlflow() -> None:
    worker = find(render(set_values=["global.caBundle.configMap=trusted-ca"]), "Deployment", "prefect-worker")
    container = containers(worker)["worker"]
    bundle = "/var/run/mlops-stack/ca-bundle/ca-bundle.crt"
    assert {k: v for k, v in env(container).items() if v == bundle} == {
        "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "GIT_SSL_CAINFO": bundle,
    }
    assert mounts(container)["/var/run/mlops-stack/ca-bundle"] == "ca-bundle"
    volume = next(v for v in pod_spec(worker)["volumes"] if v["name"] == "ca-bundle")
    assert volume["configMap"] == {
        "name": "trusted-ca",
        "defaultMode": 0o444,
        "items": [{"key": "ca-bundle.crt", "path": "ca-bundle.crt"}],
    }
    assert "SSL_CERT_FILE" not in env(containers(find(render(), "Deployment", "prefect-worker"))["worker"])

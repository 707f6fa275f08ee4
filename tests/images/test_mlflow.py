"""The mlflow image under OpenShift's restricted profile, against the postgresql and sftp images."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import pytest
import requests
from mlflow.tracking import MlflowClient
from tests.images.conftest import (
    POSTGRES_DATA,
    SSHKey,
    make_ssh_key,
    mount_folder,
    new_password,
    start_postgres,
    wait_for_postgres,
)
from tests.images.kubelet import FS_GROUP, FS_GROUP_IDS, FS_GROUPS, Kubelet, pod_run_options
from tests.support.containers import REPO_ROOT, RestrictedContainer, Sandbox, image_ref

pytestmark = pytest.mark.images

ADMIN = "admin"
# What the chart declares for MLflow: an emptyDir /tmp (HOME, auth config), Secrets read-only.
TMPFS = {"/tmp": "size=256m"}
SECRETS = "/etc/mlflow-secrets"
SFTP_SECRETS = "/etc/mlflow-sftp"
METRICS_DIR = "/run/mlflow-metrics"  # the chart's emptyDir shared by the server and its metrics container


@dataclass
class MLflowStack:
    sandbox: Sandbox
    server: RestrictedContainer
    sftp: RestrictedContainer
    env: dict[str, str]
    volumes: dict[str, str]
    admin_password: str
    db_password: str
    kubelet: Kubelet | None = None

    @property
    def url(self) -> str:
        return self.server.url(5000).rstrip("/")

    def client(self, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", self.admin_password)
        return MlflowClient(tracking_uri=self.url)

    def run_once(self, name: str, command: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        env = {**self.env, **(env or {})}
        return run_mlflow_once(self.sandbox, name, command, env, self.volumes, self.kubelet)


def run_mlflow_once(
    sandbox: Sandbox,
    name: str,
    command: list[str],
    env: dict[str, str],
    volumes: dict[str, str],
    kubelet: Kubelet | None = None,
) -> tuple[int, str]:
    """Run the image to completion with the server's settings (e.g. the chart's db-upgrade Job)."""
    options = pod_run_options(sandbox, kubelet, name, TMPFS, volumes)
    job = sandbox.run("mlflow", name=name, env=env, command=command, **options)
    code = job.wait_for_exit(timeout=180)
    logs = job.logs()
    job.remove()
    return code, logs


def network_hosts_pattern(sandbox: Sandbox) -> str:
    """An --allowed-hosts pattern matching the sandbox network's addresses (the test talks to the IP)."""
    network = sandbox.client.networks.get(sandbox.network)
    subnet = ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
    first_two = ".".join(str(subnet.network_address).split(".")[:2])
    return f"{first_two}.*:5000"


def start_sftp_with_known_host_key(
    sandbox: Sandbox, mount_root: Path, client: SSHKey, kubelet: Kubelet | None = None
) -> tuple[RestrictedContainer, str]:
    host_keys = mount_root / "sftp-host-keys"
    host_keys.mkdir()
    host_key = make_ssh_key(host_keys, "ssh_host_ed25519_key")
    (host_keys / "ssh_host_ed25519_key").chmod(0o644)
    host_keys.chmod(0o755)
    authorized = mount_folder(mount_root, "sftp-authorized", {"authorized_keys": client.public_line + "\n"})
    secrets = {str(authorized): "/etc/sftp/authorized-keys", str(host_keys): "/etc/sftp/host-keys-source"}
    options = pod_run_options(sandbox, kubelet, "sftp", {"/tmp": "size=16m"}, secrets, {"sftpdata": "/data"})
    sftp = sandbox.run("sftp", name="sftp", alias="sftp", **options)
    sftp.wait_for_log("host keys loaded", timeout=60)
    return sftp, f"[sftp]:2222 {host_key.public_line}\n"


def start_stack(
    sandbox: Sandbox, mount_root: Path, kubelet: Kubelet | None = None, metrics_dir: Path | None = None
) -> MLflowStack:
    """PostgreSQL, SFTP and the MLflow server; in pods the `kubelet` prepares (with its fsGroup) if given.

    `metrics_dir`: a writable host folder mounted at METRICS_DIR as the server's multiprocess directory
    (what the chart's shared emptyDir is), for the metrics container to read."""
    db_password, admin_password = new_password(), new_password()
    postgres_env = {"POSTGRES_ADMIN_PASSWORD": new_password(), "POSTGRES_PASSWORD": db_password}
    if kubelet is None:
        postgres = start_postgres(sandbox, sandbox.volume("mlflowdb"), postgres_env, name="postgresql")
    else:
        pod = kubelet.start_pod("postgresql", pvcs={"mlflowdb": POSTGRES_DATA}, empty_dirs={"tmp": "/tmp"})
        postgres = start_postgres(sandbox, None, postgres_env, name="postgresql", pod=pod)
    client_key_dir = mount_root / "mlflow-client-key"
    client_key_dir.mkdir()
    sftp_key = make_ssh_key(client_key_dir)
    sftp, known_hosts = start_sftp_with_known_host_key(sandbox, mount_root, sftp_key, kubelet)
    secrets = mount_folder(mount_root, "mlflow-secrets", {"db-password": db_password + "\n"})
    sftp_secrets = mount_folder(
        mount_root,
        "mlflow-sftp",
        {"id_ed25519": sftp_key.private_path.read_bytes(), "known_hosts": known_hosts},
    )
    env = {
        "MLFLOW_DB_HOST": "postgresql",
        "MLFLOW_DB_USER": "mlflow",
        "MLFLOW_DB_PASSWORD_FILE": f"{SECRETS}/db-password",
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": new_password(),
        "MLFLOW_ARTIFACTS_DESTINATION": "sftp://mlops@sftp:2222/data/mlflow-artifacts",
        "MLOPS_SFTP_KEY_FILE": f"{SFTP_SECRETS}/id_ed25519",
        "MLOPS_SFTP_KNOWN_HOSTS": f"{SFTP_SECRETS}/known_hosts",
        "MLFLOW_ALLOWED_HOSTS": f"mlflow,mlflow:5000,{network_hosts_pattern(sandbox)}",
        "MLFLOW_EXPOSE_PROMETHEUS": "true",
    }
    volumes = {str(secrets): SECRETS, str(sftp_secrets): SFTP_SECRETS}
    wait_for_postgres(postgres)
    code, logs = run_mlflow_once(sandbox, "db-upgrade", ["db-upgrade"], env, volumes, kubelet)
    assert code == 0, logs
    options = pod_run_options(sandbox, kubelet, "mlflow", TMPFS, volumes)
    if metrics_dir is not None:
        env["MLFLOW_EXPOSE_PROMETHEUS"] = METRICS_DIR
        options["volumes"] = {**options["volumes"], str(metrics_dir): METRICS_DIR}
    server = sandbox.run("mlflow", name="mlflow", alias="mlflow", env=env, **options)
    server.wait_for_http(5000, "/health", timeout=300)
    return MLflowStack(sandbox, server, sftp, env, volumes, admin_password, db_password, kubelet)


@pytest.fixture(scope="module")
def stack(sandbox: Sandbox, mount_root: Path) -> MLflowStack:
    return start_stack(sandbox, mount_root)


@pytest.fixture(scope="module")
def fs_group_stack(
    images_built: None, docker_engine: docker.DockerClient, mount_root: Path
) -> Iterator[MLflowStack]:
    """The same stack in pods with OpenShift's fsGroup; a sandbox of its own (the same network aliases)."""
    root = mount_root / "fs-group"
    root.mkdir()
    root.chmod(0o755)
    with Sandbox("img-fsg-", docker_engine) as box:
        yield start_stack(box, root, Kubelet(box, FS_GROUP))


@pytest.fixture(params=FS_GROUPS, ids=FS_GROUP_IDS)
def each_stack(request: pytest.FixtureRequest) -> MLflowStack:
    """Both stacks: what a user sees must not depend on the pods' fsGroup."""
    return request.getfixturevalue("stack" if request.param is None else "fs_group_stack")


def test_health_answers_without_credentials(each_stack: MLflowStack) -> None:
    response = requests.get(f"{each_stack.url}/health", timeout=10)
    assert (response.status_code, response.text) == (200, "OK")


def test_anonymous_requests_are_refused(stack: MLflowStack) -> None:
    response = requests.get(f"{stack.url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_wrong_admin_password_is_refused(stack: MLflowStack) -> None:
    response = requests.get(
        f"{stack.url}/api/2.0/mlflow/experiments/search?max_results=1", auth=(ADMIN, "wrong"), timeout=10
    )
    assert response.status_code == 401


def test_a_host_name_not_allowed_is_refused(stack: MLflowStack) -> None:
    response = requests.get(
        f"{stack.url}/api/2.0/mlflow/experiments/search?max_results=1",
        auth=(ADMIN, stack.admin_password),
        headers={"Host": "attacker.example"},
        timeout=10,
    )
    assert response.status_code == 403
    allowed = requests.get(
        f"{stack.url}/api/2.0/mlflow/experiments/search?max_results=1",
        auth=(ADMIN, stack.admin_password),
        headers={"Host": "mlflow:5000"},
        timeout=10,
    )
    assert allowed.status_code == 200


def test_prometheus_metrics_are_exposed_to_authenticated_clients(stack: MLflowStack) -> None:
    assert requests.get(f"{stack.url}/metrics", timeout=10).status_code == 401
    response = requests.get(f"{stack.url}/metrics", auth=(ADMIN, stack.admin_password), timeout=10)
    assert response.status_code == 200
    assert "# HELP" in response.text


def test_the_web_ui_is_served(stack: MLflowStack) -> None:
    response = requests.get(f"{stack.url}/", auth=(ADMIN, stack.admin_password), timeout=10)
    assert response.status_code == 200
    assert "<title>MLflow</title>" in response.text


def test_the_admin_logs_a_run_and_reads_it_back(
    each_stack: MLflowStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = each_stack.client(monkeypatch)
    experiment_id = client.create_experiment("img-logs-a-run")
    run = client.create_run(experiment_id, run_name="first")
    client.log_param(run.info.run_id, "alpha", "0.5")
    client.log_metric(run.info.run_id, "rmse", 0.25, step=3)
    client.set_terminated(run.info.run_id)

    stored = client.get_run(run.info.run_id)
    assert stored.data.params == {"alpha": "0.5"}
    assert stored.data.metrics == {"rmse": 0.25}
    assert [(m.value, m.step) for m in client.get_metric_history(run.info.run_id, "rmse")] == [(0.25, 3)]
    assert stored.info.status == "FINISHED"
    assert stored.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"


def test_an_artifact_goes_through_the_server_into_the_sftp_volume(
    each_stack: MLflowStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = each_stack.client(monkeypatch)
    experiment_id = client.create_experiment("img-artifacts")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_text(run_id, "hello from the image test\n", "notes/hello.txt")

    on_sftp = f"/data/mlflow-artifacts/{experiment_id}/{run_id}/artifacts/notes/hello.txt"
    code, content = each_stack.sftp.exec(["cat", on_sftp])
    assert (code, content) == (0, "hello from the image test\n")
    local = client.download_artifacts(run_id, "notes/hello.txt", str(tmp_path))
    assert Path(local).read_text() == "hello from the image test\n"


def test_database_passwords_never_appear_in_process_arguments(stack: MLflowStack) -> None:
    code, cmdlines = stack.server.exec(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"])
    assert code == 0
    assert "mlflow server" in cmdlines
    assert stack.db_password not in cmdlines
    assert stack.admin_password not in cmdlines
    code, mode = stack.server.exec(["stat", "-c", "%a", "/tmp/mlflow-auth/basic_auth.ini"])
    assert (code, mode.strip()) == (0, "600")


def test_the_job_runner_is_off_and_two_workers_serve(stack: MLflowStack) -> None:
    code, cmdlines = stack.server.exec(
        ["sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f; echo; done"]
    )
    assert code == 0
    assert "huey" not in cmdlines
    assert "--workers 2" in cmdlines


def test_db_upgrade_is_idempotent(stack: MLflowStack) -> None:
    code, logs = stack.run_once("db-upgrade-again", ["db-upgrade"])
    assert code == 0, logs
    assert logs.strip().endswith("mlflow-entrypoint: databases are at the current schema")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "MLFLOW_AUTH_ADMIN_PASSWORD",
            "mlflow-entrypoint: no admin password: set MLFLOW_AUTH_ADMIN_PASSWORD or "
            "MLFLOW_AUTH_ADMIN_PASSWORD_FILE (used to create the admin account on the first start)",
        ),
        (
            "MLFLOW_DB_PASSWORD_FILE",
            "mlflow-entrypoint: no database password: set MLFLOW_DB_PASSWORD or MLFLOW_DB_PASSWORD_FILE "
            "(path of a mounted Secret file)",
        ),
        (
            "MLFLOW_ARTIFACTS_DESTINATION",
            "mlflow-entrypoint: MLFLOW_ARTIFACTS_DESTINATION is not set: say where artifacts are stored, "
            "e.g. sftp://mlops@sftp:2222/data/mlflow-artifacts",
        ),
        (
            "MLFLOW_EXPOSE_PROMETHEUS=yes",
            "mlflow-entrypoint: MLFLOW_EXPOSE_PROMETHEUS='yes': leave it empty (off), set true, "
            "or give an absolute directory",
        ),
    ],
    ids=["admin-password", "db-password", "artifacts-destination", "prometheus-value"],
)
def test_refuses_to_start_without_a_required_setting(stack: MLflowStack, setting: str, message: str) -> None:
    """`setting` names the variable to empty, or NAME=value for a wrong value."""
    name, _, value = setting.partition("=")
    code, logs = stack.run_once(f"refuse-{name.lower().replace('_', '-')}", ["server"], env={name: value})
    assert code == 1
    assert logs.strip() == message


def test_the_charts_known_hosts_entry_runs_with_the_images_python(sandbox: Sandbox, mount_root: Path) -> None:
    """Contract with the chart: its init containers run `python3 -m mlops_stack.ssh` with this python3."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())  # what the chart's genPrivateKey "ecdsa" gives
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    expected = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    host_keys = mount_folder(mount_root, "chart-host-keys", {"ssh_host_ecdsa_key": pem})
    job = sandbox.run(
        "mlflow",
        name="chart-known-hosts",
        command=[
            "sh",
            "-c",
            "python3 -m mlops_stack.ssh known-hosts --out /tmp/known_hosts --port 2222 --names sftp "
            "/etc/sftp/host-keys-source/ssh_host_ecdsa_key /etc/sftp/host-keys-source/ssh_host_rsa_key "
            "&& cat /tmp/known_hosts",
        ],
        tmpfs=TMPFS,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        volumes={str(host_keys): "/etc/sftp/host-keys-source"},
        read_only_mounts=["/etc/sftp/host-keys-source"],
    )
    assert job.wait_for_exit(60) == 0, job.logs()
    assert job.logs() == f"[sftp]:2222 {expected.decode()}\n"


@pytest.mark.parametrize("component", ["postgresql", "sftp", "mlflow", "prefect"])
def test_no_build_ca_reaches_an_image(sandbox: Sandbox, component: str) -> None:
    """The CA bundle for the build's HTTPS (pip) lives only in the mlflow builder stage."""
    image = sandbox.client.images.get(image_ref(component))
    history = " ".join(layer.get("CreatedBy", "") for layer in image.history())
    assert "build-ca" not in history
    assert "ca-bundle" not in history
    finder = sandbox.run(
        component,
        name=f"find-ca-{component}",
        entrypoint=["sh", "-c"],
        command=["find / -xdev \\( -name '*build-ca*' -o -name 'ca-bundle.pem' \\) -print 2>/dev/null; true"],
    )
    assert finder.wait_for_exit(60) == 0
    assert finder.logs() == ""


def _self_signed_ca_pem(common_name: str) -> bytes:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _build_images(env: dict[str, str], *components: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-images"), *components],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "build-images: EXTRA_CA_BUNDLE={path}: no such readable file"),
        (b"not a certificate\n", "build-images: EXTRA_CA_BUNDLE={path} holds no PEM certificate"),
    ],
    ids=["missing", "not-pem"],
)
def test_build_images_refuses_an_unusable_extra_ca_bundle(
    images_built: None, tmp_path: Path, content: bytes | None, message: str
) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    result = _build_images({"EXTRA_CA_BUNDLE": str(bundle), "IMAGE_PREFIX": "img-never-built"}, "mlflow")
    assert result.returncode == 1
    assert message.format(path=bundle) in result.stderr


@pytest.mark.slow
def test_an_extra_ca_bundle_is_used_by_the_build_and_kept_out_of_the_image(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The corporate-proxy path: the build still reaches PyPI, the final image never holds the CA."""
    pem = _self_signed_ca_pem(f"img-test-proxy-ca-{tmp_path.name}")
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_bytes(pem)
    prefix = f"img-ca-{sandbox.prefix.rstrip('-')}"
    result = _build_images({"EXTRA_CA_BUNDLE": str(bundle), "IMAGE_PREFIX": prefix}, "mlflow")
    # Only the prefix differs (IMAGE_PREFIX may be set: replacing "mlops-stack/" would then leave the
    # caller's own image as `ref`, which the `finally` below force-removes).
    ref = f"{prefix}/{image_ref('mlflow').rsplit('/', 1)[1]}"
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"{ref} " in result.stdout
        marker = pem.decode().splitlines()[1][:40]  # a piece of the certificate's base64 body
        finder = sandbox.run(
            ref,
            name="find-extra-ca",
            entrypoint=["sh", "-c"],
            command=[f"find / -xdev -type f -size -20M -exec grep -lF '{marker}' {{}} + 2>/dev/null; true"],
        )
        assert finder.wait_for_exit(240) == 0
        assert finder.logs() == ""
        finder.remove()
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            sandbox.client.images.remove(ref, force=True)


def test_the_charts_pools_and_request_threads_serve_concurrent_batches_without_errors(
    stack: MLflowStack, sandbox: Sandbox
) -> None:
    """With the chart's pool sizes (mlflow.databasePool) and MLflow's 40 threads per worker, concurrent
    `log_batch` calls deadlock the pools (each request holds one connection and waits for a second) until
    SQLAlchemy's 30 s timeout fails them; the chart's mlflow.requestThreads bounds the threads so they
    do not: 32 clients at once, every batch stored."""
    import yaml

    mlflow_values = yaml.safe_load((REPO_ROOT / "charts" / "mlops-stack" / "values.yaml").read_text())[
        "mlflow"
    ]
    chart_env = {
        "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": str(mlflow_values["databasePool"]["size"]),
        "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": str(mlflow_values["databasePool"]["maxOverflow"]),
        "MLOPS_REQUEST_THREADS": str(mlflow_values["requestThreads"]),
    }
    options = pod_run_options(sandbox, None, "mlflow-chart-pools", TMPFS, stack.volumes)
    server = sandbox.run("mlflow", name="mlflow-chart-pools", env={**stack.env, **chart_env}, **options)
    server.wait_for_http(5000, "/health", timeout=300)
    url, auth = server.url(5000).rstrip("/"), ("admin", stack.admin_password)
    created = requests.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": "img-pools"}, auth=auth,
                            timeout=60)  # fmt: skip
    experiment = created.json()["experiment_id"]
    runs = [
        requests.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}, auth=auth,
                      timeout=60).json()["run"]["info"]["run_id"]
        for _ in range(32)
    ]  # fmt: skip

    def batches(run_id: str) -> list[int]:
        statuses = []
        with requests.Session() as session:
            for step in range(3):
                metrics = [
                    {"key": f"m{i}", "value": i, "timestamp": 1700000000000, "step": step} for i in range(100)
                ]
                body = {"run_id": run_id, "metrics": metrics}
                response = session.post(
                    f"{url}/api/2.0/mlflow/runs/log-batch", json=body, auth=auth, timeout=120
                )
                statuses.append(response.status_code)
        return statuses

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(runs)) as pool:
        statuses = list(pool.map(batches, runs))
    assert statuses == [[200, 200, 200]] * len(runs)
    query = {"run_id": runs[-1], "metric_key": "m7"}
    history = requests.get(f"{url}/api/2.0/mlflow/metrics/get-history", params=query, auth=auth, timeout=60)
    history = history.json()["metrics"]
    assert sorted(m["step"] for m in history) == [0, 1, 2]

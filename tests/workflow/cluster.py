"""The kind cluster the `cluster` target and the upgrade test run against: finding it, reading its
objects, helm, and port-forwards.

`scripts/kind-up` creates the cluster, writes its kubeconfig to .cache/kind/kubeconfig and installs the
chart as release `mlops-stack` in namespace `mlops-stack` (KIND_RELEASE / KIND_NAMESPACE change both).
Nothing here creates a cluster: without a reachable kind cluster the `cluster` tests skip, with the reason
`unreachable_reason()` gives, computed once per session.

Kubernetes objects are read, and the check pods run, with the official `kubernetes` client; objects come
back as the API's JSON (camelCase keys, what `kubectl get -o json` prints). helm and `kubectl
port-forward` stay command-line tools (see `port_forward`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "mlops-stack"
KIND_VALUES = REPO_ROOT / "tests" / "kind" / "values.yaml"
KIND_STATE = REPO_ROOT / ".cache" / "kind"  # written by scripts/kind-up
KIND_KUBECONFIG = KIND_STATE / "kubeconfig"
DATA_SCIENTIST_KEY = KIND_STATE / "data-scientist"  # SSH key in sftp.authorizedKeys
AUTHORIZED_KEYS_VALUES = KIND_STATE / "authorized-keys.yaml"
HOW_TO_RUN = "Run them with: make kind-up && make test-kind"
RELEASE = os.environ.get("KIND_RELEASE") or "mlops-stack"
NAMESPACE = os.environ.get("KIND_NAMESPACE") or "mlops-stack"
COMPONENT_LABEL = "app.kubernetes.io/component"
INSTANCE_LABEL = "app.kubernetes.io/instance"
# The UID tests/kind/values.yaml runs the stack as, like OpenShift's restricted-v2 would (group 0), also
# its fsGroup. (That values file stays at the path earlier releases have it: scripts/ci-upgrade-test reads
# it at their tags.)
OPENSHIFT_STYLE_UID = 1000680000
# The chart's default application role and tracking database (tests/kind/values.yaml keeps them).
DB_USER = "mlflow"
DB_NAME = "mlflow"

# Set by tests/workflow/conftest.py from pytest's --kubeconfig option (pytest-helm-charts registers it).
explicit_kubeconfig: str | None = None


def helm_binary() -> str:
    """The helm 4 binary `make tools` installs (the scripts use the same one)."""
    local = REPO_ROOT / ".tools" / "bin" / "helm"
    return str(local) if local.exists() else "helm"


def kubeconfig_candidates() -> list[tuple[str, Path | None]]:
    """Where a kubeconfig is looked for, in order: (how to name it in a message, path or None if unset)."""
    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return [
        ("--kubeconfig", Path(explicit_kubeconfig) if explicit_kubeconfig else None),
        (f"{KIND_KUBECONFIG.relative_to(REPO_ROOT)} (written by make kind-up)", KIND_KUBECONFIG),
        ("$KUBECONFIG", Path(env) if env else None),
    ]


def find_kubeconfig() -> tuple[Path | None, list[str]]:
    """The first kubeconfig file found, and what was checked before it."""
    checked = []
    for what, path in kubeconfig_candidates():
        if path is not None and path.is_file():
            return path, checked
        if path is None:
            checked.append(f"{what} not set")
        elif path == KIND_KUBECONFIG:
            checked.append(f"{what} absent")
        else:
            checked.append(f"{what} {path} absent")
    return None, checked


@functools.cache
def api_client(kubeconfig: Path, retries: bool = True) -> ApiClient:
    """The kubernetes client for `kubeconfig` (one per file); `retries=False` fails on the first error."""
    # Imported here: without a cluster the suite only computes its skip, and the client takes a while.
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    if not retries:
        configuration.retries = False
    return client.ApiClient(configuration)


def core(kubeconfig: Path) -> Any:
    from kubernetes.client import CoreV1Api

    return CoreV1Api(api_client(kubeconfig))


def as_json(kubeconfig: Path, obj: Any) -> Any:
    """A client model as the API's JSON (camelCase keys), as `kubectl get -o json` prints it."""
    return api_client(kubeconfig).sanitize_for_serialization(obj)


@functools.cache
def unreachable_reason() -> str | None:
    """None when a kind cluster answers, else why the cluster tests skip (what was checked, how to run)."""
    kubeconfig, checked = find_kubeconfig()
    if kubeconfig is None:
        return f"no kind cluster: no kubeconfig found ({'; '.join(checked)}). {HOW_TO_RUN}"
    if shutil.which("kubectl") is None:
        return (
            f"kubectl is not installed, so the Services of the cluster in {kubeconfig} cannot be "
            f"port-forwarded. {HOW_TO_RUN}"
        )
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException
    from urllib3.exceptions import HTTPError

    try:
        nodes = CoreV1Api(api_client(kubeconfig, retries=False)).list_node(_request_timeout=(10, 20))
    except ConfigException as err:
        return f"the kubeconfig {kubeconfig} cannot be used ({err}). {HOW_TO_RUN}"
    except ApiException as err:
        answer = f"{err.status} {err.reason}"
        return f"the cluster in {kubeconfig} does not answer (list nodes: {answer}). {HOW_TO_RUN}"
    except HTTPError as err:
        return f"the cluster in {kubeconfig} does not answer (list nodes: {err}). {HOW_TO_RUN}"
    providers = {n.spec.provider_id or "" for n in nodes.items}
    if not providers or not all(p.startswith("kind://") for p in providers):
        return (
            f"the cluster in {kubeconfig} is not a kind cluster (node providerIDs {sorted(providers)}); "
            f"these tests install releases, so they only run on kind. {HOW_TO_RUN}"
        )
    return None


def kubeconfig_path() -> Path:
    kubeconfig, checked = find_kubeconfig()
    if kubeconfig is None:
        raise RuntimeError(f"no kubeconfig ({'; '.join(checked)})")
    return kubeconfig


def helm(kubeconfig: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO_ROOT,
    )


def image_flags(prefix: str | None = None, tag: str | None = None) -> list[str]:
    """The same image flags scripts/kind-up passes (scripts/ci-image-values)."""
    prefix = prefix or os.environ.get("IMAGE_PREFIX") or "mlops-stack"
    args = [str(REPO_ROOT / "scripts" / "ci-image-values"), prefix]
    tag = tag or os.environ.get("IMAGE_TAG")
    if tag:
        args.append(tag)
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()


def authorize_data_scientist_key() -> Path:
    """The tests' data scientist SSH key and the values file authorizing it, as scripts/kind-up makes them."""
    KIND_STATE.mkdir(parents=True, exist_ok=True)
    if not DATA_SCIENTIST_KEY.exists():
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "kind-data-scientist",
                "-f",
                str(DATA_SCIENTIST_KEY),
            ],
            check=True,
        )
    public = DATA_SCIENTIST_KEY.with_suffix(".pub").read_text().strip()
    AUTHORIZED_KEYS_VALUES.write_text(f'sftp:\n  authorizedKeys:\n    - "{public}"\n')
    return DATA_SCIENTIST_KEY


def ensure_release(kubeconfig: Path, release: str = RELEASE, namespace: str = NAMESPACE) -> None:
    """Install the chart as scripts/kind-up does, unless that release is already deployed."""
    status = helm(kubeconfig, "status", release, "--namespace", namespace, "--output", "json")
    if status.returncode == 0 and json.loads(status.stdout)["info"]["status"] == "deployed":
        return
    authorize_data_scientist_key()
    result = helm(
        kubeconfig, "upgrade", "--install", release, str(CHART_DIR),
        "--namespace", namespace, "--create-namespace", "--values", str(KIND_VALUES),
        "--values", str(AUTHORIZED_KEYS_VALUES), *image_flags(), "--wait=watcher", "--timeout", "15m",
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"helm upgrade --install {release} failed:\n{result.stdout}\n{result.stderr}")


# kind (as the tests name it) -> (client API class, the name its methods give the resource).
RESOURCES = {
    "pods": ("CoreV1Api", "pod"),
    "pvc": ("CoreV1Api", "persistent_volume_claim"),
    "service": ("CoreV1Api", "service"),
    "secret": ("CoreV1Api", "secret"),
    "deployment": ("AppsV1Api", "deployment"),
    "statefulset": ("AppsV1Api", "stateful_set"),
}


def api_for(kubeconfig: Path, kind: str) -> tuple[Any, str]:
    import kubernetes.client

    api_class, resource = RESOURCES[kind]
    return getattr(kubernetes.client, api_class)(api_client(kubeconfig)), resource


def objects(kubeconfig: Path, kind: str, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
    """The namespace's objects of `kind` with all of `selector`'s labels, as JSON."""
    api, resource = api_for(kubeconfig, kind)
    labels = ",".join(f"{k}={v}" for k, v in selector.items())
    found = getattr(api, f"list_namespaced_{resource}")(namespace, label_selector=labels)
    return as_json(kubeconfig, found)["items"]


def read(kubeconfig: Path, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """One namespaced object, as JSON."""
    api, resource = api_for(kubeconfig, kind)
    return as_json(kubeconfig, getattr(api, f"read_namespaced_{resource}")(name, namespace))


def storage_classes(kubeconfig: Path) -> list[dict[str, Any]]:
    from kubernetes.client import StorageV1Api

    return as_json(kubeconfig, StorageV1Api(api_client(kubeconfig)).list_storage_class())["items"]


def image_of(kubeconfig: Path, kind: str, component: str, release: str, namespace: str) -> str:
    """The first container's image of the release's one <kind> (deployment, statefulset) of a component."""
    name = component_name(kubeconfig, kind, component, release, namespace)
    return read(kubeconfig, kind, name, namespace)["spec"]["template"]["spec"]["containers"][0]["image"]


def exec_in(kubeconfig: Path, namespace: str, pod: dict[str, Any], command: list[str]) -> tuple[str, str]:
    """Run `command` in a running pod's default container (the one `kubectl exec` picks); (stdout, stderr)."""
    from kubernetes.stream import stream

    annotations = pod["metadata"].get("annotations") or {}
    container = (
        annotations.get("kubectl.kubernetes.io/default-container") or pod["spec"]["containers"][0]["name"]
    )
    session = stream(
        core(kubeconfig).connect_get_namespaced_pod_exec, pod["metadata"]["name"], namespace,
        container=container, command=command, stdin=False, stdout=True, stderr=True, tty=False,
        _preload_content=False,
    )  # fmt: skip
    try:
        session.run_forever(timeout=60)
        return session.read_stdout(), session.read_stderr()
    finally:
        session.close()


def component_name(kubeconfig: Path, kind: str, component: str, release: str, namespace: str) -> str:
    """The name of the release's one <kind> of a component, found by its labels (not by naming rules)."""
    found = objects(kubeconfig, kind, namespace, {INSTANCE_LABEL: release, COMPONENT_LABEL: component})
    if kind == "service":  # a StatefulSet's headless Service is not the one clients use
        found = [o for o in found if o["spec"].get("clusterIP") != "None"]
    if len(found) != 1:
        names = [o["metadata"]["name"] for o in found]
        raise RuntimeError(
            f"expected one {kind} of component {component} in release {release}, found {names}"
        )
    return found[0]["metadata"]["name"]


@dataclass(frozen=True)
class AdminCredentials:
    username: str
    password: str


def admin_credentials(
    kubeconfig: Path, release: str = RELEASE, namespace: str = NAMESPACE
) -> AdminCredentials:
    """The MLflow admin user and password from the Secret the chart generated."""
    name = component_name(kubeconfig, "service", "mlflow", release, namespace)
    data = read(kubeconfig, "secret", name, namespace)["data"]
    return AdminCredentials(
        username=base64.b64decode(data["admin-username"]).decode(),
        password=base64.b64decode(data["admin-password"]).decode(),
    )


FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


@contextlib.contextmanager
def port_forward(
    kubeconfig: Path, namespace: str, service: str, port: int, timeout: float = 60
) -> Iterator[int]:
    """`kubectl port-forward svc/<service> :<port>`; yields the local port on 127.0.0.1.

    kubectl, not the client's `portforward`: that one hands this process a socket per connection to one
    pod, while the workflow's own processes (`mlops`, `dvc`, `python train.py`) need a listening port on
    127.0.0.1 that reaches the Service, which is what `kubectl port-forward` gives.
    """
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--namespace", namespace, "port-forward",
         "--address", "127.0.0.1", f"svc/{service}", f":{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        yield wait_for_forwarding(proc, timeout)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for_forwarding(proc: subprocess.Popen[str], timeout: float) -> int:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                stderr = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"kubectl port-forward exited {proc.returncode}: {stderr.strip()}")
            if selector.select(timeout=1):
                match = FORWARDING.search(proc.stdout.readline())
                if match:
                    return int(match.group(1))
    raise TimeoutError(f"kubectl port-forward printed no local port within {timeout:.0f} s")


def run_pod(
    kubeconfig: Path,
    namespace: str,
    image: str,
    command: list[str],
    labels: dict[str, str],
    claims: dict[str, str] | None = None,
    timeout: float = 180,
) -> tuple[int, str]:
    """Run a one-off pod under the restricted profile; `claims` maps PVC names to mount paths (read-only).
    Returns the container's exit code and log; the pod is deleted afterwards."""
    name = f"kind-check-{uuid.uuid4().hex[:8]}"
    claims = claims or {}
    volumes = [
        {"name": f"v{i}", "persistentVolumeClaim": {"claimName": c, "readOnly": True}}
        for i, c in enumerate(claims)
    ]
    mounts = [{"name": f"v{i}", "mountPath": p, "readOnly": True} for i, p in enumerate(claims.values())]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": OPENSHIFT_STYLE_UID, "runAsGroup": 0,
                                "fsGroup": OPENSHIFT_STYLE_UID, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [*volumes, {"name": "tmp", "emptyDir": {}}],
            "containers": [{
                "name": "check", "image": image, "imagePullPolicy": "IfNotPresent", "command": command,
                "volumeMounts": [*mounts, {"name": "tmp", "mountPath": "/tmp"}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
            }],
        },
    }  # fmt: skip
    api = core(kubeconfig)
    api.create_namespaced_pod(namespace, pod)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = read(kubeconfig, "pods", name, namespace)["status"]
            if status.get("phase") in ("Succeeded", "Failed"):
                code = status["containerStatuses"][0]["state"]["terminated"]["exitCode"]
                return code, api.read_namespaced_pod_log(name, namespace)
            time.sleep(2)
        raise TimeoutError(f"pod {name} did not finish within {timeout:.0f} s")
    finally:
        api.delete_namespaced_pod(name, namespace)


def sftp_host_key_fingerprint(kubeconfig: Path, release: str = RELEASE, namespace: str = NAMESPACE) -> str:
    """SHA256 fingerprint of the SFTP server's host key, from the chart's Secret (what NOTES.txt tells
    a data scientist to compare with), so `mlops init` pins it instead of trusting the first answer."""
    name = component_name(kubeconfig, "secret", "sftp", release, namespace)
    private = base64.b64decode(read(kubeconfig, "secret", name, namespace)["data"]["ssh_host_ecdsa_key"])
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp, "host_key")
        key.write_bytes(private)
        key.chmod(0o600)
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True
        )
    match = re.search(r"SHA256:\S+", listed.stdout)
    if not match:
        raise RuntimeError(f"ssh-keygen -l printed no SHA256 fingerprint: {listed.stdout}")
    return match.group(0)

"""The whole stack from the rendered chart on the local engine (`make up`), shared by the session.

A stack that already answers (a developer's `make up`) is reused as it is; one this session started is
stopped again at the end with `make down` (data kept), unless KEEP_STACK=1.
"""

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tests.support.workflow import Endpoints

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_DIR = REPO_ROOT / ".stack"
BIND = os.environ.get("BIND_ADDRESS", "127.0.0.1")
MLFLOW_PORT = int(os.environ.get("MLFLOW_PORT", "5000"))
SFTP_PORT = int(os.environ.get("SFTP_PORT", "2222"))
TRACKING_URI = f"http://{BIND}:{MLFLOW_PORT}"
SFTP_VOLUME = "mlops-stack-sftp"


def healthy() -> bool:
    try:
        return requests.get(f"{TRACKING_URI}/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def make(target: str) -> str:
    """`make up` / `make down` as a user runs them (images are built by `make test` before the tests)."""
    env = {**os.environ, "SKIP_IMAGES": "1"}
    done = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"make {target} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        )
    return done.stdout


def localrun(*args: str) -> str:
    command = [sys.executable, "-m", "mlops_stack.localrun", "--state-dir", str(STACK_DIR), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def endpoints() -> Endpoints:
    return Endpoints(
        tracking_uri=TRACKING_URI,
        username="admin",
        password=localrun("secret", "mlops-stack-mlflow", "admin-password"),
        sftp_host=BIND,
        sftp_port=SFTP_PORT,
        sftp_user="mlops",
        identity_file=STACK_DIR / "client" / "id_ed25519",
        host_key_fingerprint=localrun("fingerprint", "mlops-stack-sftp-host-keys", "ssh_host_ecdsa_key"),
    )


@pytest.fixture(scope="session")
def stack_output() -> Iterator[str]:
    """What `make up` printed ("" when a running stack was reused)."""
    started = not healthy()
    output = make("up") if started else ""
    yield output
    if started and os.environ.get("KEEP_STACK") != "1":
        make("down")


@pytest.fixture(scope="session")
def stack(stack_output: str) -> Endpoints:
    return endpoints()


@pytest.fixture(scope="session")
def admin_env(stack: Endpoints) -> Iterator[None]:
    """The test process talks to MLflow as the admin (the data scientist's processes use `mlops init`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", stack.tracking_uri)
        patch.setenv("MLFLOW_TRACKING_USERNAME", stack.username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", stack.password)
        yield


def sftp_volume_digests() -> dict[str, str]:
    """{path under the SFTP data volume: sha256} read straight from the Docker volume."""
    image = f"{os.environ.get('IMAGE_PREFIX') or 'mlops-stack'}/sftp:{os.environ.get('IMAGE_TAG') or '0.1.0'}"
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "1000680000:0",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--entrypoint",
            "sh",
            "-v",
            f"{SFTP_VOLUME}:/v:ro",
            image,
            "-c",
            "cd /v && find . -type f ! -path './.sftp-host-keys/*' -exec sha256sum {} +",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    digests = {}
    for line in done.stdout.splitlines():
        digest, path = line.split(maxsplit=1)
        digests[path.removeprefix("./")] = digest
    return digests


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

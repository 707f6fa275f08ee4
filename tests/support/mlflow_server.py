"""A local `mlflow server` with basic-auth (sqlite stores, artifacts on local disk), for the suites that
need a real tracking server without Docker."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.mlflow_users import create_user
from tests.support.servers import free_port, http_ok, start_server, stop


@dataclass
class MlflowServer:
    url: str
    admin_user: str
    admin_password: str
    process: subprocess.Popen
    log: Path

    def create_user(self, username: str) -> str:
        return create_user(self.url, (self.admin_user, self.admin_password), username)

    @property
    def auth_db(self) -> Path:
        """The basic-auth sqlite database (users, password hashes)."""
        return self.log.parent / "auth.db"

    def stop(self) -> None:
        stop(self.process)


def start_mlflow_server(
    workdir: Path, app_name: str = "basic-auth", workers: int = 1, auth_cache_ttl_seconds: int = 300
) -> MlflowServer:
    """`mlflow server --app-name APP_NAME`, sqlite stores, artifacts proxied to a local directory.

    `auth_cache_ttl_seconds`: MLflow's own credential cache; without it (0) stock basic-auth re-runs the
    password hash on every request (about a second each on a busy 2-core box)."""
    workdir.mkdir(parents=True, exist_ok=True)
    admin_password = secrets.token_urlsafe(16)
    auth_ini = workdir / "basic_auth.ini"
    auth_ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'auth.db'}\n"
        "admin_username = admin\n"
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {auth_cache_ttl_seconds}\n"
    )
    port = free_port()
    log = workdir / "server.log"
    env = {
        **os.environ,
        "HOME": str(workdir),
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        # No job runner/huey consumers: 2 processes instead of 15 (environment notes).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(name, None)
    command = [
        sys.executable, "-m", "mlflow", "server", "--app-name", app_name,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination", str(workdir / "artifacts"),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    process = start_server(
        command, what="mlflow server", log=log, cwd=workdir, env=env, ready=lambda: http_ok(f"{url}/health"),
        timeout=180,
    )  # fmt: skip
    return MlflowServer(url, "admin", admin_password, process, log)

"""Where `mlops init` keeps the non-secret client settings (the MLflow password lives in MLflow's own file).

MLflow reads no file for the tracking URI, so the URI, the SFTP endpoint and the DVC remote settings are
kept in one small INI file that `mlops doctor`, `mlops env` and `tracked_run` read back.

Where the tracking URI comes from, for all of them (`tracking_uri`; `prefect_api_url` likewise):
  1. MLFLOW_TRACKING_URI in the environment, when set and not empty (`mlflow.set_tracking_uri()` in
     a Python process sets that variable too, so a URI chosen in code wins in `tracked_run`);
  2. else the `tracking_uri` that `mlops init` saved in this file;
  3. else none: `tracked_run` leaves MLflow to its default, `mlops doctor` and `mlops env` ask for
     `mlops init`.
"""

from __future__ import annotations

import configparser
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ClientError
from .files import write_private_file

DEFAULT_SFTP_PORT = 2222  # the stack's SFTP server listens there (images/README.md)
DEFAULT_SFTP_USER = "mlops"
DEFAULT_DVC_REMOTE_NAME = "storage"
# The chart's prefect.worker.workPool: the pool the stack's worker serves.
DEFAULT_PREFECT_WORK_POOL = "mlops"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_PREFECT_API_URL = "PREFECT_API_URL"


def config_path() -> Path:
    """$MLOPS_CONFIG, else $XDG_CONFIG_HOME/mlops/config.ini, else ~/.config/mlops/config.ini."""
    if explicit := os.environ.get("MLOPS_CONFIG"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlops" / "config.ini"


def default_known_hosts() -> Path:
    # OpenSSH's own file, so `sftp`/`ssh` on the command line verify the same pin.
    return Path.home() / ".ssh" / "known_hosts"


@dataclass
class SftpSettings:
    host: str
    port: int = DEFAULT_SFTP_PORT
    user: str = DEFAULT_SFTP_USER
    identity_file: str = ""
    known_hosts: str = ""

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass
class ClientConfig:
    tracking_uri: str
    username: str
    sftp: SftpSettings | None = None
    dvc_remote_name: str = DEFAULT_DVC_REMOTE_NAME
    prefect_api_url: str | None = None
    prefect_work_pool: str = DEFAULT_PREFECT_WORK_POOL

    def save(self, path: Path | None = None) -> Path:
        path = path or config_path()
        parser = configparser.ConfigParser(interpolation=None)
        parser["mlflow"] = {"tracking_uri": self.tracking_uri, "username": self.username}
        if self.sftp:
            parser["sftp"] = {
                "host": self.sftp.host,
                "port": str(self.sftp.port),
                "user": self.sftp.user,
                "identity_file": self.sftp.identity_file,
                "known_hosts": self.sftp.known_hosts,
            }
        # The remote's directory is per project (in its .dvc/config), never a machine-wide setting.
        parser["dvc"] = {"remote_name": self.dvc_remote_name}
        if self.prefect_api_url:
            parser["prefect"] = {"api_url": self.prefect_api_url, "work_pool": self.prefect_work_pool}
        text = io.StringIO()
        text.write("# Written by `mlops init`; re-run it rather than editing by hand.\n")
        parser.write(text)
        write_private_file(path, text.getvalue())
        return path


def load_config(path: Path | None = None) -> ClientConfig | None:
    """The saved settings, or None when `mlops init` never ran."""
    path = path or config_path()
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        mlflow = parser["mlflow"]
        sftp = None
        if parser.has_section("sftp"):
            section = parser["sftp"]
            sftp = SftpSettings(
                host=section["host"],
                port=section.getint("port", DEFAULT_SFTP_PORT),
                user=section.get("user", DEFAULT_SFTP_USER),
                identity_file=section.get("identity_file", ""),
                known_hosts=section.get("known_hosts", "") or str(default_known_hosts()),
            )
        return ClientConfig(
            tracking_uri=mlflow["tracking_uri"],
            username=mlflow.get("username", ""),
            sftp=sftp,
            dvc_remote_name=parser.get("dvc", "remote_name", fallback=DEFAULT_DVC_REMOTE_NAME),
            prefect_api_url=parser.get("prefect", "api_url", fallback=None),
            prefect_work_pool=parser.get("prefect", "work_pool", fallback=DEFAULT_PREFECT_WORK_POOL),
        )
    except (configparser.Error, KeyError, ValueError) as err:
        raise ClientError(f"{path} is not a valid mlops config ({err})", "run `mlops init` again") from err


def _environment_or_saved(
    variable: str, saved: Callable[[ClientConfig], str | None], conf: ClientConfig | None
) -> str | None:
    if value := os.environ.get(variable):
        return value
    conf = conf if conf is not None else load_config()  # read only when the environment says nothing
    return saved(conf) if conf is not None else None


def tracking_uri(conf: ClientConfig | None = None) -> str | None:
    """The MLflow tracking URI by the rule above: MLFLOW_TRACKING_URI, else the saved one, else None.

    `conf` is the already loaded config (None: loaded here, only if the environment names no URI).
    """
    return _environment_or_saved(ENV_TRACKING_URI, lambda c: c.tracking_uri, conf)


def prefect_api_url(conf: ClientConfig | None = None) -> str | None:
    """The Prefect API URL by the same rule: PREFECT_API_URL, else the saved one, else None."""
    return _environment_or_saved(ENV_PREFECT_API_URL, lambda c: c.prefect_api_url, conf)

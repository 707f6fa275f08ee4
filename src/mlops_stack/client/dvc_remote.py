"""The DVC ssh remote on the stack's SFTP server, edited through DVC's own config API.

What everyone shares (the URL) goes in `.dvc/config`, which is committed; what is personal (the key
file, passphrase prompts) goes in `.dvc/config.local`, which DVC keeps out of Git. Other remotes are
never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .config import SftpSettings
from .errors import ClientError

INSTALL_HINT = "install DVC with its ssh plugin: pip install 'mlops-stack[dvc]'"


def find_dvc_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a `.dvc/` directory."""
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / ".dvc").is_dir():
            return directory
    return None


def remote_url(sftp: SftpSettings, path: str) -> str:
    return f"ssh://{sftp.user}@{sftp.host}:{sftp.port}/{path.lstrip('/')}"


def committed_remote_path(root: Path, name: str) -> str | None:
    """The directory of remote `name` as committed in .dvc/config (None when it is not there)."""
    url = _config(root).load_one("repo")["remote"].get(name, {}).get("url")
    if not url or "://" not in url:
        return None
    return urlsplit(url).path or None


def _config(root: Path):
    try:
        from dvc.config import Config
    except ImportError as err:
        raise ClientError("DVC is not installed in this Python environment", INSTALL_HINT) from err
    return Config(dvc_dir=str(root / ".dvc"))


@dataclass
class RemoteState:
    url: str | None
    keyfile: str | None
    is_default: bool
    default: str | None


def read_remote(root: Path, name: str) -> RemoteState:
    merged = _config(root).read()
    section = merged.get("remote", {}).get(name, {})
    default = merged.get("core", {}).get("remote")
    return RemoteState(section.get("url"), section.get("keyfile"), default == name, default)


def configure_remote(
    root: Path, name: str, sftp: SftpSettings, path: str, ask_passphrase: bool = False
) -> list[str]:
    """Add or update remote `name`; returns what was done, one sentence per item."""
    from dvc.config import ConfigError

    url = remote_url(sftp, path)
    config = _config(root)
    done: list[str] = []
    try:
        shared = config.load_one("repo")
        section = shared["remote"].get(name, {})
        default = shared["core"].get("remote")
        up_to_date = section.get("url") == url and not {"user", "port"} & set(section) and default is not None
        if up_to_date:
            # A clone already has the committed remote: leave .dvc/config untouched (the tree stays clean).
            done.append(f"remote {name!r} already points at {url} in .dvc/config")
        else:
            with config.edit("repo") as conf:
                section = conf["remote"].setdefault(name, {})
                done.append(
                    f"{'updated' if section else 'added'} DVC remote {name!r} -> {url} in .dvc/config"
                )
                section["url"] = url
                # DVC reads user and port from the URL; stale copies here would override it.
                section.pop("user", None)
                section.pop("port", None)
                default = conf["core"].setdefault("remote", name)
        if default == name:
            done.append(f"{name!r} is the default remote: `dvc push` / `dvc pull` use it")
        else:
            done.append(f"the default remote stays {default!r}: use `dvc push -r {name}`")
        with config.edit("local") as conf:
            local = conf["remote"].setdefault(name, {})
            local["keyfile"] = sftp.identity_file
            if ask_passphrase:
                local["ask_passphrase"] = "true"  # noqa: S105 (a flag, written as `dvc remote modify` does)
            else:
                local.pop("ask_passphrase", None)
            done.append(f"key file {sftp.identity_file} set in .dvc/config.local (not committed)")
    except ConfigError as err:
        raise ClientError(f"DVC refused the remote settings ({err})", "fix .dvc/config, then retry") from err
    return done

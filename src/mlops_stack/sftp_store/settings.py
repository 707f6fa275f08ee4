"""Credentials and tuning taken from the environment (the mlflow image mounts them from Secrets)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_stack.sftp_store.errors import SFTPConfigError

ENV_KEY = "MLOPS_SFTP_KEY"
ENV_KEY_FILE = "MLOPS_SFTP_KEY_FILE"
ENV_KEY_PASSPHRASE = "MLOPS_SFTP_KEY_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)
ENV_KNOWN_HOSTS = "MLOPS_SFTP_KNOWN_HOSTS"
ENV_MAX_CONNECTIONS = "MLOPS_SFTP_MAX_CONNECTIONS"
ENV_TIMEOUT = "MLOPS_SFTP_TIMEOUT"

# The keys OpenSSH itself tries, newest type first, when no key is configured.
DEFAULT_KEY_FILES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
# Enough parallel SFTP sessions to hide per-file round trips; each is one TCP connection.
DEFAULT_MAX_CONNECTIONS = 8
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class SFTPSettings:
    key_text: str | None
    key_file: Path | None
    passphrase: str | None
    known_hosts: Path
    max_connections: int
    timeout: float

    @property
    def identity(self) -> str:
        """What tells two settings apart for connection sharing (never the key text itself)."""
        source = "env-key" if self.key_text else str(self.key_file)
        return f"{source}|{self.known_hosts}|{self.timeout}"


def _positive(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SFTPConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value <= 0:
        raise SFTPConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def _key_file(env: Mapping[str, str]) -> Path | None:
    configured = env.get(ENV_KEY_FILE, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise SFTPConfigError(f"{ENV_KEY_FILE}={configured} does not exist or is not a file")
        return path
    for candidate in DEFAULT_KEY_FILES:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    return None


def load_settings(env: Mapping[str, str] | None = None) -> SFTPSettings:
    """Read MLOPS_SFTP_*; the key text in MLOPS_SFTP_KEY wins over a key file."""
    env = os.environ if env is None else env
    key_text = env.get(ENV_KEY, "").strip() or None
    key_file = None if key_text else _key_file(env)
    if key_text is None and key_file is None:
        raise SFTPConfigError(
            f"no SSH key for the SFTP artifact store: set {ENV_KEY_FILE} to a private key file, "
            f"or {ENV_KEY} to the key text (or create one of {', '.join(DEFAULT_KEY_FILES)})"
        )
    known_hosts = Path(env.get(ENV_KNOWN_HOSTS, "").strip() or DEFAULT_KNOWN_HOSTS).expanduser()
    return SFTPSettings(
        key_text=key_text,
        key_file=key_file,
        passphrase=env.get(ENV_KEY_PASSPHRASE) or None,
        known_hosts=known_hosts,
        max_connections=int(_positive(env, ENV_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS, int)),
        timeout=float(_positive(env, ENV_TIMEOUT, DEFAULT_TIMEOUT, float)),
    )

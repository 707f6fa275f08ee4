"""Strict host-key checking against a known_hosts file: unknown or changed keys are refused, loudly."""

from __future__ import annotations

from pathlib import Path

import paramiko

from mlops_stack.sftp_store.errors import HostKeyError
from mlops_stack.sftp_store.location import SFTPLocation
from mlops_stack.sftp_store.settings import ENV_KNOWN_HOSTS


def _add_hint(location: SFTPLocation, known_hosts: Path) -> str:
    port = f"-p {location.port} " if location.port != 22 else ""
    missing = "" if known_hosts.exists() else f" (the file does not exist; set {ENV_KNOWN_HOSTS})"
    return (
        f"If that fingerprint is the server's (ask its operator), add the key to {known_hosts}{missing}, "
        f"e.g. from `ssh-keyscan {port}{location.host}`."
    )


class RejectUnknownHost(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, with an error that names the host and the presented fingerprint."""

    def __init__(self, location: SFTPLocation, known_hosts: Path) -> None:
        self.location = location
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"unknown SFTP host key: {hostname} presented {key.get_name()} {key.fingerprint}, "
            f"which is not in {self.known_hosts}; refusing to connect. "
            + _add_hint(self.location, self.known_hosts)
        )


def changed_host_key_error(
    location: SFTPLocation, known_hosts: Path, err: paramiko.BadHostKeyException
) -> HostKeyError:
    return HostKeyError(
        f"SFTP host key mismatch: {location.known_hosts_name} presented {err.key.get_name()} "
        f"{err.key.fingerprint}, but {known_hosts} expects {err.expected_key.get_name()} "
        f"{err.expected_key.fingerprint}; refusing to connect. The server was re-keyed or the "
        "connection is being intercepted: confirm with the server's operator, then replace the "
        f"entry for {location.known_hosts_name} in {known_hosts}."
    )

"""The SFTP server's host key for `mlops init` and `mlops doctor`: fetched, checked, trusted, pinned.

The key is fetched with a bare SSH handshake (no login), shown as OpenSSH shows it (`SHA256:...`), and
pinned in an OpenSSH known_hosts file (see mlops_stack.ssh.known_hosts for the naming rule).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import paramiko

from mlops_stack.ssh.connect import HOST_KEY_TYPES, presented_host_key
from mlops_stack.ssh.known_hosts import (
    known_hosts_name,
    normalize_fingerprint,
    pinned_keys,
    read_known_hosts,
)

from .errors import ClientError

CONNECT_TIMEOUT = 10


class Confirmer(Protocol):
    """What deciding on a new key needs from the user interface (the CLI's Asker)."""

    interactive: bool

    def confirm(self, question: str) -> bool: ...


def fetch_host_key(host: str, port: int, key_types: list[str] | None = None) -> paramiko.PKey:
    """The server's host key (of one of `key_types` when given), from a handshake without login."""
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise ClientError(
            f"cannot reach the SFTP server at {host}:{port} ({err.strerror or err})",
            "check --sftp-host and --sftp-port, and that you are on the right network/VPN",
        ) from err
    try:
        return presented_host_key(sock, key_types, CONNECT_TIMEOUT)
    except (paramiko.SSHException, EOFError, OSError) as err:
        raise ClientError(
            f"{host}:{port} did not complete an SSH handshake ({err or type(err).__name__})",
            "check that --sftp-port is the SFTP server's SSH port (the stack uses 2222)",
        ) from err


def pinned_key_list(known_hosts: Path, host: str, port: int) -> list[paramiko.PKey]:
    """Keys pinned for host:port (hashed entries included), empty when none or no file."""
    if not known_hosts.is_file():
        return []
    try:
        host_keys = read_known_hosts(known_hosts)
    except (OSError, paramiko.SSHException) as err:
        raise ClientError(f"cannot read {known_hosts} ({err})", "fix or move that file") from err
    return pinned_keys(host_keys, host, port)


def pinned_key_types(known_hosts: Path, host: str, port: int) -> list[str]:
    return [key.get_name() for key in pinned_key_list(known_hosts, host, port)]


def check_against_pin(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> bool:
    """True when `key` is pinned, False when nothing is pinned yet; a different pinned key is an error."""
    pinned = pinned_key_list(known_hosts, host, port)
    if not pinned:
        return False
    if any(p.fingerprint == key.fingerprint for p in pinned):
        return True
    raise ClientError(
        f"HOST KEY MISMATCH for {host}:{port}: the server presents {key.get_name()} {key.fingerprint} "
        f"but {known_hosts} pins {', '.join(f'{p.get_name()} {p.fingerprint}' for p in pinned)}. "
        "Someone may be intercepting the connection, or the server's key was replaced",
        "confirm the new fingerprint with your platform admin; only then remove the old pin with "
        f"`ssh-keygen -R '{known_hosts_name(host, port)}' -f {known_hosts}` and run `mlops init` again",
    )


def _key_with_fingerprint(host: str, port: int, first: paramiko.PKey, wanted: str) -> list[paramiko.PKey]:
    """All keys the server presents, the first one matching `wanted` (if any) first."""
    presented = [first]
    for key_type in HOST_KEY_TYPES:
        if key_type == first.get_name():
            continue
        try:
            presented.append(fetch_host_key(host, port, [key_type]))
        except ClientError:
            continue  # the server holds no key of that type
    # A server without a key of the requested type may hand out one we already have.
    unique = list({k.fingerprint: k for k in presented}.values())
    return sorted(unique, key=lambda k: normalize_fingerprint(k.fingerprint) != wanted)


def trusted_host_key(
    known_hosts: Path,
    host: str,
    port: int,
    expected: str | None,
    asker: Confirmer,
    say: Callable[[str], None],
) -> tuple[paramiko.PKey, bool]:
    """The server's key once trusted (a given fingerprint, an existing pin, or the user), and whether it
    still has to be pinned.

    A key differing from --host-key-fingerprint or from an existing pin is a hard error.
    """
    key = fetch_host_key(host, port, pinned_key_types(known_hosts, host, port) or None)
    if expected:
        wanted = normalize_fingerprint(expected)
        if normalize_fingerprint(key.fingerprint) != wanted:
            candidates = _key_with_fingerprint(host, port, key, wanted)
            if normalize_fingerprint(candidates[0].fingerprint) != wanted:
                shown = ", ".join(f"{k.get_name()} {k.fingerprint}" for k in candidates)
                raise ClientError(
                    f"HOST KEY MISMATCH for {host}:{port}: expected {expected.strip()} "
                    f"(--host-key-fingerprint) but the server presents {shown}",
                    "check the fingerprint with your platform admin; do not continue until they match",
                )
            key = candidates[0]
    say(f"SFTP host key of {host}:{port}: {key.get_name()} {key.fingerprint}")
    if check_against_pin(known_hosts, host, port, key):
        say(f"  already pinned in {known_hosts}")
        return key, False
    if expected:
        say("  matches --host-key-fingerprint")
        return key, True
    if not asker.interactive:
        raise ClientError(
            f"the SFTP host key of {host}:{port} is not pinned and --yes cannot confirm it",
            f"get the fingerprint from your platform admin and pass --host-key-fingerprint {key.fingerprint} "
            "only if it is the same",
        )
    if not asker.confirm("  Is this the fingerprint your platform admin gave you?"):
        raise ClientError(
            "host key not confirmed; nothing was written", "ask your platform admin for the fingerprint"
        )
    return key, True

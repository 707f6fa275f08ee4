"""SFTP host-key pinning in an OpenSSH known_hosts file.

The key is fetched with a bare SSH handshake (no login), shown as OpenSSH shows it (`SHA256:...`), and
pinned as a `[host]:port keytype base64` line, the form OpenSSH, paramiko and asyncssh all look up.
"""

from __future__ import annotations

import socket
from pathlib import Path

import paramiko

from .errors import CliError

CONNECT_TIMEOUT = 10

# paramiko negotiates by algorithm name; a pinned "ssh-rsa" key is offered as an rsa-sha2-* signature.
_ALGORITHMS_FOR_KEY_TYPE = {"ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256"]}


def known_hosts_name(host: str, port: int) -> str:
    """The host field OpenSSH uses: bare name on port 22, `[host]:port` elsewhere."""
    return host if port == 22 else f"[{host}]:{port}"


def fetch_host_key(host: str, port: int, key_types: list[str] | None = None) -> paramiko.PKey:
    """The server's host key (of one of `key_types` when given), from a handshake without login."""
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise CliError(
            f"cannot reach the SFTP server at {host}:{port} ({err.strerror or err})",
            "check --sftp-host and --sftp-port, and that you are on the right network/VPN",
        ) from err
    transport = paramiko.Transport(sock)
    try:
        if key_types:
            algorithms = [a for t in key_types for a in _ALGORITHMS_FOR_KEY_TYPE.get(t, [t])]
            options = transport.get_security_options()
            options.key_types = [a for a in algorithms if a in options.key_types] or options.key_types
        transport.start_client(timeout=CONNECT_TIMEOUT)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as err:
        raise CliError(
            f"{host}:{port} did not complete an SSH handshake ({err or type(err).__name__})",
            "check that --sftp-port is the SFTP server's SSH port (the stack uses 2222)",
        ) from err
    finally:
        transport.close()


def normalize_fingerprint(text: str) -> str:
    """Accept `SHA256:abc`, `abc` or what `ssh-keygen -lf` prints; compare without base64 padding."""
    token = next((part for part in text.split() if part.startswith("SHA256:")), text.strip())
    if not token.startswith("SHA256:"):
        token = "SHA256:" + token
    return token.rstrip("=")


def pinned_keys(known_hosts: Path, host: str, port: int) -> list[paramiko.PKey]:
    """Keys pinned for host:port (hashed entries included), empty when none or no file."""
    if not known_hosts.is_file():
        return []
    keys = paramiko.HostKeys()
    try:
        keys.load(str(known_hosts))
    except (OSError, paramiko.SSHException) as err:
        raise CliError(f"cannot read {known_hosts} ({err})", "fix or move that file") from err
    entry = keys.lookup(known_hosts_name(host, port))
    return list(entry.values()) if entry else []


def pinned_key_types(known_hosts: Path, host: str, port: int) -> list[str]:
    return [key.get_name() for key in pinned_keys(known_hosts, host, port)]


def check_against_pin(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> bool:
    """True when `key` is pinned, False when nothing is pinned yet; a different pinned key is an error."""
    pinned = pinned_keys(known_hosts, host, port)
    if not pinned:
        return False
    if any(p.fingerprint == key.fingerprint for p in pinned):
        return True
    raise CliError(
        f"HOST KEY MISMATCH for {host}:{port}: the server presents {key.get_name()} {key.fingerprint} "
        f"but {known_hosts} pins {', '.join(f'{p.get_name()} {p.fingerprint}' for p in pinned)}. "
        "Someone may be intercepting the connection, or the server's key was replaced",
        "confirm the new fingerprint with your platform admin; only then remove the old pin with "
        f"`ssh-keygen -R '{known_hosts_name(host, port)}' -f {known_hosts}` and run `mlops init` again",
    )


def pin_host_key(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> None:
    """Append the pin, keeping every other line of the file as it is."""
    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = known_hosts.read_text(encoding="utf-8") if known_hosts.is_file() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    line = f"{known_hosts_name(host, port)} {key.get_name()} {key.get_base64()}\n"
    with known_hosts.open("a", encoding="utf-8") as handle:
        handle.write(separator + line)
    known_hosts.chmod(0o600)

"""OpenSSH known_hosts files: how a server is named in them, reading, pinning and writing entries.

A server is filed under its bare name on port 22 and as `[host]:port` elsewhere, the form OpenSSH,
paramiko and asyncssh all look up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import paramiko

DEFAULT_PORT = 22


def known_hosts_name(host: str, port: int) -> str:
    """The host field OpenSSH uses: bare name on port 22, `[host]:port` elsewhere."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def read_known_hosts(path: Path) -> paramiko.HostKeys:
    """Parse known_hosts (hashed names and `[host]:port` entries included); a missing file is empty.

    Raises OSError or paramiko.SSHException when the file cannot be read or parsed.
    """
    host_keys = paramiko.HostKeys()
    if path.exists():
        host_keys.load(str(path))
    return host_keys


def pinned_keys(host_keys: paramiko.HostKeys, host: str, port: int) -> list[paramiko.PKey]:
    """The keys `host_keys` holds for host:port (empty when none)."""
    entry = host_keys.lookup(known_hosts_name(host, port))
    return list(entry.values()) if entry else []


def entry_line(names: Iterable[str], port: int, public_line: str) -> str:
    """A known_hosts line: every name under the naming rule, comma-separated, then `keytype base64`."""
    return f"{','.join(known_hosts_name(name, port) for name in names)} {public_line}"


def append_pin(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> None:
    """Append the pin for host:port, keeping every other line of the file as it is (mode 0600)."""
    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = known_hosts.read_text(encoding="utf-8") if known_hosts.is_file() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    line = entry_line([host], port, f"{key.get_name()} {key.get_base64()}") + "\n"
    with known_hosts.open("a", encoding="utf-8") as handle:
        handle.write(separator + line)
    known_hosts.chmod(0o600)


def write_read_only(out: Path, lines: list[str]) -> None:
    """Replace `out` atomically with `lines`, mode 0444 (readers never see a half-written file)."""
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.chmod(0o444)
    os.replace(tmp, out)


def normalize_fingerprint(text: str) -> str:
    """Accept `SHA256:abc`, `abc` or what `ssh-keygen -lf` prints; compare without base64 padding."""
    token = next((part for part in text.split() if part.startswith("SHA256:")), text.strip())
    if not token.startswith("SHA256:"):
        token = "SHA256:" + token
    return token.rstrip("=")

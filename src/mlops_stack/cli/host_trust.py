"""Deciding whether to trust the SFTP server's host key: a given fingerprint, an existing pin, or the user."""

from __future__ import annotations

from pathlib import Path

import paramiko

from .errors import CliError
from .hostkeys import check_against_pin, fetch_host_key, normalize_fingerprint, pinned_key_types
from .prompts import Asker

# Each separate handshake can show one key; these cover what OpenSSH servers hold.
_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")


def _key_with_fingerprint(host: str, port: int, first: paramiko.PKey, wanted: str) -> list[paramiko.PKey]:
    """All keys the server presents, the first one matching `wanted` (if any) first."""
    presented = [first]
    for key_type in _KEY_TYPES:
        if key_type == first.get_name():
            continue
        try:
            presented.append(fetch_host_key(host, port, [key_type]))
        except CliError:
            continue  # the server holds no key of that type
    # A server without a key of the requested type may hand out one we already have.
    unique = list({k.fingerprint: k for k in presented}.values())
    return sorted(unique, key=lambda k: normalize_fingerprint(k.fingerprint) != wanted)


def trusted_host_key(
    known_hosts: Path, host: str, port: int, expected: str | None, asker: Asker, say
) -> tuple[paramiko.PKey, bool]:
    """The server's key once trusted, and whether it still has to be pinned.

    A key differing from --host-key-fingerprint or from an existing pin is a hard error.
    """
    key = fetch_host_key(host, port, pinned_key_types(known_hosts, host, port) or None)
    if expected:
        wanted = normalize_fingerprint(expected)
        if normalize_fingerprint(key.fingerprint) != wanted:
            candidates = _key_with_fingerprint(host, port, key, wanted)
            if normalize_fingerprint(candidates[0].fingerprint) != wanted:
                shown = ", ".join(f"{k.get_name()} {k.fingerprint}" for k in candidates)
                raise CliError(
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
        raise CliError(
            f"the SFTP host key of {host}:{port} is not pinned and --yes cannot confirm it",
            f"get the fingerprint from your platform admin and pass --host-key-fingerprint {key.fingerprint} "
            "only if it is the same",
        )
    if not asker.confirm("  Is this the fingerprint your platform admin gave you?"):
        raise CliError(
            "host key not confirmed; nothing was written", "ask your platform admin for the fingerprint"
        )
    return key, True

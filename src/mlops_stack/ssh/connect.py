"""How this project opens SSH sessions: the same options for every login, strict host-key checking."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import paramiko

# Each separate handshake can show one key; these cover what OpenSSH servers hold.
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")
# paramiko negotiates by algorithm name; a pinned "ssh-rsa" key is offered as an rsa-sha2-* signature.
_ALGORITHMS_FOR_KEY_TYPE = {"ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256"]}


def strict_client(
    known_hosts: Path | None, missing_host_key_policy: paramiko.MissingHostKeyPolicy
) -> paramiko.SSHClient:
    """An SSHClient that trusts only the keys of `known_hosts` (None: none yet) and refuses the rest."""
    client = paramiko.SSHClient()
    if known_hosts is not None:
        client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(missing_host_key_policy)
    return client


def login(
    client: paramiko.SSHClient,
    host: str,
    port: int,
    user: str,
    pkey: paramiko.PKey,
    timeout: float,
    sock: socket.socket | None = None,
    transport_factory: Callable[..., paramiko.Transport] | None = None,
) -> None:
    """Log in with `pkey` only: never an SSH agent, never the keys lying in ~/.ssh; one timeout for all."""
    client.connect(
        host,
        port=port,
        username=user,
        pkey=pkey,
        sock=sock,
        timeout=timeout,
        banner_timeout=timeout,
        auth_timeout=timeout,
        allow_agent=False,
        look_for_keys=False,
        transport_factory=transport_factory,
    )


def presented_host_key(sock: socket.socket, key_types: list[str] | None, timeout: float) -> paramiko.PKey:
    """The host key the server on `sock` presents (of one of `key_types` when given), without a login.

    Raises paramiko.SSHException, EOFError or OSError when the handshake fails; closes the transport.
    """
    transport = paramiko.Transport(sock)
    try:
        if key_types:
            algorithms = [a for t in key_types for a in _ALGORITHMS_FOR_KEY_TYPE.get(t, [t])]
            options = transport.get_security_options()
            options.key_types = [a for a in algorithms if a in options.key_types] or options.key_types
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()

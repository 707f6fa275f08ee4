"""Open one tuned, host-key-checked SFTP session (one TCP connection, one SFTP channel)."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass, field

import paramiko
from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

from mlops_stack.sftp_store.channel_buffer import PacketQueuePipe
from mlops_stack.sftp_store.errors import SFTPConnectError, SFTPUnavailable
from mlops_stack.sftp_store.host_key_policy import RejectUnknownHost, changed_host_key_error
from mlops_stack.sftp_store.location import SFTPLocation
from mlops_stack.sftp_store.settings import SFTPSettings
from mlops_stack.ssh.connect import login, strict_client

# A large receive window lets the server stream a whole read-ahead without waiting for window
# adjustments; 256 KiB packets cut per-packet overhead (decrypt, MAC, Python bookkeeping) eightfold.
WINDOW_SIZE = 16 * 1024 * 1024
MAX_PACKET_SIZE = 256 * 1024
# SFTP read/write request size when the server does not announce limits (the protocol's safe value).
FALLBACK_REQUEST_SIZE = 32 * 1024
# OpenSSH announces 255 KiB; larger requests would not speed anything up.
MAX_REQUEST_SIZE = 255 * 1024
# AES-GCM (hardware AES, no separate MAC pass) is the cheapest cipher for paramiko's Python loop.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
KEEPALIVE_SECONDS = 30


def _tuned_transport(sock: socket.socket, **kwargs: object) -> paramiko.Transport:
    transport = paramiko.Transport(
        sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET_SIZE, **kwargs
    )
    options = transport.get_security_options()
    offered = tuple(options.ciphers)
    options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in offered) + tuple(
        c for c in offered if c not in PREFERRED_CIPHERS
    )
    return transport


def _server_request_sizes(sftp: paramiko.SFTPClient) -> tuple[int, int]:
    """(read, write) request sizes from OpenSSH's limits@openssh.com extension, else the safe default.

    paramiko has no public call for SFTP extensions, hence its request primitive.
    """
    try:
        kind, msg = sftp._request(CMD_EXTENDED, "limits@openssh.com")
    except (OSError, paramiko.SFTPError):
        return FALLBACK_REQUEST_SIZE, FALLBACK_REQUEST_SIZE
    if kind != CMD_EXTENDED_REPLY:
        return FALLBACK_REQUEST_SIZE, FALLBACK_REQUEST_SIZE
    msg.get_int64()  # max packet length
    max_read, max_write = msg.get_int64(), msg.get_int64()

    def pick(limit: int) -> int:
        return min(limit, MAX_REQUEST_SIZE) if limit > 0 else FALLBACK_REQUEST_SIZE

    return pick(max_read), pick(max_write)


@dataclass(eq=False)
class SFTPConnection:
    """A logged-in SFTP session plus what this process learned about the server."""

    client: paramiko.SSHClient
    sftp: paramiko.SFTPClient
    read_size: int
    write_size: int
    # Directories known to exist, so uploads skip mkdir round trips.
    known_dirs: set[str] = field(default_factory=set)
    last_used: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        transport = self.client.get_transport()
        return transport is not None and transport.is_active() and not self.sftp.sock.closed

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sftp.close()
        with contextlib.suppress(Exception):
            self.client.close()


def _tcp_socket(location: SFTPLocation, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((location.host, location.port), timeout=timeout)
    except OSError as err:
        where = f"{location.host}:{location.port}"
        raise SFTPUnavailable(f"cannot reach the SFTP server {where}: {err}") from None
    # Each SFTP request is a small packet; Nagle's algorithm would hold it back a round trip.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def _login(location: SFTPLocation, settings: SFTPSettings, pkey: paramiko.PKey) -> paramiko.SSHClient:
    # Re-read on every new connection: a corrected known_hosts needs no server restart.
    client = strict_client(
        settings.known_hosts if settings.known_hosts.exists() else None,
        RejectUnknownHost(location, settings.known_hosts),
    )
    sock = _tcp_socket(location, settings.timeout)
    try:
        login(
            client,
            location.host,
            location.port,
            location.user,
            pkey,
            settings.timeout,
            sock=sock,
            transport_factory=_tuned_transport,
        )
    except paramiko.BadHostKeyException as err:
        client.close()
        raise changed_host_key_error(location, settings.known_hosts, err) from None
    except paramiko.AuthenticationException as err:
        client.close()
        raise SFTPConnectError(
            f"{location.user}@{location.host}:{location.port} refused the key {pkey.get_name()} "
            f"{pkey.fingerprint}: add its public key to that user's authorized_keys ({err})"
        ) from None
    except (paramiko.SSHException, OSError, EOFError) as err:
        client.close()
        if isinstance(err, SFTPConnectError | SFTPUnavailable):
            raise
        raise SFTPUnavailable(
            f"SSH handshake with {location.host}:{location.port} failed: {err or type(err).__name__}"
        ) from None
    except BaseException:
        client.close()
        raise
    return client


def open_connection(location: SFTPLocation, settings: SFTPSettings, pkey: paramiko.PKey) -> SFTPConnection:
    client = _login(location, settings, pkey)
    try:
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(KEEPALIVE_SECONDS)
        channel = transport.open_session(
            window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET_SIZE, timeout=settings.timeout
        )
        channel.in_buffer = PacketQueuePipe()  # before any data arrives; see channel_buffer.py
        channel.settimeout(settings.timeout)
        channel.invoke_subsystem("sftp")
        sftp = paramiko.SFTPClient(channel)
        read_size, write_size = _server_request_sizes(sftp)
    except (paramiko.SSHException, OSError, EOFError) as err:
        client.close()
        raise SFTPUnavailable(
            f"{location.host}:{location.port} accepted the login but not the sftp subsystem: {err}"
        ) from None
    return SFTPConnection(client=client, sftp=sftp, read_size=read_size, write_size=write_size)

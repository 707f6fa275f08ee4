"""Key login to the SFTP server with paramiko, verifying the host key against the pin (never trust-on-use)."""

from __future__ import annotations

from pathlib import Path

import paramiko

from mlops_stack.ssh.connect import login, strict_client
from mlops_stack.ssh.known_hosts import known_hosts_name
from mlops_stack.ssh.private_keys import PassphraseRequired, parse_private_key

from .config import SftpSettings
from .errors import ClientError
from .host_key import CONNECT_TIMEOUT


class PassphraseNeeded(ClientError):
    """The identity file is encrypted: the login cannot be tested without asking for its passphrase."""


def load_identity(path: Path) -> paramiko.PKey:
    """The private key at `path`; an encrypted key raises PassphraseNeeded (DVC will ask for it)."""
    if not path.is_file():
        raise ClientError(
            f"identity file {path} does not exist",
            f"create a key with `ssh-keygen -t ed25519 -f {path}` and send {path}.pub to your platform admin",
        )
    try:
        return parse_private_key(path.read_text())
    except PassphraseRequired as err:
        raise PassphraseNeeded(
            f"identity file {path} is protected by a passphrase",
            "DVC will ask for it (`ask_passphrase` is set); or load it into ssh-agent",
        ) from err
    except (ValueError, OSError) as err:  # PrivateKeyError, or a file that is not text
        raise ClientError(
            f"identity file {path} is not an SSH private key paramiko can read ({err})",
            "pass the private key (not the .pub file) with --identity-file",
        ) from err


def check_key_login(settings: SftpSettings, about_to_pin: paramiko.PKey | None = None) -> str:
    """Log in with the identity file only and open an SFTP session; returns the remote home directory.

    `about_to_pin` is a host key the user has just trusted but that is not written to known_hosts yet.
    """
    key = load_identity(Path(settings.identity_file))
    known_hosts = Path(settings.known_hosts)
    client = strict_client(known_hosts if known_hosts.is_file() else None, paramiko.RejectPolicy())
    name = known_hosts_name(settings.host, settings.port)
    if about_to_pin is not None:
        client.get_host_keys().add(name, about_to_pin.get_name(), about_to_pin)
    try:
        login(client, settings.host, settings.port, settings.user, key, CONNECT_TIMEOUT)
        with client.open_sftp() as sftp:
            return sftp.normalize(".")
    except paramiko.BadHostKeyException as err:
        raise ClientError(
            f"HOST KEY MISMATCH for {settings.host}:{settings.port}: the server presents "
            f"{err.key.fingerprint}, {settings.known_hosts} pins {err.expected_key.fingerprint}",
            "confirm the fingerprint with your platform admin before changing the pin",
        ) from err
    except paramiko.AuthenticationException as err:
        raise ClientError(
            f"the SFTP server refused key {settings.identity_file} for user {settings.user!r}",
            f"ask your platform admin to add {settings.identity_file}.pub to the SFTP authorized keys",
        ) from err
    except paramiko.SSHException as err:
        if "not found in known_hosts" in str(err):
            raise ClientError(
                f"no pinned key for {name} in {settings.known_hosts}",
                "run `mlops init` to pin the SFTP host key",
            ) from err
        raise ClientError(f"SSH to {settings.address} failed ({err})") from err
    except OSError as err:
        raise ClientError(
            f"cannot reach the SFTP server at {settings.host}:{settings.port} ({err.strerror or err})",
            "check the host and port, and that you are on the right network/VPN",
        ) from err
    finally:
        client.close()

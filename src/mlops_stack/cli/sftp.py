"""Key login to the SFTP server with paramiko, verifying the host key against the pin (never trust-on-use)."""

from __future__ import annotations

from pathlib import Path

import paramiko

from .config import SftpSettings
from .errors import CliError
from .hostkeys import CONNECT_TIMEOUT, known_hosts_name


class PassphraseNeeded(CliError):
    """The identity file is encrypted: the login cannot be tested without asking for its passphrase."""


def load_identity(path: Path) -> paramiko.PKey:
    """The private key at `path`; an encrypted key raises PassphraseNeeded (DVC will ask for it)."""
    if not path.is_file():
        raise CliError(
            f"identity file {path} does not exist",
            f"create a key with `ssh-keygen -t ed25519 -f {path}` and send {path}.pub to your platform admin",
        )
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError) as err:
        # New-format OpenSSH keys surface cryptography's TypeError("Key is password-protected ...").
        if isinstance(err, TypeError) and "password" not in str(err):
            raise
        raise PassphraseNeeded(
            f"identity file {path} is protected by a passphrase",
            "DVC will ask for it (`ask_passphrase` is set); or load it into ssh-agent",
        ) from err
    except (paramiko.SSHException, ValueError, OSError) as err:
        raise CliError(
            f"identity file {path} is not an SSH private key paramiko can read ({err})",
            "pass the private key (not the .pub file) with --identity-file",
        ) from err


def check_key_login(settings: SftpSettings, about_to_pin: paramiko.PKey | None = None) -> str:
    """Log in with the identity file only and open an SFTP session; returns the remote home directory.

    `about_to_pin` is a host key the user has just trusted but that is not written to known_hosts yet.
    """
    key = load_identity(Path(settings.identity_file))
    client = paramiko.SSHClient()
    if Path(settings.known_hosts).is_file():
        client.load_system_host_keys(settings.known_hosts)
    if about_to_pin is not None:
        name = known_hosts_name(settings.host, settings.port)
        client.get_host_keys().add(name, about_to_pin.get_name(), about_to_pin)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            settings.host,
            port=settings.port,
            username=settings.user,
            pkey=key,
            look_for_keys=False,
            allow_agent=False,
            timeout=CONNECT_TIMEOUT,
            banner_timeout=CONNECT_TIMEOUT,
            auth_timeout=CONNECT_TIMEOUT,
        )
        with client.open_sftp() as sftp:
            return sftp.normalize(".")
    except paramiko.BadHostKeyException as err:
        raise CliError(
            f"HOST KEY MISMATCH for {settings.host}:{settings.port}: the server presents "
            f"{err.key.fingerprint}, {settings.known_hosts} pins {err.expected_key.fingerprint}",
            "confirm the fingerprint with your platform admin before changing the pin",
        ) from err
    except paramiko.AuthenticationException as err:
        raise CliError(
            f"the SFTP server refused key {settings.identity_file} for user {settings.user!r}",
            f"ask your platform admin to add {settings.identity_file}.pub to the SFTP authorized keys",
        ) from err
    except paramiko.SSHException as err:
        if "not found in known_hosts" in str(err):
            name = known_hosts_name(settings.host, settings.port)
            raise CliError(
                f"no pinned key for {name} in {settings.known_hosts}",
                "run `mlops init` to pin the SFTP host key",
            ) from err
        raise CliError(f"SSH to {settings.address} failed ({err})") from err
    except OSError as err:
        raise CliError(
            f"cannot reach the SFTP server at {settings.host}:{settings.port} ({err.strerror or err})",
            "check the host and port, and that you are on the right network/VPN",
        ) from err
    finally:
        client.close()

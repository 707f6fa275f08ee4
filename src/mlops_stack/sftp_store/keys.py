"""Load the client's private key (ed25519, ECDSA or RSA) from text or a file, with an optional passphrase."""

from __future__ import annotations

import io

import paramiko

from mlops_stack.sftp_store.errors import SFTPConfigError
from mlops_stack.sftp_store.settings import ENV_KEY, ENV_KEY_PASSPHRASE, SFTPSettings

# paramiko >= 4 has no DSA; these are the key types OpenSSH still generates.
KEY_TYPES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def _is_encrypted(text: str) -> bool:
    for key_type in KEY_TYPES:
        try:
            key_type.from_private_key(io.StringIO(text), password=None)
        except paramiko.PasswordRequiredException:
            return True
        except (paramiko.SSHException, ValueError):
            continue
    return False


def _parse(text: str, passphrase: str | None, source: str) -> paramiko.PKey:
    problems = []
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise SFTPConfigError(
                f"the private key from {source} is encrypted: set {ENV_KEY_PASSPHRASE}"
            ) from None
        except (paramiko.SSHException, ValueError) as err:
            problems.append(f"{key_type.__name__}: {err}")
    if passphrase and _is_encrypted(text):
        raise SFTPConfigError(f"cannot decrypt the private key from {source}: check {ENV_KEY_PASSPHRASE}")
    raise SFTPConfigError(
        f"cannot read the private key from {source} as ed25519, ECDSA or RSA ({'; '.join(problems)})"
    )


def load_private_key(settings: SFTPSettings) -> paramiko.PKey:
    if settings.key_text:
        return _parse(settings.key_text + "\n", settings.passphrase, f"${ENV_KEY}")
    assert settings.key_file is not None  # load_settings guarantees one of the two
    try:
        text = settings.key_file.read_text()
    except OSError as err:
        raise SFTPConfigError(f"cannot read the private key file {settings.key_file}: {err}") from None
    return _parse(text, settings.passphrase, str(settings.key_file))

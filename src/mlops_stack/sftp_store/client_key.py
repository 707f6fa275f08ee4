"""Load the client's private key (ed25519, ECDSA or RSA) from text or a file, with an optional passphrase."""

from __future__ import annotations

import paramiko

from mlops_stack.sftp_store.errors import SFTPConfigError
from mlops_stack.sftp_store.settings import ENV_KEY, ENV_KEY_PASSPHRASE, SFTPSettings
from mlops_stack.ssh.private_keys import PassphraseRequired, UnreadableKey, WrongPassphrase, parse_private_key


def _parse(text: str, passphrase: str | None, source: str) -> paramiko.PKey:
    try:
        return parse_private_key(text, passphrase)
    except PassphraseRequired:
        raise SFTPConfigError(
            f"the private key from {source} is encrypted: set {ENV_KEY_PASSPHRASE}"
        ) from None
    except WrongPassphrase:
        raise SFTPConfigError(
            f"cannot decrypt the private key from {source}: check {ENV_KEY_PASSPHRASE}"
        ) from None
    except UnreadableKey as err:
        raise SFTPConfigError(
            f"cannot read the private key from {source} as ed25519, ECDSA or RSA ({'; '.join(err.problems)})"
        ) from None


def load_private_key(settings: SFTPSettings) -> paramiko.PKey:
    if settings.key_text:
        return _parse(settings.key_text + "\n", settings.passphrase, f"${ENV_KEY}")
    assert settings.key_file is not None  # load_settings guarantees one of the two
    try:
        text = settings.key_file.read_text()
    except OSError as err:
        raise SFTPConfigError(f"cannot read the private key file {settings.key_file}: {err}") from None
    return _parse(text, settings.passphrase, str(settings.key_file))

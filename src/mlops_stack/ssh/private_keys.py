"""Private SSH keys: every type paramiko reads (ed25519, ECDSA, RSA), with an optional passphrase.

Errors are PrivateKeyError subclasses without a source in their text: each caller names where the key
came from and what to set, in its own words.
"""

from __future__ import annotations

import io

import paramiko

# paramiko >= 4 has no DSA; these are the key types OpenSSH still generates.
KEY_TYPES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


class PrivateKeyError(ValueError):
    """The text is not a private key that can be used as given."""


class PassphraseRequired(PrivateKeyError):
    """The key is encrypted and no passphrase was given."""


class WrongPassphrase(PrivateKeyError):
    """The key is encrypted and the passphrase given does not decrypt it."""


class UnreadableKey(PrivateKeyError):
    """No key type could read the text; `problems` says what each one objected to."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def is_encrypted(text: str) -> bool:
    for key_type in KEY_TYPES:
        try:
            key_type.from_private_key(io.StringIO(text), password=None)
        except paramiko.PasswordRequiredException:
            return True
        except (paramiko.SSHException, ValueError):
            continue
    return False


def parse_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    """The key in `text` (PEM or OpenSSH format), decrypted with `passphrase` when it is encrypted."""
    problems = []
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise PassphraseRequired("the private key is encrypted") from None
        except (paramiko.SSHException, ValueError) as err:
            problems.append(f"{key_type.__name__}: {err}")
    if passphrase and is_encrypted(text):
        raise WrongPassphrase("the passphrase does not decrypt the private key")
    raise UnreadableKey(problems)


def public_line(private_key: bytes) -> str:
    """`keytype base64` of the key's public half, as `ssh-keygen -y` prints it (unencrypted keys).

    Read with `cryptography` (paramiko's own backend) rather than paramiko, so that PKCS#8 PEM keys
    are read as well as OpenSSH and traditional PEM ones: host keys come from wherever the operator
    made them.
    """
    from cryptography.hazmat.primitives import serialization

    if b"OPENSSH PRIVATE KEY" in private_key:
        key = serialization.load_ssh_private_key(private_key, password=None)
    else:
        key = serialization.load_pem_private_key(private_key, password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )

"""The SHA256 fingerprint of a private key's public half, as `ssh-keygen -l` prints it."""

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.ssh.private_keys import PrivateKeyError, parse_private_key


def ssh_fingerprint(private_key: bytes) -> str:
    try:
        return parse_private_key(private_key.decode()).fingerprint
    except PrivateKeyError:
        raise LocalRunError("the value is not an unencrypted ECDSA, Ed25519 or RSA private key") from None

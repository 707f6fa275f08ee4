"""The SHA256 fingerprint of a private key's public half, as `ssh-keygen -l` prints it."""

import io

import paramiko

from mlops_stack.localrun.errors import LocalRunError


def ssh_fingerprint(private_key: bytes) -> str:
    text = private_key.decode()
    for key_class in (paramiko.ECDSAKey, paramiko.Ed25519Key, paramiko.RSAKey):
        try:
            key = key_class.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
        return key.fingerprint
    raise LocalRunError("the value is not an unencrypted ECDSA, Ed25519 or RSA private key")

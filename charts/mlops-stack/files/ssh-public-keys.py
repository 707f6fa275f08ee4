"""Write known_hosts or authorized_keys lines derived from PEM/OpenSSH private keys.

Why not `ssh-keygen -y`: it refuses to run for a UID without a passwd entry, which is what OpenShift
gives every pod. `cryptography` (a dependency of paramiko in the MLflow image) needs none.

    ssh-public-keys.py known-hosts --out FILE --names '[h]:2222,[h2]:2222' KEY...
    ssh-public-keys.py authorized-keys --out FILE --key KEY [--append FILE...]
"""

import argparse
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization


def public_line(path: Path) -> str:
    data = path.read_bytes()
    if b"OPENSSH PRIVATE KEY" in data:
        key = serialization.load_ssh_private_key(data, password=None)
    else:
        key = serialization.load_pem_private_key(data, password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def write_atomically(out: Path, lines: list[str]) -> None:
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.chmod(0o444)
    os.replace(tmp, out)


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    known = sub.add_parser("known-hosts")
    known.add_argument("--out", type=Path, required=True)
    known.add_argument("--names", required=True)
    known.add_argument("keys", type=Path, nargs="+")
    authorized = sub.add_parser("authorized-keys")
    authorized.add_argument("--out", type=Path, required=True)
    authorized.add_argument("--key", type=Path, required=True)
    authorized.add_argument("--append", type=Path, nargs="*", default=[])
    args = parser.parse_args()

    if args.mode == "known-hosts":
        keys = [k for k in args.keys if k.is_file()]
        if not keys:
            print(f"error: no host key among {', '.join(map(str, args.keys))}", file=sys.stderr)
            return 1
        write_atomically(args.out, [f"{args.names} {public_line(k)}" for k in keys])
    else:
        # No key options: the server's sshd_config already forces internal-sftp without forwarding or
        # pty for every key, and the image accepts only lines that start with the key type.
        lines = [f"{public_line(args.key)} mlflow-server"]
        for extra in args.append:
            if extra.is_file():
                lines += [ln.strip() for ln in extra.read_text().splitlines() if ln.strip()]
        write_atomically(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

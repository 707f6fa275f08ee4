"""Write known_hosts or authorized_keys lines derived from PEM/OpenSSH private keys.

Run by the chart's init containers with the MLflow image's python3:

    python3 -m mlops_stack.ssh known-hosts --out FILE --port PORT --names NAME1,NAME2,... KEY...
    python3 -m mlops_stack.ssh authorized-keys --out FILE [--key KEY] [--extra-key KEY...] [--append FILE...]

known-hosts files every key under every name by the `[host]:port` rule (names are given without
brackets); missing key files are skipped, but at least one must exist. authorized-keys lists MLflow's
key (--key, comment `mlflow-server`: the only line of its own store's sshd; the DVC store's sshd is
given no --key, so MLflow's key reaches no DVC data), then each --extra-key (comment: its file name,
e.g. `prefect-worker`), then the lines of the --append files. Both write the file atomically, mode 0444.
Why not `ssh-keygen -y`: it refuses to run for a UID without a passwd entry, which is what OpenShift
gives every pod.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops_stack.ssh.known_hosts import entry_line, write_read_only
from mlops_stack.ssh.private_keys import public_line


def _public_line(path: Path) -> str:
    return public_line(path.read_bytes())


def known_hosts(out: Path, port: int, names: list[str], keys: list[Path]) -> int:
    present = [k for k in keys if k.is_file()]
    if not present:
        print(f"error: no host key among {', '.join(map(str, keys))}", file=sys.stderr)
        return 1
    write_read_only(out, [entry_line(names, port, _public_line(k)) for k in present])
    return 0


def authorized_keys(out: Path, key: Path | None, extra_keys: list[Path], append: list[Path]) -> int:
    # No key options: the server's sshd_config already forces internal-sftp without forwarding or
    # pty for every key, and the image accepts only lines that start with the key type.
    lines = [] if key is None else [f"{_public_line(key)} mlflow-server"]
    lines += [f"{_public_line(extra)} {extra.name}" for extra in extra_keys]
    for extra in append:
        if extra.is_file():
            lines += [ln.strip() for ln in extra.read_text().splitlines() if ln.strip()]
    write_read_only(out, lines)
    return 0


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(c in name for name in names for c in "[] "):
        raise argparse.ArgumentTypeError(f"expected host names without brackets, got {text!r}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m mlops_stack.ssh", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    known = sub.add_parser("known-hosts", help="known_hosts lines for the SFTP server's host keys")
    known.add_argument("--out", type=Path, required=True)
    known.add_argument("--port", type=int, required=True)
    known.add_argument("--names", type=_names, required=True, help="comma-separated, without brackets")
    known.add_argument("keys", type=Path, nargs="+", metavar="KEY")
    authorized = sub.add_parser("authorized-keys", help="authorized_keys for MLflow's key and/or others")
    authorized.add_argument("--out", type=Path, required=True)
    authorized.add_argument("--key", type=Path, help="MLflow's private key")
    authorized.add_argument(
        "--extra-key", type=Path, action="append", default=[], help="another client's key, e.g. the worker's"
    )
    authorized.add_argument("--append", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)
    if args.mode == "known-hosts":
        return known_hosts(args.out, args.port, args.names, args.keys)
    return authorized_keys(args.out, args.key, args.extra_key, args.append)


if __name__ == "__main__":
    sys.exit(main())

"""The `mlops` command: `init` configures a data scientist's machine, `doctor` checks it, `env` exports it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..client.errors import ClientError
from ..client.library_logs import silence_library_logs
from . import doctor, env, init

DESCRIPTION = """\
Bootstrap a data scientist's machine for the team's MLOps stack
(MLflow tracking + registry, an SFTP server for data and models, DVC, Prefect).

  mlops init     configure MLflow credentials, the SFTP host key, the DVC remote, Prefect
  mlops doctor   check all of it against the real servers, one line per check
  mlops env      print `export` lines for shells and CI jobs

Run `mlops <command> --help` for the details of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in (init, doctor, env):
        command.add_parser(subparsers)
    return parser


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 failed check or error, 2 usage)."""
    args = build_parser().parse_args(argv)
    silence_library_logs()
    try:
        return args.handler(args)
    except ClientError as err:
        print(f"mlops {argv_command(args)}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; nothing more was written", file=sys.stderr)
        return 130


def argv_command(args: argparse.Namespace) -> str:
    return args.handler.__module__.rsplit(".", 1)[-1]


def main() -> None:
    sys.exit(cli())

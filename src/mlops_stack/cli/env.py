"""`mlops env`: the settings as `export` lines, for `eval "$(mlops env)"` in shells and CI jobs."""

from __future__ import annotations

import argparse
import shlex

from ..client import config as cfg
from ..client.credentials import current_login
from ..client.errors import ClientError

HELP = "Print export lines (MLFLOW_TRACKING_URI, ...) for shells and CI jobs."
DESCRIPTION = """\
Print the settings `mlops init` saved as shell `export` lines:

  eval "$(mlops env)"

MLFLOW_TRACKING_URI and MLFLOW_TRACKING_USERNAME always; PREFECT_API_URL when configured.
The password is NOT printed by default: on this machine MLflow reads it from
~/.mlflow/credentials. For a CI job or container without that file, --with-secrets also
prints MLFLOW_TRACKING_PASSWORD; keep that output out of logs (use a masked CI variable).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--with-secrets",
        action="store_true",
        help="also print MLFLOW_TRACKING_PASSWORD (from your MLflow login)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    conf = cfg.load_config()
    if conf is None:
        raise ClientError(f"no settings in {cfg.config_path()}", "run `mlops init` first")
    username, password = current_login()
    values = {
        "MLFLOW_TRACKING_URI": cfg.tracking_uri(conf) or conf.tracking_uri,
        "MLFLOW_TRACKING_USERNAME": username or conf.username,
    }
    if args.with_secrets:
        if not password:
            raise ClientError("no MLflow password stored", "run `mlops init`")
        values["MLFLOW_TRACKING_PASSWORD"] = password
    if prefect := cfg.prefect_api_url(conf):
        values["PREFECT_API_URL"] = prefect
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0

"""`mlops init`: check everything first, then write MLflow's credentials, the host-key pin, the DVC
remote, the Prefect profile and the mlops config. Nothing is written when a check fails."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..client import config as cfg
from ..client.credentials import credentials_path, env_overrides, save_credentials
from ..client.dvc_project_path import DVC_BASE, project_remote_path
from ..client.dvc_remote import committed_remote_path, configure_remote, find_dvc_root
from ..client.errors import ClientError
from ..client.host_key import trusted_host_key
from ..client.prefect_api import server_version as prefect_version
from ..client.prefect_profile import auth_string as saved_auth_string
from ..client.prefect_profile import require_prefect, set_prefect_api
from ..client.sftp_login import PassphraseNeeded, check_key_login
from ..client.tracking_server import check_health, server_version
from ..ssh.known_hosts import append_pin
from .prompts import Asker

HELP = "Configure MLflow, the SFTP host key, the DVC remote and Prefect on this machine."
DESCRIPTION = """\
Configure this machine for the team's MLOps stack, in one go:

  1. checks the MLflow login against the tracking server, then stores it in
     ~/.mlflow/credentials (mode 0600), the file MLflow itself reads;
  2. fetches the SFTP server's host key, shows its SHA256 fingerprint and pins it in
     ~/.ssh/known_hosts once you confirm it (or --host-key-fingerprint matches);
     a key that differs from the fingerprint or from an existing pin stops everything;
  3. checks that your SSH key can log in to the SFTP server;
  4. inside a DVC project: adds or updates the DVC ssh remote (URL in .dvc/config,
     your key file in .dvc/config.local), leaving other remotes alone;
  5. with --prefect-api-url: checks the Prefect API with the stack's auth string, then sets
     PREFECT_API_URL and PREFECT_API_AUTH_STRING in your active Prefect profile (mode 0600).

Nothing is written unless every check passes. Without flags, every value is asked
for; the password is read without echo. Run it again at any time: it updates.
"""
EPILOG = """\
examples:
  mlops init
  echo "$PASSWORD" | mlops init --tracking-uri https://mlflow.example.org --username alice \\
      --password-stdin --sftp-host sftp.example.org --sftp-port 2222 --sftp-user mlops \\
      --identity-file ~/.ssh/id_ed25519 --host-key-fingerprint SHA256:... --yes
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mlflow = parser.add_argument_group("MLflow")
    mlflow.add_argument(
        "--tracking-uri", metavar="URL", help="the MLflow server URL (env MLFLOW_TRACKING_URI)"
    )
    mlflow.add_argument("--username", metavar="USER", help="your MLflow user (env MLFLOW_TRACKING_USERNAME)")
    mlflow.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input "
        "(else env MLFLOW_TRACKING_PASSWORD, else asked without echo)",
    )
    sftp = parser.add_argument_group("SFTP server (datasets and models, the DVC remote)")
    sftp.add_argument("--sftp-host", metavar="HOST", help="leave out to skip the SFTP and DVC steps")
    sftp.add_argument("--sftp-port", metavar="PORT", type=int, help=f"default {cfg.DEFAULT_SFTP_PORT}")
    sftp.add_argument("--sftp-user", metavar="USER", help=f"default {cfg.DEFAULT_SFTP_USER}")
    sftp.add_argument(
        "--identity-file", metavar="PATH", help="your SSH private key (default ~/.ssh/id_ed25519)"
    )
    sftp.add_argument(
        "--host-key-fingerprint",
        metavar="SHA256:...",
        help="the fingerprint your platform admin gave you; pins the key without asking",
    )
    sftp.add_argument(
        "--known-hosts", metavar="PATH", help="known_hosts file for the pin (default ~/.ssh/known_hosts)"
    )
    dvc = parser.add_argument_group("DVC")
    dvc.add_argument("--dvc-remote-name", metavar="NAME", help=f"default {cfg.DEFAULT_DVC_REMOTE_NAME}")
    dvc.add_argument(
        "--dvc-remote-path",
        metavar="PATH",
        help=f"directory on the SFTP server; default: the one already in .dvc/config, else one per project, "
        f"{DVC_BASE}/<Git remote origin's path, or the folder name>",
    )
    prefect = parser.add_argument_group("Prefect")
    prefect.add_argument("--prefect-api-url", metavar="URL", help="e.g. https://prefect.example.org/api")
    prefect.add_argument(
        "--prefect-auth-string-file",
        metavar="PATH",
        help="file holding the stack's Prefect auth string, user:password (else env PREFECT_API_AUTH_STRING, "
        "else the one in your Prefect profile)",
    )
    prefect.add_argument(
        "--prefect-work-pool",
        metavar="NAME",
        help=f"the stack's work pool, checked by `mlops doctor` (default {cfg.DEFAULT_PREFECT_WORK_POOL})",
    )
    parser.add_argument(
        "--yes", "-y", action="store_true", help="never ask: take flags, environment and saved values only"
    )
    parser.set_defaults(handler=run)


def _say(text: str) -> None:
    print(text, flush=True)


def _read_password(args: argparse.Namespace, asker: Asker) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ClientError(
                "--password-stdin read an empty line", 'pipe the password in: echo "$PW" | mlops init ...'
            )
        return password
    if os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        return os.environ["MLFLOW_TRACKING_PASSWORD"]
    return asker.secret("MLflow password", "--password-stdin")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ClientError(f"SFTP port {text!r} is not a port number", "give a number such as 2222")
    return int(text)


def _prefect_auth_string(args: argparse.Namespace) -> str | None:
    if args.prefect_auth_string_file:
        try:
            auth = Path(args.prefect_auth_string_file).expanduser().read_text().strip()
        except OSError as err:
            raise ClientError(
                f"cannot read --prefect-auth-string-file {args.prefect_auth_string_file} ({err.strerror})",
                "give the file holding the auth string (user:password) your platform admin gave you",
            ) from err
    else:
        auth = saved_auth_string()
    if auth and ":" not in auth:
        raise ClientError(
            "the Prefect auth string has no ':'", "it looks like user:password (the stack's prefect.auth)"
        )
    return auth or None


def _gather(args: argparse.Namespace, asker: Asker) -> tuple[cfg.ClientConfig, str]:
    saved = cfg.load_config()
    uri = asker.value(
        "MLflow tracking URL",
        args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"),
        saved.tracking_uri if saved else None,
        "--tracking-uri",
    ).rstrip("/")
    if not uri.startswith(("http://", "https://")):
        raise ClientError(
            f"tracking URL {uri!r} is not http(s)", "pass the server's URL, e.g. https://mlflow.example.org"
        )
    username = asker.value(
        "MLflow username",
        args.username or os.environ.get("MLFLOW_TRACKING_USERNAME"),
        saved.username if saved else None,
        "--username",
    )
    password = _read_password(args, asker)
    conf = cfg.ClientConfig(tracking_uri=uri, username=username)
    old_sftp = saved.sftp if saved else None
    host = asker.value(
        "SFTP host", args.sftp_host, old_sftp.host if old_sftp else None, "--sftp-host", required=False
    )
    if host:
        default_key = Path.home() / ".ssh" / "id_ed25519"
        port = args.sftp_port or _port(
            asker.value(
                "SFTP port", None, str(old_sftp.port if old_sftp else cfg.DEFAULT_SFTP_PORT), "--sftp-port"
            )
        )
        user = asker.value(
            "SFTP user", args.sftp_user, old_sftp.user if old_sftp else cfg.DEFAULT_SFTP_USER, "--sftp-user"
        )
        identity = asker.value(
            "SSH private key",
            args.identity_file,
            old_sftp.identity_file if old_sftp else str(default_key),
            "--identity-file",
        )
        known_hosts = args.known_hosts or (
            old_sftp.known_hosts if old_sftp else str(cfg.default_known_hosts())
        )
        conf.sftp = cfg.SftpSettings(
            host=host,
            port=port,
            user=user,
            identity_file=str(Path(identity).expanduser().resolve()),
            known_hosts=str(Path(known_hosts).expanduser().resolve()),
        )
    conf.dvc_remote_name = args.dvc_remote_name or (
        saved.dvc_remote_name if saved else cfg.DEFAULT_DVC_REMOTE_NAME
    )
    conf.prefect_api_url = args.prefect_api_url or (saved.prefect_api_url if saved else None)
    if conf.prefect_api_url and not conf.prefect_api_url.startswith(("http://", "https://")):
        raise ClientError(
            f"Prefect API URL {conf.prefect_api_url!r} is not http(s)",
            "pass the API URL, e.g. https://prefect.example.org/api",
        )
    conf.prefect_work_pool = args.prefect_work_pool or (
        saved.prefect_work_pool if saved else cfg.DEFAULT_PREFECT_WORK_POOL
    )
    return conf, password


def run(args: argparse.Namespace) -> int:
    asker = Asker(interactive=not args.yes)
    conf, password = _gather(args, asker)

    # ---- checks: nothing is written before all of them pass
    check_health(conf.tracking_uri)
    version = server_version(conf.tracking_uri, conf.username, password)
    _say(f"MLflow {version} at {conf.tracking_uri} accepted user {conf.username!r}")
    host_key, must_pin, ask_passphrase = None, False, False
    if conf.sftp:
        sftp = conf.sftp
        host_key, must_pin = trusted_host_key(
            Path(sftp.known_hosts), sftp.host, sftp.port, args.host_key_fingerprint, asker, _say
        )
        try:
            home = check_key_login(sftp, about_to_pin=host_key)
            _say(f"SSH key {sftp.identity_file} logs in to {sftp.address} (home {home})")
        except PassphraseNeeded as note:
            ask_passphrase = True
            _say(f"{note.message}: login not tested now; {note.fix}")
    else:
        _say("SFTP: skipped (no --sftp-host): DVC is not configured")
    prefect_auth = None
    if conf.prefect_api_url:
        require_prefect()
        prefect_auth = _prefect_auth_string(args)
        version = prefect_version(conf.prefect_api_url, prefect_auth)
        login = "accepted the auth string" if prefect_auth else "answers without an auth string"
        _say(f"Prefect {version} at {conf.prefect_api_url} {login}")

    # ---- writes
    _say(f"saved the MLflow login in {save_credentials(conf.username, password)} (mode 0600)")
    if overrides := env_overrides():
        _say(f"  note: {' and '.join(overrides)} set in your environment win over {credentials_path()}")
    if conf.sftp and host_key is not None and must_pin:
        append_pin(Path(conf.sftp.known_hosts), conf.sftp.host, conf.sftp.port, host_key)
        _say(f"pinned {host_key.get_name()} {host_key.fingerprint} in {conf.sftp.known_hosts}")
    if conf.sftp:
        _configure_dvc(conf, args.dvc_remote_path, ask_passphrase)
    if conf.prefect_api_url:
        profile = set_prefect_api(conf.prefect_api_url, prefect_auth)
        _say(f"Prefect profile {profile!r}: PREFECT_API_URL = {conf.prefect_api_url}")
        if prefect_auth:
            _say("Prefect profile: PREFECT_API_AUTH_STRING saved (profiles file mode 0600)")
    _say(f"saved settings in {conf.save()}")
    _say("next: `mlops doctor` checks everything end to end")
    return 0


def _configure_dvc(conf: cfg.ClientConfig, path_flag: str | None, ask_passphrase: bool) -> None:
    assert conf.sftp is not None
    root = find_dvc_root(Path.cwd())
    if root is None:
        _say(
            f"DVC: skipped, no DVC repository at or above {Path.cwd()} "
            "(in your project run `dvc init`, then `mlops init` again)"
        )
        return
    try:
        where = project_remote_path(root, path_flag, committed_remote_path(root, conf.dvc_remote_name))
        _say(f"DVC: remote directory {where.path} ({where.reason})")
        for line in configure_remote(root, conf.dvc_remote_name, conf.sftp, where.path, ask_passphrase):
            _say(f"DVC: {line}")
    except ClientError as err:
        if "not installed" not in err.message:
            raise
        _say(f"DVC: skipped, {err.message} ({err.fix})")
        return
    if _has_uncommitted_dvc_config(root):
        _say("DVC: commit .dvc/config so your team shares the remote")


def _has_uncommitted_dvc_config(root: Path) -> bool:
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    return bool(repo.git.status("--porcelain", "--", str(root / ".dvc" / "config")).strip())

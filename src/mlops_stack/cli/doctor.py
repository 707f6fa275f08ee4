"""`mlops doctor`: every part of the set-up checked for real, one line each, non-zero exit on any FAIL."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from ..client import config as cfg
from ..client.credentials import current_login, env_overrides
from ..client.dvc_remote import find_dvc_root, read_remote, remote_url
from ..client.errors import ClientError
from ..client.host_key import check_against_pin, fetch_host_key, pinned_key_types
from ..client.prefect_api import live_workers
from ..client.prefect_api import server_version as prefect_version
from ..client.prefect_profile import auth_string as prefect_auth_string
from ..client.sftp_login import PassphraseNeeded, check_key_login
from ..client.tracking_server import LoginRejected, check_health, server_version
from .checks import FAIL, OK, SKIP, CheckResult

HELP = "Check the MLflow login, artifacts, SFTP host key and key login, DVC remote, Git and Prefect."
DESCRIPTION = """\
Check every part of your set-up against the real servers and print one line per check:

  OK    it works;
  FAIL  it does not, followed by what to do (the exit status is then 1);
  SKIP  not applicable here (e.g. not inside a DVC project).

Checks, in order: the tracking server answers /health; it accepts your login (and its
version); an artifact goes up to the server and comes back identical (a throwaway run in
your experiment mlops-doctor-<user>, deleted afterwards); the SFTP server presents the
pinned host key; your SSH key logs in; the DVC remote points at that SFTP server; Git has
no uncommitted changes (tracked files, new *.dvc files: what tracked_run refuses); the
Prefect API answers and accepts the auth string, and the stack's work pool has a live
worker (both only when Prefect is configured). Run it from your project directory.

DVC's ssh remote (dvc-ssh -> sshfs -> asyncssh) does NOT verify the server's host key:
sshfs connects with known_hosts=None. This command and `mlops init` are where the pinned
key is checked, so run `mlops doctor` before `dvc push` when anything changed.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    results = []
    for result in _all_checks(cfg.load_config()):
        print(result.line(), flush=True)
        results.append(result)
    failed = [r for r in results if r.status == FAIL]
    print(f"{len(failed)} check(s) failed" if failed else "all checks passed")
    return 1 if failed else 0


def _all_checks(conf: cfg.ClientConfig | None) -> Iterator[CheckResult]:
    if conf is None:
        yield CheckResult(FAIL, "config", f"no {cfg.config_path()}", "run `mlops init`")
        return
    yield from _mlflow_checks(conf)
    yield from _sftp_checks(conf)
    yield _dvc_check(conf)
    yield _git_check()
    yield from _prefect_checks(conf)


def _mlflow_checks(conf: cfg.ClientConfig) -> Iterator[CheckResult]:
    uri = cfg.tracking_uri(conf) or conf.tracking_uri
    try:
        check_health(uri)
    except ClientError as err:
        yield CheckResult(FAIL, "tracking server", err.message, err.fix)
        yield CheckResult(SKIP, "login", "needs the tracking server")
        yield CheckResult(SKIP, "artifacts", "needs the tracking server")
        return
    username, password = current_login()
    try:
        version = server_version(uri, username, password)
    except LoginRejected as err:
        yield CheckResult(OK, "tracking server", f"{uri} answers /health")
        fix = err.fix or ""
        if overrides := env_overrides():
            fix += f"; note {' and '.join(overrides)} in your environment override ~/.mlflow/credentials"
        yield CheckResult(FAIL, "login", err.message, fix)
        yield CheckResult(SKIP, "artifacts", "needs a working login")
        return
    except ClientError as err:
        yield CheckResult(FAIL, "tracking server", err.message, err.fix)
        yield CheckResult(SKIP, "login", "needs the tracking server")
        yield CheckResult(SKIP, "artifacts", "needs the tracking server")
        return
    yield CheckResult(OK, "tracking server", f"{uri} answers, MLflow {version}")
    yield CheckResult(OK, "login", f"user {username!r} accepted")
    yield _artifact_check(uri, username or "")


def _artifact_check(uri: str, username: str) -> CheckResult:
    from mlflow.exceptions import MlflowException

    from ..client.roundtrip import artifact_round_trip

    try:
        return CheckResult(OK, "artifacts", artifact_round_trip(uri, username))
    except (MlflowException, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        return CheckResult(
            FAIL,
            "artifacts",
            f"artifact round-trip failed: {first}",
            "the server cannot store artifacts or you lack permission: send this line to your admin",
        )


def _sftp_checks(conf: cfg.ClientConfig) -> Iterator[CheckResult]:
    sftp = conf.sftp
    if sftp is None:
        yield CheckResult(SKIP, "sftp host key", "no SFTP server configured (`mlops init --sftp-host ...`)")
        yield CheckResult(SKIP, "sftp key login", "no SFTP server configured")
        return
    known_hosts = Path(sftp.known_hosts)
    try:
        key = fetch_host_key(
            sftp.host, sftp.port, pinned_key_types(known_hosts, sftp.host, sftp.port) or None
        )
        if not check_against_pin(known_hosts, sftp.host, sftp.port, key):
            raise ClientError(
                f"no key pinned for {sftp.host}:{sftp.port} in {known_hosts}", "run `mlops init`"
            )
    except ClientError as err:
        yield CheckResult(FAIL, "sftp host key", err.message, err.fix)
        yield CheckResult(SKIP, "sftp key login", "needs a verified host key")
        return
    yield CheckResult(
        OK, "sftp host key", f"{sftp.host}:{sftp.port} presents the pinned {key.get_name()} {key.fingerprint}"
    )
    try:
        home = check_key_login(sftp)
        yield CheckResult(OK, "sftp key login", f"{sftp.address} with {sftp.identity_file} (home {home})")
    except PassphraseNeeded as err:
        yield CheckResult(SKIP, "sftp key login", f"{err.message}; not tested without it")
    except ClientError as err:
        yield CheckResult(FAIL, "sftp key login", err.message, err.fix)


def _dvc_check(conf: cfg.ClientConfig) -> CheckResult:
    root = find_dvc_root(Path.cwd())
    if root is None:
        return CheckResult(SKIP, "dvc remote", f"no DVC project at or above {Path.cwd()}")
    if conf.sftp is None:
        return CheckResult(SKIP, "dvc remote", "no SFTP server configured")
    name = conf.dvc_remote_name
    try:
        state = read_remote(root, name)
    except ClientError as err:
        return CheckResult(FAIL, "dvc remote", err.message, err.fix)
    if not state.url:
        return CheckResult(FAIL, "dvc remote", f"remote {name!r} does not exist", "run `mlops init` here")
    # The directory is the project's own (see client/dvc_project_path); the server part must be ours.
    expected = remote_url(conf.sftp, urlsplit(state.url).path)
    if state.url != expected:
        return CheckResult(
            FAIL, "dvc remote", f"remote {name!r} is {state.url}, expected {expected}", "run `mlops init`"
        )
    if state.keyfile != conf.sftp.identity_file:
        return CheckResult(
            FAIL,
            "dvc remote",
            f"remote {name!r} uses key file {state.keyfile}, not {conf.sftp.identity_file}",
            "run `mlops init`",
        )
    default = (
        "default remote" if state.is_default else f"not the default ({state.default!r}): `dvc push -r {name}`"
    )
    return CheckResult(OK, "dvc remote", f"{name!r} -> {expected}, {default}")


def _git_check() -> CheckResult:
    import git

    try:
        repo = git.Repo(Path.cwd(), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return CheckResult(SKIP, "git working tree", f"{Path.cwd()} is not inside a Git repository")
    if not repo.head.is_valid():
        return CheckResult(
            FAIL, "git working tree", "no commit yet", "commit your code: runs point at a commit"
        )
    from mlops_stack.tracking import uncommitted_changes

    changed = uncommitted_changes(repo)  # the same rule tracked_run refuses to start on
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        return CheckResult(
            FAIL,
            "git working tree",
            f"uncommitted changes: {shown}",
            "commit them before a run, so the run's commit holds the code that produced it",
        )
    branch = "detached HEAD" if repo.head.is_detached else repo.active_branch.name
    return CheckResult(OK, "git working tree", f"clean at {repo.head.commit.hexsha[:12]} ({branch})")


def _prefect_checks(conf: cfg.ClientConfig) -> Iterator[CheckResult]:
    url = cfg.prefect_api_url(conf)
    if not url:
        yield CheckResult(SKIP, "prefect api", "not configured (optional: `mlops init --prefect-api-url`)")
        return
    auth = prefect_auth_string()
    try:
        version = prefect_version(url, auth)
    except ClientError as err:
        yield CheckResult(FAIL, "prefect api", err.message, err.fix)
        return
    login = "the auth string accepted" if auth else "no auth string"
    yield CheckResult(OK, "prefect api", f"{url} answers, Prefect {version}, {login}")
    pool = conf.prefect_work_pool
    try:
        workers = live_workers(url, auth, pool)
    except ClientError as err:
        yield CheckResult(FAIL, "prefect worker", err.message, err.fix)
        return
    if not workers:
        yield CheckResult(
            FAIL,
            "prefect worker",
            f"no live worker in work pool {pool!r}: scheduled runs would wait",
            "ask your platform admin to check the stack's prefect-worker pod",
        )
        return
    yield CheckResult(OK, "prefect worker", f"work pool {pool!r}: {', '.join(workers)} online")

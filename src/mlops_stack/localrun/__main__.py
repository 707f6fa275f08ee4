"""Command line of the local runner: `python -m mlops_stack.localrun {up,down,clean,test,create-job,...}`."""

import argparse
import re
import sys
from pathlib import Path

from mlops_stack.localrun import admission, workloads
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.keys import ssh_fingerprint
from mlops_stack.localrun.manifests import Manifest, build_release, parse
from mlops_stack.localrun.render import Chart, render
from mlops_stack.localrun.runner import Runner
from mlops_stack.localrun.state import State
from mlops_stack.localrun.workloads import Publish

# Docker's rule for container, network and volume names, which all start with the project.
_PROJECT = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_PUBLISH = re.compile(
    r"^(?P<service>[a-z0-9.-]+):(?P<port>\d+)=(?P<address>[0-9.]+|localhost):(?P<host>\d+)$"
)


def _publish(values: list[str]) -> Publish:
    publish: Publish = {}
    for value in values:
        match = _PUBLISH.match(value)
        if not match:
            raise LocalRunError(
                f"--publish {value!r}: expected SERVICE:PORT=ADDRESS:HOSTPORT, e.g. web:5000=127.0.0.1:5000"
            )
        publish.setdefault(match["service"], {})[int(match["port"])] = (match["address"], int(match["host"]))
    return publish


# Two renders of the chart (the second shows which values `helm template` generates at random), or the
# given file once; kept in the state directory only after the engine answered (State.keep_generated).
Rendered = tuple[list[Manifest], list[Manifest] | None]


def _rendered(args: argparse.Namespace) -> Rendered:
    if args.manifests:
        path = Path(args.manifests)
        if not path.is_file():
            raise LocalRunError(f"--manifests {args.manifests}: no such file")
        return parse(path.read_text()), None
    chart = Chart(
        Path(args.chart), args.release, args.namespace, [Path(v) for v in args.values], args.set, args.helm
    )
    return render(chart), render(chart)


def _check_input(args: argparse.Namespace, docs: list[Manifest], publish: Publish) -> None:
    """What `up` or `test` would refuse in the manifests or in --publish, before any engine is asked."""
    release = build_release(docs)
    admission.check(release)
    if args.command == "up":
        workloads.plan(release, publish, args.namespace)


def _project(value: str) -> str:
    if not _PROJECT.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: a Docker name is letters, digits, '_', '.' and '-', starting with a letter or digit"
        )
    return value


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r}: must be more than 0 seconds")
    return seconds


def _cronjob(value: str) -> str:
    kind, _, name = value.partition("/")
    if kind not in ("cronjob", "cronjobs", "cj") or not name:
        raise argparse.ArgumentTypeError(f"{value!r}: expected cronjob/NAME, e.g. cronjob/mlops-stack-gc")
    return name


def _assignment(value: str) -> tuple[str, str]:
    name, sep, text = value.partition("=")
    if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAME=VALUE, e.g. RESTORE_SNAPSHOT=latest")
    return name, text


def _workload(value: str) -> str:
    kind, _, name = value.partition("/")
    kinds = {
        "deployment": "Deployment",
        "deploy": "Deployment",
        "statefulset": "StatefulSet",
        "sts": "StatefulSet",
    }
    if kind.lower() not in kinds or not name:
        raise argparse.ArgumentTypeError(f"{value!r}: expected deployment/NAME or statefulset/NAME")
    return f"{kinds[kind.lower()]}/{name}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_stack.localrun",
        description="Run `helm template` output on the local Docker engine, faithfully, or refuse by name "
        "what cannot be honoured.",
    )
    parser.add_argument(
        "--project",
        type=_project,
        default="mlops-stack",
        help="prefix of every container, network and volume",
    )
    parser.add_argument("--state-dir", default=".stack", help="revision and generated secrets (mode 0600)")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_source(sub: argparse.ArgumentParser) -> None:
        source = sub.add_mutually_exclusive_group(required=True)
        source.add_argument("--chart", help="chart directory to render with `helm template`")
        source.add_argument("--manifests", help="an already rendered multi-document YAML file")
        sub.add_argument("--release", default="mlops-stack", help="release name (default: %(default)s)")
        sub.add_argument("--namespace", default="default", help="namespace the names resolve in")
        sub.add_argument("--values", "-f", action="append", default=[], help="values file (repeatable)")
        sub.add_argument("--set", action="append", default=[], help="helm --set assignment (repeatable)")
        sub.add_argument("--helm", default="helm", help="helm binary (default: helm on PATH)")
        sub.add_argument("--timeout", type=_seconds, default=600, help="seconds to wait for readiness")

    up = commands.add_parser("up", help="install or upgrade, wait until every pod is ready")
    with_source(up)
    up.add_argument(
        "--publish", action="append", default=[], metavar="SERVICE:PORT=ADDRESS:HOSTPORT",
        help="publish a Service port on the host, e.g. mlops-stack-mlflow:5000=127.0.0.1:5000",
    )  # fmt: skip
    test = commands.add_parser("test", help="run the release's `helm test` hooks against the running pods")
    with_source(test)
    create_job = commands.add_parser(
        "create-job", help="run a CronJob's job now, as `kubectl create job --from=cronjob/NAME` does"
    )
    create_job.add_argument("--from", dest="source", required=True, type=_cronjob, metavar="cronjob/NAME",
                            help="the CronJob of the release `up` applied last")  # fmt: skip
    create_job.add_argument("name", nargs="?", help="name of the Job (default: <cronjob>-manual)")
    create_job.add_argument("--env", action="append", default=[], type=_assignment, metavar="NAME=VALUE",
                            help="a variable for its containers (repeatable)")  # fmt: skip
    create_job.add_argument("--namespace", default="default", help="namespace the names resolve in")
    create_job.add_argument("--timeout", type=_seconds, default=600, help="seconds the job may take")
    stop_start = {
        "stop": "stop the pods of workloads (`kubectl scale --replicas=0`)",
        "start": "start them again as the last `up` applied them, wait until ready",
    }
    for verb, text in stop_start.items():
        sub = commands.add_parser(verb, help=text)
        sub.add_argument("workloads", nargs="+", type=_workload, metavar="deployment/NAME")
        sub.add_argument("--if-present", action="store_true", help="skip workloads the release does not have")
        sub.add_argument("--namespace", default="default", help="namespace the names resolve in")
        sub.add_argument("--timeout", type=_seconds, default=600, help="seconds to wait for readiness")
    commands.add_parser("down", help="stop and remove the pods; data volumes are kept")
    clean = commands.add_parser("clean", help="down, then remove the data volumes and the generated secrets")
    clean.add_argument("--keep-claim", action="append", default=[], metavar="CLAIM",
                       help="keep this claim's volume (repeatable), e.g. the backup volume")  # fmt: skip
    clean.add_argument("--keep-secret", action="append", default=[], metavar="SECRET",
                       help="keep this Secret's generated values (repeatable)")  # fmt: skip
    secret = commands.add_parser(
        "secret", help="print a generated secret value stored in the state directory"
    )
    secret.add_argument("name", help="Secret name")
    secret.add_argument("key", help="key in the Secret")
    fingerprint = commands.add_parser(
        "fingerprint", help="print the SHA256 fingerprint of an SSH private key stored as a generated secret"
    )
    fingerprint.add_argument("name", help="Secret name")
    fingerprint.add_argument("key", help="key in the Secret holding the private key (PEM or OpenSSH)")
    return parser


def _report(line: str) -> None:
    # One write per line: pods start in parallel threads, and print() writes the newline separately.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def cli(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = Path(args.state_dir)
    try:
        if args.command in ("secret", "fingerprint"):
            value = State(state_dir).secret_value(args.name, args.key)
            if value is None:
                raise LocalRunError(
                    f"no generated value for Secret {args.name} key {args.key} in {state_dir}"
                )
            text = value.decode() if args.command == "secret" else ssh_fingerprint(value)
            sys.stdout.write(text + "\n")
            return 0
        # Every argument is checked before the engine is asked for (Runner() connects): a wrong --publish,
        # a missing manifests file or a manifest the runner refuses is explained where no engine runs.
        publish = _publish(args.publish) if args.command == "up" else {}
        rendered = _rendered(args) if args.command in ("up", "test") else None
        if rendered is not None:
            _check_input(args, rendered[0], publish)
        timeout = getattr(args, "timeout", 600)
        runner = Runner(args.project, state_dir, getattr(args, "namespace", "default"), timeout,
                        report=_report)  # fmt: skip
        if args.command == "up":
            runner.refuse_data_without_its_secrets()
        docs = runner.state.keep_generated(*rendered) if rendered is not None else []
        if args.command == "up":
            runner.up(docs, publish)
        elif args.command == "test":
            ran = runner.test(docs)
            print(f"{ran} test hook(s) passed")
        elif args.command == "create-job":
            name = runner.create_job(args.source, args.name, dict(args.env))
            print(f"job {name} succeeded")
        elif args.command == "stop":
            runner.stop(args.workloads, args.if_present)
        elif args.command == "start":
            runner.start(args.workloads, args.if_present)
        elif args.command == "down":
            runner.down()
        elif args.command == "clean":
            removed = runner.clean(tuple(args.keep_claim), tuple(args.keep_secret))
            print(f"removed volumes: {', '.join(removed) or 'none'}; forgot {state_dir}")
    except LocalRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(cli())


if __name__ == "__main__":
    main()

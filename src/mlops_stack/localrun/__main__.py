"""Command line of the local runner: `python -m mlops_stack.localrun {up,down,clean,test,secret}`."""

import argparse
import re
import sys
from pathlib import Path

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.keys import ssh_fingerprint
from mlops_stack.localrun.manifests import Manifest, parse
from mlops_stack.localrun.render import Chart, render
from mlops_stack.localrun.runner import Runner
from mlops_stack.localrun.state import State
from mlops_stack.localrun.workloads import Publish

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


def _manifests(args: argparse.Namespace, state: State, keep_generated: bool = True) -> list[Manifest]:
    if args.manifests:
        docs = parse(Path(args.manifests).read_text())
        return state.keep_generated(docs, None) if keep_generated else docs
    chart = Chart(
        Path(args.chart), args.release, args.namespace, [Path(v) for v in args.values], args.set, args.helm
    )
    first = render(chart)
    return state.keep_generated(first, render(chart)) if keep_generated else first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_stack.localrun",
        description="Run `helm template` output on the local Docker engine, faithfully, or refuse by name "
        "what cannot be honoured.",
    )
    parser.add_argument(
        "--project", default="mlops-stack", help="prefix of every container, network and volume"
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
        sub.add_argument("--timeout", type=float, default=600, help="seconds to wait for readiness")

    up = commands.add_parser("up", help="install or upgrade, wait until every pod is ready")
    with_source(up)
    up.add_argument(
        "--publish", action="append", default=[], metavar="SERVICE:PORT=ADDRESS:HOSTPORT",
        help="publish a Service port on the host, e.g. mlops-stack-mlflow:5000=127.0.0.1:5000",
    )  # fmt: skip
    test = commands.add_parser("test", help="run the release's `helm test` hooks against the running pods")
    with_source(test)
    commands.add_parser("down", help="stop and remove the pods; data volumes are kept")
    commands.add_parser("clean", help="down, then remove the data volumes and the generated secrets")
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
        timeout = getattr(args, "timeout", 600)
        runner = Runner(args.project, state_dir, getattr(args, "namespace", "default"), timeout,
                        report=_report)  # fmt: skip
        if args.command == "up":
            runner.up(_manifests(args, runner.state), _publish(args.publish))
        elif args.command == "test":
            ran = runner.test(_manifests(args, runner.state))
            print(f"{ran} test hook(s) passed")
        elif args.command == "down":
            runner.down()
        elif args.command == "clean":
            removed = runner.clean()
            print(f"removed volumes: {', '.join(removed) or 'none'}; forgot {state_dir}")
    except LocalRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(cli())


if __name__ == "__main__":
    main()

"""The runner's command line: bad input is named, generated secrets and key fingerprints are printed.

Every argument is checked before the Docker engine is asked for, so these tests run with DOCKER_HOST
pointing at a socket nobody listens on (as in the unprivileged CI job, which has no engine).
"""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_stack.localrun.__main__ import cli
from mlops_stack.localrun.state import State

from .manifests import container, deployment, secret, service

REFUSED = "error: the local runner refuses these manifests (it never ignores what it cannot honour):\n"
RENDER_HINT = "Render the chart with these features disabled for local use, or deploy to a cluster.\n"


@pytest.fixture(autouse=True)
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """`python -m mlops_stack.localrun --state-dir <tmp>/state ARGS` with `docs` as --manifests file."""

    def run_cli(*args: str, docs: list[dict] | None = None) -> tuple[int, str]:
        manifests = tmp_path / "m.yaml"
        manifests.write_text(yaml.safe_dump_all(docs or []))
        argv = [a.replace("MANIFESTS", str(manifests)) for a in args]
        try:
            code = cli(["--state-dir", str(tmp_path / "state"), *argv])
        except SystemExit as exit_:  # argparse: usage errors
            code = int(exit_.code or 0)
        return code, capsys.readouterr().err

    return run_cli


WEB = [
    deployment("web", {"app": "web"}, [container("c", "toolbox", "true", ports=[{"containerPort": 80}])]),
    service("web", {"app": "web"}, 80),
    secret("web-auth", password="s3cret"),
]


def test_bad_publish_is_explained(run: Callable[..., tuple[int, str]]) -> None:
    assert run("up", "--manifests", "MANIFESTS", "--publish", "mlflow:5000") == (
        1,
        "error: --publish 'mlflow:5000': expected SERVICE:PORT=ADDRESS:HOSTPORT, "
        "e.g. web:5000=127.0.0.1:5000\n",
    )


def test_publishing_what_the_manifests_lack_is_explained(run: Callable[..., tuple[int, str]]) -> None:
    publish = ["--publish", "db:5432=127.0.0.1:5432", "--publish", "web:8080=127.0.0.1:8080"]
    assert run("up", "--manifests", "MANIFESTS", *publish, docs=WEB) == (
        1,
        REFUSED + "  - publish db: no such Service among the rendered manifests (['web'])\n"
        "  - publish web:8080: the Service has no port 8080\n" + RENDER_HINT,
    )


def test_refused_manifests_are_explained_by_up_and_test(run: Callable[..., tuple[int, str]]) -> None:
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db"}}
    expected = (
        1,
        REFUSED + "  - NetworkPolicy/db: Docker cannot enforce pod-level network policies; render with the "
        "chart's NetworkPolicy disabled for local use (the local stack is on one private network)\n"
        + RENDER_HINT,
    )
    assert run("up", "--manifests", "MANIFESTS", docs=[*WEB, policy]) == expected
    assert run("test", "--manifests", "MANIFESTS", docs=[*WEB, policy]) == expected


def test_a_missing_manifests_file_is_named(run: Callable[..., tuple[int, str]], tmp_path: Path) -> None:
    missing = tmp_path / "rendered.yaml"
    assert run("up", "--manifests", str(missing)) == (1, f"error: --manifests {missing}: no such file\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--timeout", "0"], "argument --timeout: '0': must be more than 0 seconds"),
        (["test", "--timeout", "soon"], "argument --timeout: 'soon' is not a number of seconds"),
        (
            ["--project", "my stack", "down"],
            "argument --project: 'my stack': a Docker name is letters, digits, '_', '.' and '-', "
            "starting with a letter or digit",
        ),
    ],
)
def test_bad_option_values_are_usage_errors(
    run: Callable[..., tuple[int, str]], args: list[str], message: str
) -> None:
    source = ["--manifests", "MANIFESTS"] if args[0] in ("up", "test") else []
    code, err = run(*args, *source)
    assert code == 2
    assert err.splitlines()[-1].endswith(f" error: {message}")


def test_valid_input_then_asks_for_the_engine(run: Callable[..., tuple[int, str]], tmp_path: Path) -> None:
    publish = ["--publish", "web:80=127.0.0.1:8080"]
    for args in (
        ["up", "--manifests", "MANIFESTS", *publish],
        ["test", "--manifests", "MANIFESTS"],
        ["down"],
    ):
        code, err = run(*args, docs=WEB)
        assert code == 1
        assert err.startswith("error: no Docker engine answers (")
        assert err.endswith("); start one with `scripts/docker-engine`\n")
    # Nothing was kept for a release that never started.
    assert not (tmp_path / "state").exists()


def test_secret_and_fingerprint_of_a_generated_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-m", "PEM", "-N", "", "-f", str(key)], check=True)
    expected = subprocess.run(["ssh-keygen", "-lf", str(key)], capture_output=True, text=True, check=True)
    State(tmp_path).keep_generated([secret("host-keys", ssh_host_ecdsa_key=key.read_text())], None)

    assert cli(["--state-dir", str(tmp_path), "fingerprint", "host-keys", "ssh_host_ecdsa_key"]) == 0
    assert capsys.readouterr().out == expected.stdout.split()[1] + "\n"
    assert cli(["--state-dir", str(tmp_path), "secret", "host-keys", "ssh_host_ecdsa_key"]) == 0
    assert capsys.readouterr().out == key.read_text() + "\n"


def test_unknown_secret_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--state-dir", str(tmp_path), "secret", "mlops-stack-mlflow", "admin-password"]) == 1
    assert capsys.readouterr().err == (
        f"error: no generated value for Secret mlops-stack-mlflow key admin-password in {tmp_path}\n"
    )

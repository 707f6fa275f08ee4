"""`mlops init` without flags: the questions, the hidden password, the fingerprint confirmation; Prefect."""

from __future__ import annotations

import getpass
import tomllib

import pytest
from tests.support.servers import stop

from .conftest import status_lines
from .servers import free_port, start_prefect_server, start_prefect_worker


def test_interactive_init_asks_hides_the_password_and_confirms_the_key(
    mlops, mlflow_server, alice, sshd, keys, host_fingerprint, project, client_home, monkeypatch
):
    password_prompts: list[str] = []

    def fake_terminal_getpass(prompt: str = "Password: ", stream=None) -> str:
        # Stands in for the terminal only (getpass reads /dev/tty); every server involved is real.
        password_prompts.append(prompt)
        return alice.password

    monkeypatch.setattr(getpass, "getpass", fake_terminal_getpass)
    answers = [
        mlflow_server.url,
        alice.username,
        "127.0.0.1",
        str(sshd.port),
        sshd.user,
        str(keys["client"]),
        "y",
    ]
    result = mlops("init", stdin="\n".join(answers) + "\n")
    assert result.code == 0, result.err

    assert password_prompts == ["MLflow password: "]
    assert alice.password not in result.out + result.err
    for question in (
        "MLflow tracking URL: ",
        "MLflow username: ",
        "SFTP host (empty to skip): ",
        "SFTP port [2222]: ",
        "SSH private key [",
        "Is this the fingerprint your platform admin gave you?",
    ):
        assert question in result.out, question  # fmt: skip
    assert f"SFTP host key of 127.0.0.1:{sshd.port}: ssh-ed25519 {host_fingerprint}" in result.out
    assert (
        (client_home / ".ssh" / "known_hosts").read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    )


def test_answering_no_to_the_fingerprint_writes_nothing(
    mlops, mlflow_server, alice, sshd, keys, project, client_home, monkeypatch
):
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: alice.password)
    answers = [
        mlflow_server.url,
        alice.username,
        "127.0.0.1",
        str(sshd.port),
        sshd.user,
        str(keys["client"]),
        "n",
    ]
    result = mlops("init", stdin="\n".join(answers) + "\n")
    assert result.code == 1
    assert "host key not confirmed; nothing was written" in result.err
    assert not (client_home / ".ssh").exists()
    assert not (client_home / ".mlflow").exists()


def test_a_second_init_reuses_saved_answers_and_the_pin(mlops, init_args, alice, sshd, project, client_home):
    assert mlops(*init_args, stdin=alice.password + "\n").code == 0
    again = mlops("init", "--yes", stdin="")  # everything from the saved config; password from the env
    assert again.code == 1
    assert "MLflow password is missing" in again.err
    again = mlops("init", "--yes", "--password-stdin", stdin=alice.password + "\n")
    assert again.code == 0, again.err
    assert "already pinned in" in again.out
    assert len((client_home / ".ssh" / "known_hosts").read_text().splitlines()) == 1


def test_an_unreachable_prefect_api_stops_init_before_anything_is_written(
    mlops, mlflow_server, alice, project, client_home
):
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    result = mlops(
        "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
        "--password-stdin", "--prefect-api-url", url, stdin=alice.password + "\n",
    )  # fmt: skip
    assert result.code == 1
    assert result.err.strip().endswith(
        f"the Prefect API at {url} is unreachable (ConnectionError)\n"
        "  fix: check the Prefect API URL (it ends in /api) and the network"
    )
    assert not (client_home / ".prefect" / "profiles.toml").exists()
    assert not (client_home / ".config" / "mlops" / "config.ini").exists()


@pytest.mark.slow
def test_init_keeps_the_prefect_auth_string_and_doctor_sees_the_live_worker(
    mlops, mlflow_server, alice, project, client_home, tmp_path
):
    auth = "prefect:s3cret-for-this-test"
    server = start_prefect_server(tmp_path / "prefect-server", auth_string=auth)
    worker = None
    try:
        wrong = tmp_path / "wrong-auth"
        wrong.write_text("prefect:not-it\n")
        init = (
            "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
            "--password-stdin", "--prefect-api-url", server.api_url,
        )  # fmt: skip
        refused = mlops(*init, "--prefect-auth-string-file", str(wrong), stdin=alice.password + "\n")
        assert refused.code == 1
        assert f"the Prefect API at {server.api_url} refused the auth string (HTTP 401)" in refused.err
        assert not (client_home / ".prefect" / "profiles.toml").exists()

        right = tmp_path / "auth"
        right.write_text(auth + "\n")
        result = mlops(*init, "--prefect-auth-string-file", str(right), stdin=alice.password + "\n")
        assert result.code == 0, result.err
        assert f"Prefect 3.9.1 at {server.api_url} accepted the auth string" in result.out
        profiles_file = client_home / ".prefect" / "profiles.toml"
        profile = tomllib.loads(profiles_file.read_text())["profiles"]["ephemeral"]
        assert (profile["PREFECT_API_URL"], profile["PREFECT_API_AUTH_STRING"]) == (server.api_url, auth)
        assert profiles_file.stat().st_mode & 0o777 == 0o600

        lines = status_lines(mlops("doctor").out)
        assert lines["prefect api"] == (
            f"OK    prefect api        {server.api_url} answers, Prefect 3.9.1, the auth string accepted"
        )
        assert lines["prefect worker"] == (
            "FAIL  prefect worker     the Prefect server has no work pool 'mlops' -> check the pool's name "
            "with your platform admin (the chart's prefect.worker.workPool, default mlops): "
            "`mlops init --prefect-work-pool NAME`"
        )
        worker = start_prefect_worker(
            tmp_path / "worker", server.api_url, auth, "mlops", "doctor-test-worker"
        )
        lines = status_lines(mlops("doctor").out)
        assert (
            lines["prefect worker"] == "OK    prefect worker     work pool 'mlops': doctor-test-worker online"
        )
    finally:
        if worker is not None:
            stop(worker)
        server.stop()


def test_a_port_that_is_not_a_number_is_refused(mlops, project, client_home, monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: "pw")
    answers = ["https://mlflow.example.org", "alice", "sftp.example.org", "22x"]
    result = mlops("init", stdin="\n".join(answers) + "\n")
    assert result.code == 1
    assert result.err.endswith(
        "mlops init: error: SFTP port '22x' is not a port number\n  fix: give a number such as 2222\n"
    )
    assert not (client_home / ".config").exists()


def test_missing_prefect_url_scheme_is_refused_before_anything_happens(mlops, project):
    result = mlops(
        "init", "--yes", "--tracking-uri", "https://mlflow.example.org", "--username", "alice",
        "--password-stdin", "--prefect-api-url", "prefect.example.org/api", stdin="pw\n",
    )  # fmt: skip
    assert result.code == 1
    assert "Prefect API URL 'prefect.example.org/api' is not http(s)" in result.err

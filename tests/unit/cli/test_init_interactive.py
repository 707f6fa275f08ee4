"""`mlops init` without flags: the questions, the hidden password, the fingerprint confirmation; Prefect."""

from __future__ import annotations

import getpass
import tomllib

import pytest

from .conftest import status_lines
from .servers import free_port, start_prefect_server


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


def test_prefect_url_goes_to_the_active_profile_and_doctor_checks_it(
    mlops, mlflow_server, alice, project, client_home
):
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    result = mlops(
        "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
        "--password-stdin", "--prefect-api-url", url, stdin=alice.password + "\n",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert f"Prefect profile 'ephemeral': PREFECT_API_URL = {url}" in result.out
    profiles = tomllib.loads((client_home / ".prefect" / "profiles.toml").read_text())
    assert profiles["profiles"]["ephemeral"]["PREFECT_API_URL"] == url

    doctor = mlops("doctor")
    assert doctor.code == 1
    assert status_lines(doctor.out)["prefect api"] == (
        f"FAIL  prefect api        {url} unreachable (ConnectionError) "
        "-> check PREFECT_API_URL (it ends in /api) and the network"
    )


@pytest.mark.slow
def test_doctor_reaches_a_real_prefect_server(mlops, mlflow_server, alice, project, tmp_path):
    server = start_prefect_server(tmp_path / "prefect-server")
    try:
        result = mlops(
            "init", "--yes", "--tracking-uri", mlflow_server.url, "--username", alice.username,
            "--password-stdin", "--prefect-api-url", server.api_url, stdin=alice.password + "\n",
        )  # fmt: skip
        assert result.code == 0, result.err
        doctor = mlops("doctor")
        assert (
            status_lines(doctor.out)["prefect api"]
            == f"OK    prefect api        {server.api_url} answers /health"
        )
    finally:
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

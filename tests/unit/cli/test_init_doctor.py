"""`mlops init` with flags against a real MLflow server and a real sshd, then `mlops doctor`."""

from __future__ import annotations

import stat
import subprocess

from .conftest import dvc, dvc_config, git, status_lines
from .servers import fingerprint, ssh_keygen


def test_init_with_flags_then_doctor_all_ok(
    mlops, init_args, alice, dvc_project, client_home, sshd, host_fingerprint
):
    result = mlops(*init_args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert alice.password not in result.out + result.err

    # MLflow's own reader finds the login in its own file, readable by the owner only.
    from mlflow.utils.credentials import read_mlflow_creds

    creds_file = client_home / ".mlflow" / "credentials"
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert tuple(read_mlflow_creds()) == (alice.username, alice.password)

    known_hosts = (client_home / ".ssh" / "known_hosts").read_text().splitlines()
    assert len(known_hosts) == 1
    assert known_hosts[0].startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    assert f"pinned ssh-ed25519 {host_fingerprint}" in result.out

    shared, personal = dvc_config(dvc_project, "repo"), dvc_config(dvc_project, "local")
    remote_path = init_args[init_args.index("--dvc-remote-path") + 1]
    assert shared["remote"] == {"storage": {"url": f"ssh://{sshd.user}@127.0.0.1:{sshd.port}{remote_path}"}}
    assert shared["core"] == {"remote": "storage"}
    assert personal["remote"] == {"storage": {"keyfile": init_args[init_args.index("--identity-file") + 1]}}

    git(dvc_project, "commit", "-q", "-m", "DVC remote on the team's SFTP server", ".dvc/config")
    doctor = mlops("doctor")
    assert doctor.code == 0, doctor.out
    lines = status_lines(doctor.out)
    assert [line.split()[0] for line in lines.values()] == ["OK"] * 7 + ["SKIP"], doctor.out
    assert lines["tracking server"].endswith(f"answers, MLflow {mlflow_version()}")
    assert "user 'alice' accepted" in lines["login"]
    assert "256 KiB uploaded, downloaded and compared (mlflow-artifacts), run deleted" in lines["artifacts"]
    assert f"presents the pinned ssh-ed25519 {host_fingerprint}" in lines["sftp host key"]
    assert "'storage' -> ssh://" in lines["dvc remote"]
    assert lines["dvc remote"].endswith("default remote")
    assert "clean at" in lines["git working tree"]
    assert lines["prefect api"].startswith("SKIP")
    assert doctor.out.rstrip().endswith("all checks passed")


def mlflow_version() -> str:
    from importlib.metadata import version

    return version("mlflow")


def test_doctor_explains_a_rejected_password(mlops, init_args, alice, project, monkeypatch):
    assert mlops(*init_args, stdin=alice.password + "\n").code == 0
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    doctor = mlops("doctor")
    assert doctor.code == 1
    lines = status_lines(doctor.out)
    assert lines["login"] == (
        "FAIL  login              HTTP 401 Unauthorized: the server rejected user 'alice': wrong username "
        "or password -> run `mlops init` again with the right password (your MLflow admin can reset it); "
        "note MLFLOW_TRACKING_PASSWORD in your environment override ~/.mlflow/credentials"
    )
    assert lines["tracking server"].startswith("OK")
    assert lines["artifacts"].startswith("SKIP")
    assert doctor.out.rstrip().endswith("1 check(s) failed")


def test_init_with_a_wrong_password_writes_nothing(mlops, init_args, project, client_home):
    result = mlops(*init_args, stdin="not-the-password\n")
    assert result.code == 1
    assert "HTTP 401 Unauthorized: the server rejected user 'alice'" in result.err
    assert not (client_home / ".mlflow").exists()
    assert not (client_home / ".ssh").exists()
    assert not (client_home / ".config" / "mlops").exists()


def test_changed_host_key_is_a_hard_error_naming_both_fingerprints(
    mlops, init_args, alice, project, sshd, keys, host_fingerprint, client_home
):
    assert mlops(*init_args, stdin=alice.password + "\n").code == 0
    pinned = (client_home / ".ssh" / "known_hosts").read_text()
    impostor = fingerprint(keys["other_host"].with_suffix(".pub"))
    sshd.stop()
    sshd.start(keys["other_host"])  # same address, different key

    doctor = mlops("doctor")
    assert doctor.code == 1
    line = status_lines(doctor.out)["sftp host key"]
    assert line.startswith("FAIL  sftp host key      HOST KEY MISMATCH")
    assert f"presents ssh-ed25519 {impostor}" in line
    assert f"pins ssh-ed25519 {host_fingerprint}" in line
    assert status_lines(doctor.out)["sftp key login"].startswith("SKIP")

    again = mlops(
        *[a for a in init_args if a not in ("--host-key-fingerprint", host_fingerprint)], stdin=alice.password
    )
    assert again.code == 1
    assert "HOST KEY MISMATCH" in again.err
    assert f"presents ssh-ed25519 {impostor}" in again.err
    assert f"pins ssh-ed25519 {host_fingerprint}" in again.err
    assert "ssh-keygen -R" in again.err
    assert (client_home / ".ssh" / "known_hosts").read_text() == pinned


def test_fingerprint_flag_that_does_not_match_stops_before_writing(
    mlops, init_args, alice, project, keys, client_home
):
    wrong = fingerprint(keys["other_host"].with_suffix(".pub"))
    args = list(init_args)
    args[args.index("--host-key-fingerprint") + 1] = wrong
    result = mlops(*args, stdin=alice.password + "\n")
    assert result.code == 1
    assert "HOST KEY MISMATCH for 127.0.0.1:" in result.err
    assert f"expected {wrong} (--host-key-fingerprint)" in result.err
    assert "but the server presents ssh-ed25519 SHA256:" in result.err
    assert not (client_home / ".ssh" / "known_hosts").exists()
    assert not (client_home / ".mlflow" / "credentials").exists()


def test_yes_without_fingerprint_refuses_to_trust_a_new_key(
    mlops, init_args, alice, project, host_fingerprint, client_home
):
    args = [a for a in init_args if a not in ("--host-key-fingerprint", host_fingerprint)]
    result = mlops(*args, stdin=alice.password + "\n")
    assert result.code == 1
    assert "is not pinned and --yes cannot confirm it" in result.err
    assert f"--host-key-fingerprint {host_fingerprint}" in result.err
    assert not (client_home / ".ssh" / "known_hosts").exists()


def test_outside_a_dvc_project_the_dvc_step_is_skipped(mlops, init_args, alice, project):
    result = mlops(*init_args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert f"DVC: skipped, no DVC repository at or above {project}" in result.out
    assert not (project / ".dvc").exists()
    assert "SKIP  dvc remote" in mlops("doctor").out


def test_other_remotes_and_the_default_are_kept(mlops, init_args, alice, dvc_project):
    dvc(dvc_project, "remote", "add", "-d", "backup", "/srv/backup")
    result = mlops(*init_args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert "the default remote stays 'backup': use `dvc push -r storage`" in result.out
    shared = dvc_config(dvc_project, "repo")
    assert shared["remote"]["backup"] == {"url": "/srv/backup"}
    assert shared["core"] == {"remote": "backup"}
    assert shared["remote"]["storage"]["url"].startswith("ssh://")


def test_missing_value_with_yes_names_the_flag(mlops, project):
    result = mlops("init", "--yes", "--username", "alice")
    assert result.code == 1
    assert result.err.startswith(
        "mlops init: error: MLflow tracking URL is missing\n  fix: pass --tracking-uri"
    )


def test_unreachable_tracking_server_is_explained(mlops, project):
    from .servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = mlops(
        "init", "--yes", "--tracking-uri", url, "--username", "a", "--password-stdin", stdin="pw\n"
    )
    assert result.code == 1
    assert f"cannot reach the MLflow server at {url} (ConnectionError" in result.err
    assert "check the URL" in result.err


def test_doctor_without_init_says_to_run_it(mlops, client_home):
    result = mlops("doctor")
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"FAIL  config             no {client_home}/.config/mlops/config.ini -> run `mlops init`"
    )


def test_passphrase_protected_key_makes_dvc_ask_for_it(mlops, init_args, alice, dvc_project, sshd, tmp_path):
    encrypted = tmp_path / "id_encrypted"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "correct horse", "-f", str(encrypted)], check=True
    )
    sshd.authorize(encrypted.with_suffix(".pub"))
    args = list(init_args)
    args[args.index("--identity-file") + 1] = str(encrypted)
    result = mlops(*args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert f"identity file {encrypted} is protected by a passphrase: login not tested now" in result.out
    assert dvc_config(dvc_project, "local")["remote"] == {
        "storage": {"keyfile": str(encrypted), "ask_passphrase": "true"}
    }
    line = status_lines(mlops("doctor").out)["sftp key login"]
    assert line == (
        f"SKIP  sftp key login     identity file {encrypted} is protected by a passphrase; "
        "not tested without it"
    )


def test_fingerprint_of_another_key_type_pins_that_key(
    mlops, init_args, alice, project, sshd, keys, tmp_path
):
    """A server with ed25519 and ECDSA keys; the admin handed out the ECDSA fingerprint."""
    ecdsa = ssh_keygen(tmp_path / "ssh_host_ecdsa_key", "ecdsa")
    sshd.stop()
    sshd.start(keys["host"], ecdsa)
    args = list(init_args)
    args[args.index("--host-key-fingerprint") + 1] = fingerprint(ecdsa.with_suffix(".pub"))
    result = mlops(*args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert f"pinned ecdsa-sha2-nistp256 {fingerprint(ecdsa.with_suffix('.pub'))}" in result.out
    lines = status_lines(mlops("doctor").out)
    assert lines["sftp host key"].startswith("OK    sftp host key")
    assert "presents the pinned ecdsa-sha2-nistp256" in lines["sftp host key"]
    assert lines["sftp key login"].startswith("OK    sftp key login")


def test_doctor_flags_uncommitted_code_and_new_dvc_files(mlops, init_args, alice, project):
    assert mlops(*init_args, stdin=alice.password + "\n").code == 0
    (project / "train.py").write_text("print('changed')\n")
    (project / "new.csv.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: new.csv\n")
    doctor = mlops("doctor")
    assert doctor.code == 1
    assert status_lines(doctor.out)["git working tree"] == (
        "FAIL  git working tree   uncommitted changes: new.csv.dvc, train.py "
        "-> commit them before a run, so the run's commit holds the code that produced it"
    )


def test_init_in_a_clone_leaves_the_committed_remote_alone(
    mlops, init_args, alice, dvc_project, tmp_path, monkeypatch
):
    assert mlops(*init_args, stdin=alice.password + "\n").code == 0
    git(dvc_project, "commit", "-q", "-m", "DVC remote", ".dvc/config")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(dvc_project), str(clone))
    committed = (clone / ".dvc" / "config").read_text()

    monkeypatch.chdir(clone)  # a teammate's checkout
    result = mlops(*init_args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert "DVC: remote 'storage' already points at ssh://" in result.out
    assert "commit .dvc/config" not in result.out
    assert (clone / ".dvc" / "config").read_text() == committed
    assert git(clone, "status", "--porcelain") == ""
    keyfile = init_args[init_args.index("--identity-file") + 1]
    assert dvc_config(clone, "local")["remote"] == {"storage": {"keyfile": keyfile}}

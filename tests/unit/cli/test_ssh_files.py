"""`python3 -m mlops_stack.ssh`: the known_hosts and authorized_keys files of the chart's init containers."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlops_stack.ssh.known_hosts import known_hosts_name

from .servers import ssh_keygen


def _ssh_keygen_public(private_key: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-y", "-f", str(private_key)], check=True, capture_output=True)
    return " ".join(out.stdout.decode().split()[:2])


def _ecdsa_pem(path: Path) -> Path:
    """What the chart's genPrivateKey "ecdsa" gives: a traditional (SEC1) PEM key."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlops_stack.ssh", *args], capture_output=True, text=True)


def test_known_hosts_lines_match_ssh_keygen_under_bracketed_names(tmp_path: Path) -> None:
    ecdsa = _ecdsa_pem(tmp_path / "ssh_host_ecdsa_key")
    ed25519 = ssh_keygen(tmp_path / "ssh_host_ed25519_key")
    out = tmp_path / "known_hosts"
    result = _run(
        "known-hosts",
        "--out",
        str(out),
        "--port",
        "2222",
        "--names",
        "sftp,sftp.mlops,sftp.mlops.svc,sftp.mlops.svc.cluster.local",
        str(ecdsa),
        str(tmp_path / "ssh_host_rsa_key"),  # absent: skipped, as the chart mounts whatever the Secret has
        str(ed25519),
    )
    assert result.returncode == 0, result.stderr
    names = "[sftp]:2222,[sftp.mlops]:2222,[sftp.mlops.svc]:2222,[sftp.mlops.svc.cluster.local]:2222"
    assert out.read_text() == (
        f"{names} {_ssh_keygen_public(ecdsa)}\n{names} {_ssh_keygen_public(ed25519)}\n"
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o444
    assert not out.with_name("known_hosts.tmp").exists()
    found = subprocess.run(
        ["ssh-keygen", "-F", "[sftp.mlops.svc]:2222", "-f", str(out)], capture_output=True, text=True
    )
    assert "ecdsa-sha2-nistp256" in found.stdout
    assert "ssh-ed25519" in found.stdout


def test_known_hosts_replaces_a_read_only_file(tmp_path: Path) -> None:
    """An init container that runs again (pod restart) finds its own 0444 file in place."""
    key = ssh_keygen(tmp_path / "host")
    out = tmp_path / "known_hosts"
    for _ in range(2):
        result = _run("known-hosts", "--out", str(out), "--port", "2222", "--names", "sftp", str(key))
        assert result.returncode == 0, result.stderr
    assert out.read_text() == f"[sftp]:2222 {_ssh_keygen_public(key)}\n"


def test_known_hosts_without_any_key_file_fails_naming_them(tmp_path: Path) -> None:
    out = tmp_path / "known_hosts"
    absent = [str(tmp_path / "a"), str(tmp_path / "b")]
    result = _run("known-hosts", "--out", str(out), "--port", "2222", "--names", "sftp", *absent)
    assert result.returncode == 1
    assert result.stderr == f"error: no host key among {', '.join(absent)}\n"
    assert not out.exists()


def test_known_hosts_refuses_bracketed_names(tmp_path: Path) -> None:
    """The module applies the `[host]:port` rule itself; names arriving bracketed would be filed twice."""
    key = ssh_keygen(tmp_path / "host")
    result = _run(
        "known-hosts", "--out", str(tmp_path / "kh"), "--port", "2222", "--names", "[s]:2222", str(key)
    )
    assert result.returncode == 2
    assert "without brackets" in result.stderr


@pytest.mark.parametrize(("host", "port", "name"), [("sftp", 22, "sftp"), ("sftp", 2222, "[sftp]:2222")])
def test_known_hosts_naming_rule(host: str, port: int, name: str) -> None:
    assert known_hosts_name(host, port) == name


def test_authorized_keys_holds_the_derived_key_then_the_appended_lines(tmp_path: Path) -> None:
    client = _ecdsa_pem(tmp_path / "id_mlflow")
    users = tmp_path / "users"
    users.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice\n\n"
    )
    out = tmp_path / "authorized_keys"
    args = ["authorized-keys", "--out", str(out), "--key", str(client), "--append", str(users)]
    result = _run(*args, str(tmp_path / "absent"))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (
        f"{_ssh_keygen_public(client)} mlflow-server\n"
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice\n"
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o444


def test_authorized_keys_lists_each_extra_key_under_its_file_name(tmp_path: Path) -> None:
    client = _ecdsa_pem(tmp_path / "id_mlflow")
    worker = _ecdsa_pem(tmp_path / "prefect-worker")
    out = tmp_path / "authorized_keys"
    result = _run("authorized-keys", "--out", str(out), "--key", str(client), "--extra-key", str(worker))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (
        f"{_ssh_keygen_public(client)} mlflow-server\n{_ssh_keygen_public(worker)} prefect-worker\n"
    )


def test_authorized_keys_without_mlflows_key_lists_only_the_others(tmp_path: Path) -> None:
    """The DVC store's sshd: the worker's key and the users' lines, never MLflow's."""
    worker = _ecdsa_pem(tmp_path / "prefect-worker")
    users = tmp_path / "users"
    alice = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice"
    users.write_text(alice + "\n")
    out = tmp_path / "authorized_keys"
    args = ["--out", str(out), "--extra-key", str(worker), "--append", str(users)]
    result = _run("authorized-keys", *args)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (
        f"{_ssh_keygen_public(worker)} prefect-worker\n"
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice\n"
    )

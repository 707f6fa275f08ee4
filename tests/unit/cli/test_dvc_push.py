"""`dvc push` after `mlops init`, against a real sshd, and what DVC does (not) check about host keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import dvc, git, status_lines
from .servers import fingerprint

pytestmark = pytest.mark.slow  # real `dvc` processes: about 20 s per test


def _init(mlops, init_args, alice, project: Path) -> Path:
    result = mlops(*init_args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    git(project, "commit", "-q", "-m", "DVC remote", ".dvc/config")
    return Path(init_args[init_args.index("--dvc-remote-path") + 1])


def _add_dataset(project: Path, name: str, text: str) -> str:
    (project / name).write_text(text)
    dvc(project, "add", "-q", name)
    git(project, "add", f"{name}.dvc", ".gitignore")
    git(project, "commit", "-q", "-m", f"dataset {name}")
    return yaml.safe_load((project / f"{name}.dvc").read_text())["outs"][0]["md5"]


def test_dvc_push_stores_the_dataset_on_the_sftp_server(mlops, init_args, alice, dvc_project):
    remote = _init(mlops, init_args, alice, dvc_project)
    md5 = _add_dataset(dvc_project, "iris.csv", "sepal_length,species\n5.1,setosa\n")

    pushed = dvc(dvc_project, "push")
    assert "1 file pushed" in pushed.stdout
    stored = remote / "files" / "md5" / md5[:2] / md5[2:]
    assert stored.read_text() == "sepal_length,species\n5.1,setosa\n"

    # And back: a teammate's fresh clone of the data comes from the server.
    (dvc_project / "iris.csv").unlink()
    dvc(dvc_project, "cache", "dir", "--local", str(dvc_project / "fresh-cache"))
    dvc(dvc_project, "pull")
    assert (dvc_project / "iris.csv").read_text() == "sepal_length,species\n5.1,setosa\n"


def test_dvc_does_not_check_the_host_key_so_doctor_does(
    mlops, init_args, alice, dvc_project, sshd, keys, host_fingerprint
):
    """dvc-ssh -> sshfs -> asyncssh.connect(known_hosts=None): no host-key check at all.

    If this test starts failing because `dvc push` refuses the impostor, DVC has started verifying
    host keys: update the README section and the `mlops doctor --help` text.
    """
    remote = _init(mlops, init_args, alice, dvc_project)
    sshd.stop()
    sshd.start(keys["other_host"])  # an impostor at the same address

    md5 = _add_dataset(dvc_project, "labels.csv", "id,label\n1,cat\n")
    pushed = dvc(dvc_project, "push", check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()

    line = status_lines(mlops("doctor").out)["sftp host key"]
    assert line.startswith("FAIL  sftp host key      HOST KEY MISMATCH")
    assert fingerprint(keys["other_host"].with_suffix(".pub")) in line
    assert host_fingerprint in line

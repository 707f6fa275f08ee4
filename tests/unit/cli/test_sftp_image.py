"""The same client workflow against the project's SFTP image (`mlops-stack/sftp`), run OpenShift-style."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest
import yaml
from tests.support.containers import RestrictedContainer, Sandbox, docker_client, image_missing

from .conftest import dvc, git, status_lines

pytestmark = pytest.mark.images


@pytest.fixture(scope="module")
def sftp_container(keys: dict[str, Path]) -> Iterator[tuple[RestrictedContainer, str]]:
    """The SFTP image, the client key mounted like the chart's Secret; yields the ed25519 fingerprint."""
    try:
        client = docker_client()
        client.ping()
    except docker.errors.DockerException as err:
        pytest.skip(f"no Docker engine answers ({err}); start one with scripts/docker-engine")
    if reason := image_missing("sftp", client):
        pytest.skip(reason)
    mounts = Path(
        tempfile.mkdtemp(prefix="cli-mounts-")
    )  # pytest's own folders are 0700: no UID could read them
    mounts.chmod(0o755)
    authorized = mounts / "authorized-keys"
    authorized.mkdir(mode=0o755)
    (authorized / "authorized_keys").write_text(keys["client"].with_suffix(".pub").read_text())
    (authorized / "authorized_keys").chmod(0o644)
    with Sandbox("cli-", client) as box:
        sftp = box.run(
            "sftp",
            alias="sftp",
            tmpfs={"/tmp": "size=16m"},
            volumes={box.volume("data"): "/data", str(authorized): "/etc/sftp/authorized-keys"},
            read_only_mounts=["/etc/sftp/authorized-keys"],
        )
        sftp.wait_for_port(2222)
        # run-sftp logs each host key's fingerprint: what a platform admin hands to data scientists.
        sftp.wait_for_log("(ED25519)")
        match = re.search(r"host key 256 (SHA256:\S+) .*\(ED25519\)", sftp.logs())
        assert match, sftp.logs()
        yield sftp, match.group(1)
    shutil.rmtree(mounts, ignore_errors=True)


def test_init_doctor_and_dvc_push_against_the_sftp_image(
    mlops, mlflow_server, alice, keys, sftp_container, dvc_project
):
    sftp, host_fingerprint = sftp_container
    host = sftp.ip()
    result = mlops(
        "init", "--yes", "--tracking-uri", mlflow_server.url,
        "--username", alice.username, "--password-stdin",
        "--sftp-host", host, "--sftp-port", "2222", "--sftp-user", "mlops",
        "--identity-file", str(keys["client"]), "--host-key-fingerprint", host_fingerprint,
        stdin=alice.password + "\n",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert (
        f"DVC: added DVC remote 'storage' -> ssh://mlops@{host}:2222/data/dvc/project in .dvc/config"
        in result.out
    )
    git(dvc_project, "commit", "-q", "-m", "DVC remote", ".dvc/config")

    doctor = mlops("doctor")
    assert doctor.code == 0, doctor.out
    lines = status_lines(doctor.out)
    assert f"presents the pinned ssh-ed25519 {host_fingerprint}" in lines["sftp host key"]
    assert lines["sftp key login"].endswith("(home /data)")

    (dvc_project / "iris.csv").write_text("sepal_length,species\n5.1,setosa\n")
    dvc(dvc_project, "add", "-q", "iris.csv")
    md5 = yaml.safe_load((dvc_project / "iris.csv.dvc").read_text())["outs"][0]["md5"]
    assert "1 file pushed" in dvc(dvc_project, "push").stdout
    code, stored = sftp.exec(["cat", f"/data/dvc/project/files/md5/{md5[:2]}/{md5[2:]}"])
    assert (code, stored) == (0, "sepal_length,species\n5.1,setosa\n")

    (dvc_project / "iris.csv").unlink()
    dvc(dvc_project, "cache", "dir", "--local", str(dvc_project / "fresh-cache"))
    dvc(dvc_project, "pull")
    assert (dvc_project / "iris.csv").read_text() == "sepal_length,species\n5.1,setosa\n"

"""The sftp image in the chart's layout: over SFTP, nothing is writable but the store's directory.

The chart runs one sshd per store in the SFTP pod. Each mounts only its store (a subPath of the data
PVC), /tmp (where the init container wrote the passwd entry) and /dev/shm read-only, its host-key
directory (a subPath the init container made and sealed) and its authorized_keys read-only. A client is
the sshd's own UID, so every directory that UID may write is one the client may write: this walks the
whole filesystem over SFTP and tries to create a directory and a file in each one.
"""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from docker.types import Mount
from tests.images.conftest import SSHKey, make_ssh_key, mount_folder
from tests.images.kubelet import FS_GROUP, Kubelet
from tests.images.test_sftp import (
    AUTHORIZED_KEYS_DIR,
    HOST_KEYS_SOURCE,
    USER,
    LoggedHostKeyPolicy,
    wait_until_serving,
)
from tests.support.containers import RestrictedContainer, Sandbox

pytestmark = pytest.mark.images

KEYS_DIR = "/var/lib/sftp-host-keys"
STORE = "/data/dvc"
PORT = 2222
# Kernel interfaces, not storage: nothing there takes a file (and /proc/<pid> is the sshd's own).
NOT_WALKED = ("/proc", "/sys")
PROBE = "probe-written-by-a-client"


@dataclass
class ConfinedPod:
    container: RestrictedContainer
    key: SSHKey

    def sftp(self) -> Iterator[paramiko.SFTPClient]:
        host, port = self.container.address(PORT)
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(LoggedHostKeyPolicy(self.container))
        client.connect(
            host, port, USER, key_filename=str(self.key.private_path), allow_agent=False, look_for_keys=False
        )
        try:
            with client.open_sftp() as session:
                yield session
        finally:
            client.close()


@pytest.fixture(scope="module")
def pod(sandbox: Sandbox, mount_root: Path) -> ConfinedPod:
    """The chart's SFTP pod, DVC store, with OpenShift's fsGroup (restricted-v2 always assigns one)."""
    key = make_ssh_key(_folder(mount_root, "confined-client"))
    authorized = mount_folder(mount_root, "confined-authorized", {"authorized_keys": key.public_line + "\n"})
    host_key = make_ssh_key(_folder(mount_root, "confined-host"), "ssh_host_ed25519_key")
    source = mount_folder(
        mount_root, "confined-host-keys", {"ssh_host_ed25519_key": host_key.private_path.read_bytes()}
    )
    volumes = Kubelet(sandbox, FS_GROUP).start_pod(
        "confined",
        pvcs={"confined-data": "/data-volume"},
        empty_dirs={"tmp": "/tmp", "host-keys": KEYS_DIR, "shm": "/dev/shm"},
        secrets={source: HOST_KEYS_SOURCE, authorized: AUTHORIZED_KEYS_DIR},
    )
    init = sandbox.run(
        "sftp",
        name="confined-init",
        command=["stage-host-keys", f"{KEYS_DIR}/dvc"],
        **volumes.run_options("/tmp", KEYS_DIR, HOST_KEYS_SOURCE),
    )
    assert init.wait_for_exit(60) == 0, init.logs()
    tmp = volumes.mounts["/tmp"]
    mounts = [
        volumes.sub_path("/data-volume", "dvc", STORE),
        Mount("/tmp", tmp["Source"], type="volume", read_only=True, no_copy=True),
        # The runtime's /dev/shm is a tmpfs any UID may write: the chart hides it under a read-only emptyDir.
        Mount("/dev/shm", volumes.mounts["/dev/shm"]["Source"], type="volume", read_only=True, no_copy=True),
        volumes.sub_path(KEYS_DIR, "dvc", KEYS_DIR),
        volumes.mounts[AUTHORIZED_KEYS_DIR],
    ]
    container = sandbox.run(
        "sftp",
        name="confined",
        env={"SFTP_DATA_DIR": STORE, "SFTP_HOST_KEYS_DIR": KEYS_DIR, "SFTP_PORT": str(PORT)},
        mounts=mounts,
        group_add=[FS_GROUP],
    )
    wait_until_serving(container)
    return ConfinedPod(container, key)


def _folder(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir()
    folder.chmod(0o755)
    return folder


@pytest.fixture
def sftp(pod: ConfinedPod) -> Iterator[paramiko.SFTPClient]:
    yield from pod.sftp()


def directories(sftp: paramiko.SFTPClient, top: str = "/") -> Iterator[str]:
    """Every directory a client can list, depth first (symlinks are not followed)."""
    yield top
    try:
        entries = sftp.listdir_attr(top)
    except OSError:
        return
    for entry in entries:
        path = f"{top.rstrip('/')}/{entry.filename}"
        if path in NOT_WALKED or not stat.S_ISDIR(entry.st_mode or 0):
            continue
        yield from directories(sftp, path)


def writable(sftp: paramiko.SFTPClient, directory: str) -> list[str]:
    """What a client managed to create in `directory` (and removed again)."""
    made = []
    probe = f"{directory.rstrip('/')}/{PROBE}"
    try:
        sftp.mkdir(probe)
        made.append(f"mkdir {probe}")
        sftp.rmdir(probe)
    except OSError:
        pass
    try:
        with sftp.open(probe, "w") as file:
            file.write(b"x")
        made.append(f"write {probe}")
        sftp.remove(probe)
    except OSError:
        pass
    return made


def test_the_client_writes_in_its_store(sftp: paramiko.SFTPClient) -> None:
    sftp.mkdir(f"{STORE}/project")
    sftp.putfo(io.BytesIO(b"data version"), f"{STORE}/project/object")
    assert sftp.open(f"{STORE}/project/object").read() == b"data version"
    assert writable(sftp, STORE) == [f"mkdir {STORE}/{PROBE}", f"write {STORE}/{PROBE}"]


def test_nothing_outside_the_store_takes_a_file_or_directory(sftp: paramiko.SFTPClient) -> None:
    walked = [d for d in directories(sftp) if d != STORE and not d.startswith(f"{STORE}/")]
    # The walk reached the places that were writable before: /tmp, the key directory, $HOME (/data).
    assert {"/", "/tmp", "/tmp/passwd.d", KEYS_DIR, "/data", "/dev", "/etc/sftp/authorized-keys"} <= set(
        walked
    )
    assert [made for d in walked for made in writable(sftp, d)] == []


def test_the_key_directory_can_be_neither_moved_nor_opened(sftp: paramiko.SFTPClient) -> None:
    assert stat.S_IMODE(sftp.stat(f"{KEYS_DIR}/keys").st_mode) == 0
    assert stat.S_IMODE(sftp.stat(KEYS_DIR).st_mode) & 0o222 == 0
    with pytest.raises(PermissionError):
        sftp.rename(f"{KEYS_DIR}/keys", f"{KEYS_DIR}/moved")
    with pytest.raises(OSError, match=r"^Failure$"):  # another mount: EXDEV, which SFTP calls "Failure"
        sftp.rename(f"{KEYS_DIR}/keys", f"{STORE}/keys")
    with pytest.raises(PermissionError):
        sftp.chmod(KEYS_DIR, 0o755)  # internal-sftp -P setstat: an owner cannot give the write bit back
    with pytest.raises(PermissionError):
        sftp.listdir(f"{KEYS_DIR}/keys")


def test_the_home_shows_only_the_store(sftp: paramiko.SFTPClient) -> None:
    assert sftp.normalize(".") == "/data"
    assert sftp.listdir("/data") == ["dvc"]


def test_a_restart_serves_again_with_the_sealed_directory(pod: ConfinedPod) -> None:
    for session in pod.sftp():
        session.putfo(io.BytesIO(b"kept"), f"{STORE}/before-restart")
    pod.container.restart()
    wait_until_serving(pod.container, times=2)
    for session in pod.sftp():
        assert session.open(f"{STORE}/before-restart").read() == b"kept"
        assert writable(session, KEYS_DIR) == []
        assert writable(session, "/tmp") == []

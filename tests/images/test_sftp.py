"""The sftp image under OpenShift's restricted profile: key-only SFTP, nothing else, host keys unreachable."""

from __future__ import annotations

import asyncio
import io
import secrets
import stat
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from tests.images.conftest import SSHKey, make_ssh_key, mount_folder
from tests.images.kubelet import FS_GROUP, FS_GROUP_IDS, FS_GROUPS, Kubelet, PodVolumes
from tests.support.containers import RestrictedContainer, Sandbox
from tests.support.sftp import fingerprint

pytestmark = pytest.mark.images

USER = "mlops"
PORT = 2222
# What the chart declares: the data PVC, a small emptyDir /tmp, the authorized keys read-only.
TMPFS = {"/tmp": "size=16m"}
AUTHORIZED_KEYS_DIR = "/etc/sftp/authorized-keys"
HOST_KEYS_SOURCE = "/etc/sftp/host-keys-source"
STAGED_KEYS_DIR = "/var/lib/sftp-host-keys"  # the chart's emptyDir (SFTP_HOST_KEYS_DIR)
DATA_KEYS = "/data/.sftp-host-keys/keys"  # the image's default: generated into the data PVC
HOST_KEY_ALIAS = "sftp"  # the name known_hosts files give the server, whatever its address
SERVING = "host keys loaded"


class LoggedHostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Trust a host key only if run-sftp logged its SHA256 fingerprint at start."""

    def __init__(self, container: RestrictedContainer) -> None:
        self.container = container

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if f"host key {key.get_bits()} {key.fingerprint} " not in self.container.logs():
            raise paramiko.SSHException(f"host key {key.fingerprint} of {hostname} not in the server's log")


@dataclass
class SFTPServer:
    container: RestrictedContainer
    key: SSHKey
    volume: str

    def ssh(self, key: SSHKey | None = None) -> paramiko.SSHClient:
        host, port = self.container.address(PORT)
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(LoggedHostKeyPolicy(self.container))
        client.connect(
            host,
            port,
            USER,
            key_filename=str((key or self.key).private_path),
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
        return client

    def host_key(self) -> paramiko.PKey:
        host, port = self.container.address(PORT)
        with paramiko.Transport((host, port)) as transport:
            transport.start_client(timeout=10)
            return transport.get_remote_server_key()


def start_sftp(
    sandbox: Sandbox,
    name: str,
    volume: str | None,
    authorized_keys: Path,
    env: dict[str, str] | None = None,
    extra_volumes: dict[str, str] | None = None,
    command: list[str] | None = None,
    pod: PodVolumes | None = None,
    pod_paths: Sequence[str] = (),
) -> RestrictedContainer:
    """`volume` goes to /data; or the kubelet-prepared `pod` mounts its `pod_paths` (all by default)."""
    volumes = {str(authorized_keys): AUTHORIZED_KEYS_DIR, **(extra_volumes or {})}
    if volume is not None:
        volumes[volume] = "/data"
    read_only = [AUTHORIZED_KEYS_DIR, HOST_KEYS_SOURCE]
    options = pod.run_options(*pod_paths, tmpfs=TMPFS) if pod else {"tmpfs": TMPFS}
    return sandbox.run(
        "sftp",
        name=name,
        alias=name,
        env=env,
        volumes=volumes,
        read_only_mounts=read_only,
        command=command,
        **options,
    )


def wait_until_serving(container: RestrictedContainer, times: int = 1) -> None:
    container.wait_for(lambda: container.logs().count(SERVING) >= times, "sshd with locked host keys", 60)
    container.wait_for_port(PORT)


@pytest.fixture(scope="module")
def client_key(mount_root: Path) -> SSHKey:
    folder = mount_root / "client"
    folder.mkdir()
    return make_ssh_key(folder)


@pytest.fixture(scope="module")
def authorized_keys(mount_root: Path, client_key: SSHKey) -> Path:
    return mount_folder(mount_root, "authorized-keys", {"authorized_keys": client_key.public_line + "\n"})


@pytest.fixture(scope="module")
def server(sandbox: Sandbox, authorized_keys: Path, client_key: SSHKey) -> SFTPServer:
    volume = sandbox.volume("sftpdata")
    container = start_sftp(sandbox, "sftp", volume, authorized_keys)
    wait_until_serving(container)
    return SFTPServer(container, client_key, volume)


@pytest.fixture
def sftp(server: SFTPServer) -> Iterator[paramiko.SFTPClient]:
    client = server.ssh()
    with client.open_sftp() as session:
        yield session
    client.close()


def test_an_ed25519_key_can_put_get_and_list_under_the_data_dir(sftp: paramiko.SFTPClient) -> None:
    assert sftp.normalize(".") == "/data"
    sftp.mkdir("roundtrip")
    sftp.putfo(io.BytesIO(b"payload\n" * 1000), "roundtrip/file.bin")
    assert "file.bin" in sftp.listdir("/data/roundtrip")
    out = io.BytesIO()
    sftp.getfo("/data/roundtrip/file.bin", out)
    assert out.getvalue() == b"payload\n" * 1000
    sftp.rename("/data/roundtrip/file.bin", "/data/roundtrip/renamed.bin")
    assert sftp.listdir("/data/roundtrip") == ["renamed.bin"]


def test_files_and_directories_written_are_group_writable(sftp: paramiko.SFTPClient) -> None:
    sftp.mkdir("group-dir")
    sftp.putfo(io.BytesIO(b"x"), "group-dir/file")
    assert stat.S_IMODE(sftp.stat("group-dir").st_mode) == 0o775
    assert stat.S_IMODE(sftp.stat("group-dir/file").st_mode) == 0o664


def test_dvc_client_asyncssh_writes_group_writable_files_and_renames(server: SFTPServer) -> None:
    """DVC's ssh remote goes through sshfs/asyncssh: makedirs, put to a temporary name, rename."""
    host, port = server.container.address(PORT)

    async def upload() -> tuple[list[str], int]:
        async with (
            asyncssh.connect(
                host, port=port, username=USER, client_keys=[str(server.key.private_path)], known_hosts=None
            ) as conn,
            conn.start_sftp_client() as client,
        ):
            await client.makedirs("/data/dvc/files/md5/ab", exist_ok=True)
            async with client.open("/data/dvc/files/md5/ab/cdef.tmp", "wb") as f:
                await f.write(b"dvc-object")
            await client.rename("/data/dvc/files/md5/ab/cdef.tmp", "/data/dvc/files/md5/ab/cdef")
            mode = (await client.stat("/data/dvc/files/md5/ab/cdef")).permissions
            return sorted(await client.listdir("/data/dvc/files/md5/ab")), stat.S_IMODE(mode)

    names, mode = asyncio.run(upload())
    assert names == [".", "..", "cdef"]
    assert mode == 0o664


def openssh_client_options(key: SSHKey, known_hosts: Path | None = None) -> list[str]:
    """The OpenSSH client, non-interactive, with `key`. With `known_hosts` it accepts only the host key
    that file gives HOST_KEY_ALIAS; without, the throw-away host key is not pinned."""
    if known_hosts is None:
        pinning = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        pinning = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
        pinning += ["-o", f"HostKeyAlias={HOST_KEY_ALIAS}"]
    return ["-i", str(key.private_path), *pinning, "-o", "BatchMode=yes"]


def openssh_sftp(
    container: RestrictedContainer, key: SSHKey, batch: str, known_hosts: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the OpenSSH `sftp` command's batch (one command a line; the first failing one ends it)."""
    host, port = container.address(PORT)
    return subprocess.run(
        ["sftp", "-b", "-", "-P", str(port), *openssh_client_options(key, known_hosts), f"{USER}@{host}"],
        input=batch,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def known_hosts_file(path: Path, public_line: str) -> Path:
    """A known_hosts file vouching for `public_line` ("ssh-ed25519 AAAA...") as HOST_KEY_ALIAS."""
    path.write_text(f"{HOST_KEY_ALIAS} {' '.join(public_line.split()[:2])}\n")
    return path


def logged_host_key(container: RestrictedContainer, path: Path) -> Path:
    """known_hosts for the ed25519 key the server offers, once its fingerprint is the one run-sftp logged."""
    host, port = container.address(PORT)
    scan = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", str(port), host],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    known_hosts_file(path, scan.stdout.split(maxsplit=1)[1])
    assert f"host key 256 {fingerprint(path)} " in container.logs()
    return path


def put_and_get_with_openssh(
    container: RestrictedContainer, key: SSHKey, known_hosts: Path, workdir: Path, remote: str
) -> bytes:
    """What a user does: log in checking the host key, upload a file, download it again."""
    sent, received = workdir / "sent", workdir / "received"
    sent.write_bytes(secrets.token_bytes(64 * 1024))
    result = openssh_sftp(container, key, f"put {sent} {remote}\nget {remote} {received}\n", known_hosts)
    assert result.returncode == 0, result.stderr
    assert received.read_bytes() == sent.read_bytes()
    return sent.read_bytes()


def test_openssh_sftp_put_recursive_works(server: SFTPServer, tmp_path: Path) -> None:
    """`sftp put -r` asks to copy directory modes (setstat); that is refused, the upload still succeeds."""
    tree = tmp_path / "tree" / "sub"
    tree.mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    for path in (tmp_path / "tree", tree):
        path.chmod(0o775)
    (tree / "a.txt").chmod(0o664)
    result = openssh_sftp(
        server.container, server.key, f"put -r {tmp_path / 'tree'} cli-tree\nls cli-tree/sub\n"
    )
    assert result.returncode == 0, result.stderr
    assert "cli-tree/sub/a.txt" in result.stdout
    with server.ssh() as client, client.open_sftp() as sftp:
        assert stat.S_IMODE(sftp.stat("/data/cli-tree/sub/a.txt").st_mode) == 0o664
        assert sftp.open("/data/cli-tree/sub/a.txt").read() == b"a"


def test_password_login_is_refused(server: SFTPServer) -> None:
    host, port = server.container.address(PORT)
    with paramiko.Transport((host, port)) as transport:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.BadAuthenticationType) as refused:
            transport.auth_password(USER, "any-password")
        assert refused.value.allowed_types == ["publickey"]


def test_a_key_that_is_not_authorized_is_refused(server: SFTPServer, tmp_path: Path) -> None:
    stranger = make_ssh_key(tmp_path, "stranger")
    with pytest.raises(paramiko.AuthenticationException):
        server.ssh(stranger)


def test_exec_and_shell_requests_are_refused(server: SFTPServer) -> None:
    host, port = server.container.address(PORT)
    result = subprocess.run(
        [
            "ssh",
            "-p",
            str(port),
            *openssh_client_options(server.key),
            f"{USER}@{host}",
            "echo COMMAND-RAN; id",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "COMMAND-RAN" not in result.stdout
    assert "uid=" not in result.stdout
    assert "This service allows sftp connections only." in result.stdout + result.stderr
    assert result.returncode != 0

    with server.ssh() as client:
        channel = client.get_transport().open_session()
        with pytest.raises(paramiko.SSHException):
            channel.get_pty()


def test_port_forwarding_is_refused(server: SFTPServer) -> None:
    with server.ssh() as client:
        transport = client.get_transport()
        with pytest.raises(paramiko.ChannelException) as local:
            transport.open_channel("direct-tcpip", ("127.0.0.1", PORT), ("127.0.0.1", 0))
        assert local.value.code == paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        with pytest.raises(paramiko.SSHException):
            transport.request_port_forward("127.0.0.1", 0)


def test_the_client_can_neither_read_nor_unlock_the_host_private_key(sftp: paramiko.SFTPClient) -> None:
    keys = "/data/.sftp-host-keys/keys"
    assert stat.S_IMODE(sftp.stat(keys).st_mode) == 0
    with pytest.raises(PermissionError):
        sftp.open(f"{keys}/ssh_host_ed25519_key").read()
    with pytest.raises(PermissionError):
        sftp.listdir(keys)
    with pytest.raises(PermissionError):
        sftp.chmod(keys, 0o700)
    with pytest.raises(PermissionError):
        sftp.symlink(f"{keys}/ssh_host_ed25519_key", "/data/link-to-key")


def test_the_client_cannot_change_authorized_keys(
    server: SFTPServer, sftp: paramiko.SFTPClient, tmp_path: Path
) -> None:
    with pytest.raises(PermissionError):  # read-only mount of root-owned files
        sftp.open(f"{AUTHORIZED_KEYS_DIR}/authorized_keys", "a").write(b"ssh-ed25519 AAAA intruder\n")
    with pytest.raises(OSError, match=r"^Failure$"):  # EROFS has no SFTP status of its own
        sftp.remove(f"{AUTHORIZED_KEYS_DIR}/authorized_keys")
    # ~/.ssh/authorized_keys in the writable home (/data) is never consulted.
    intruder = make_ssh_key(tmp_path, "intruder")
    sftp.mkdir("/data/.ssh")
    sftp.putfo(io.BytesIO(intruder.public_line.encode() + b"\n"), "/data/.ssh/authorized_keys")
    with pytest.raises(paramiko.AuthenticationException):
        server.ssh(intruder)


def test_the_host_key_is_identical_across_restarts_and_data_is_kept(server: SFTPServer) -> None:
    before = server.host_key()
    with server.ssh() as client, client.open_sftp() as sftp:
        sftp.putfo(io.BytesIO(b"kept"), "/data/before-restart")
    server.container.restart()
    wait_until_serving(server.container, times=2)
    assert server.host_key().get_base64() == before.get_base64()
    assert server.container.logs().count("generated new host keys") == 1
    with server.ssh() as client, client.open_sftp() as sftp:
        assert sftp.open("/data/before-restart").read() == b"kept"


def test_a_restart_with_a_kept_tmp_works(sandbox: Sandbox, authorized_keys: Path, client_key: SSHKey) -> None:
    """Kubernetes keeps an emptyDir /tmp across container restarts (read-only passwd files from before)."""
    container = sandbox.run(
        "sftp",
        name="sftp-kept-tmp",
        volumes={
            sandbox.volume("kepttmpdata"): "/data",
            sandbox.volume("kepttmp"): "/tmp",
            str(authorized_keys): AUTHORIZED_KEYS_DIR,
        },
        read_only_mounts=[AUTHORIZED_KEYS_DIR],
    )
    wait_until_serving(container)
    container.restart()
    wait_until_serving(container, times=2)
    server = SFTPServer(container, client_key, "kepttmpdata")
    with server.ssh() as client, client.open_sftp() as sftp:
        assert sftp.normalize(".") == "/data"


def ed25519_openssh_host_key() -> tuple[str, bytes, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return "ssh_host_ed25519_key", private, openssh_public_line(key)


def ecdsa_pem_host_key() -> tuple[str, bytes, str]:
    """The chart's Secret holds only this one, as Helm's genPrivateKey "ecdsa" writes it."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return "ssh_host_ecdsa_key", private, openssh_public_line(key)


def openssh_public_line(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


@pytest.mark.parametrize("fs_group", FS_GROUPS, ids=FS_GROUP_IDS)
@pytest.mark.parametrize("make_host_key", [ed25519_openssh_host_key, ecdsa_pem_host_key])
def test_host_keys_staged_from_a_secret_are_served_and_locked(
    sandbox: Sandbox,
    mount_root: Path,
    authorized_keys: Path,
    client_key: SSHKey,
    make_host_key: Callable[[], tuple[str, bytes, str]],
    fs_group: int | None,
    tmp_path: Path,
) -> None:
    """The chart's layout: an init container stages the Secret's key into an emptyDir, with or without
    the pod's fsGroup (OpenShift always sets one: the emptyDir is then 2777 and setgid)."""
    file_name, private, public_line = make_host_key()
    # The sandbox is per module: names unique per parameter.
    pod_name = f"staged-{file_name.split('_')[2]}-{'fsg' if fs_group else 'nofsg'}"
    source = mount_folder(mount_root, f"secret-{pod_name}", {file_name: private})
    pod = Kubelet(sandbox, fs_group).start_pod(
        pod_name,
        pvcs={f"{pod_name}-data": "/data"},
        empty_dirs={"tmp": "/tmp", "host-keys": STAGED_KEYS_DIR},
        secrets={source: HOST_KEYS_SOURCE},
    )
    env = {"SFTP_HOST_KEYS_DIR": STAGED_KEYS_DIR}
    init_paths = ("/tmp", HOST_KEYS_SOURCE, STAGED_KEYS_DIR)
    init = start_sftp(
        sandbox,
        f"{pod_name}-init",
        None,
        authorized_keys,
        env,
        command=["stage-host-keys"],
        pod=pod,
        pod_paths=init_paths,
    )
    assert init.wait_for_exit(60) == 0, init.logs()
    main = start_sftp(
        sandbox, pod_name, None, authorized_keys, env, pod=pod, pod_paths=("/data", "/tmp", STAGED_KEYS_DIR)
    )
    wait_until_serving(main)
    known_hosts = known_hosts_file(tmp_path / "known_hosts", public_line)
    put_and_get_with_openssh(main, client_key, known_hosts, tmp_path, "staged.bin")
    main.restart()  # a container restart keeps the pod's emptyDirs, the kubelet does not change them again
    wait_until_serving(main, times=2)
    put_and_get_with_openssh(main, client_key, known_hosts, tmp_path, "after-restart.bin")
    with SFTPServer(main, client_key, pod_name).ssh() as client, client.open_sftp() as sftp:
        with pytest.raises(PermissionError):
            sftp.open(f"{STAGED_KEYS_DIR}/keys/{file_name}").read()
        with pytest.raises(PermissionError):
            sftp.chmod(f"{STAGED_KEYS_DIR}/keys", 0o700)


def refusal_of_unlocked_keys(mode: str, advice: str = "Compare") -> str:
    """run-sftp's last line when the key directory on the data PVC is not locked."""
    return (
        f"run-sftp: host key directory {DATA_KEYS} is not locked (mode {mode}); only run-sftp locks it "
        f"(mode 000), so an SFTP client may have replaced it. {advice} the keys' fingerprints "
        f"(ssh-keygen -l -f) with those logged at the last start and 'chmod 000 {DATA_KEYS}' to trust "
        f"them, or remove {DATA_KEYS} to generate new ones."
    )


def start_pod_with_keys_on_the_pvc(
    sandbox: Sandbox, kubelet: Kubelet, pvc: str, pod_name: str, authorized_keys: Path
) -> RestrictedContainer:
    """The image's default layout: no Secret, host keys generated once into the data PVC."""
    pod = kubelet.start_pod(pod_name, pvcs={pvc: "/data"}, empty_dirs={"tmp": "/tmp"})
    return start_sftp(sandbox, pod_name, None, authorized_keys, pod=pod)


@pytest.mark.parametrize("fs_group", FS_GROUPS, ids=FS_GROUP_IDS)
def test_host_keys_generated_on_the_data_pvc_serve_the_next_pod(
    sandbox: Sandbox, authorized_keys: Path, client_key: SSHKey, fs_group: int | None, tmp_path: Path
) -> None:
    """With an fsGroup the kubelet leaves the PVC alone once its root matches (OnRootMismatch)."""
    kubelet = Kubelet(sandbox, fs_group, change_policy="OnRootMismatch")
    pvc = f"genkeys-{'fsg' if fs_group else 'nofsg'}"
    first = start_pod_with_keys_on_the_pvc(sandbox, kubelet, pvc, f"{pvc}-1", authorized_keys)
    wait_until_serving(first)
    known_hosts = logged_host_key(first, tmp_path / "known_hosts")
    sent = put_and_get_with_openssh(first, client_key, known_hosts, tmp_path, "kept.bin")
    warning = f"run-sftp: note: /data/.sftp-host-keys has the pod's fsGroup ({fs_group}): if it is on a PVC"
    assert (warning in first.logs()) == (fs_group is not None)
    first.remove()

    second = start_pod_with_keys_on_the_pvc(sandbox, kubelet, pvc, f"{pvc}-2", authorized_keys)
    wait_until_serving(second)
    result = openssh_sftp(second, client_key, f"get kept.bin {tmp_path / 'again'}\n", known_hosts)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again").read_bytes() == sent
    assert second.logs().count("generated new host keys") == 0


def test_keys_on_a_pvc_the_kubelet_opened_again_are_refused_until_locked_again(
    sandbox: Sandbox, authorized_keys: Path, client_key: SSHKey, tmp_path: Path
) -> None:
    """fsGroupChangePolicy Always (the default) re-applies the fsGroup to the whole PVC at each pod start:
    the locked key directory becomes 2770 and the keys 0660, which run-sftp cannot tell from a swap."""
    kubelet = Kubelet(sandbox, FS_GROUP)
    first = start_pod_with_keys_on_the_pvc(sandbox, kubelet, "rechown", "rechown-1", authorized_keys)
    wait_until_serving(first)
    known_hosts = logged_host_key(first, tmp_path / "known_hosts")
    first.remove()

    second = start_pod_with_keys_on_the_pvc(sandbox, kubelet, "rechown", "rechown-2", authorized_keys)
    assert second.wait_for_exit(60) == 1
    assert second.logs().strip().splitlines()[-1] == refusal_of_unlocked_keys(
        "2770",
        f"Its group is the pod's fsGroup ({FS_GROUP}) with setgid: the kubelet gives every directory of a "
        "volume mode 2770 at each pod start, a PVC's content too (fsGroupChangePolicy: Always, the "
        "default). Keep the host keys off the PVC (stage them from a Secret into an emptyDir: "
        "SFTP_HOST_KEYS_DIR, the chart's layout) or set the pod's fsGroupChangePolicy: OnRootMismatch. "
        "Then compare",
    )

    # What the message asks for: OnRootMismatch, then lock the checked keys again (as the pod's UID).
    kubelet.change_policy = "OnRootMismatch"
    debug = kubelet.start_pod("rechown-debug", pvcs={"rechown": "/data"})
    fix = sandbox.run(
        "sftp", name="rechown-debug", entrypoint=["chmod", "000", DATA_KEYS], **debug.run_options()
    )
    assert fix.wait_for_exit(60) == 0, fix.logs()
    third = start_pod_with_keys_on_the_pvc(sandbox, kubelet, "rechown", "rechown-3", authorized_keys)
    wait_until_serving(third)
    put_and_get_with_openssh(third, client_key, known_hosts, tmp_path, "after-fix.bin")


def test_a_key_directory_swapped_by_a_client_is_refused_on_restart(
    sandbox: Sandbox, authorized_keys: Path, client_key: SSHKey
) -> None:
    """The key directory's parent is sealed (no write bit), but on the data PVC a client can rename the
    parent itself and create its own key directory, never a locked one."""
    volume = sandbox.volume("swapdata")
    container = start_sftp(sandbox, "sftp-swap", volume, authorized_keys)
    wait_until_serving(container)
    server = SFTPServer(container, client_key, volume)
    with server.ssh() as client, client.open_sftp() as sftp:
        with pytest.raises(PermissionError):
            sftp.rename("/data/.sftp-host-keys/keys", "/data/.sftp-host-keys/moved")
        sftp.rename("/data/.sftp-host-keys", "/data/moved")
        sftp.mkdir("/data/.sftp-host-keys")
        sftp.mkdir("/data/.sftp-host-keys/keys")
        sftp.putfo(io.BytesIO(b"attacker key"), "/data/.sftp-host-keys/keys/ssh_host_ed25519_key")
    container.restart()
    assert container.wait_for_exit(60) == 1
    assert container.logs().strip().splitlines()[-1] == refusal_of_unlocked_keys("775")


def test_refuses_to_start_without_authorized_keys(sandbox: Sandbox, mount_root: Path) -> None:
    empty = mount_folder(mount_root, "no-keys", {})
    container = start_sftp(sandbox, "sftp-nokeys", sandbox.volume("nokeys"), empty)
    assert container.wait_for_exit(60) == 1
    assert container.logs().strip() == (
        "run-sftp: no authorized keys: mount a file with one public key per line at "
        "/etc/sftp/authorized-keys/authorized_keys (Secret or ConfigMap, read-only); "
        "password login is disabled"
    )

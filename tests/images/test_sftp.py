"""The sftp image under OpenShift's restricted profile: key-only SFTP, nothing else, host keys unreachable."""

from __future__ import annotations

import asyncio
import io
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from tests.images.conftest import SSHKey, make_ssh_key, mount_folder
from tests.support.containers import RestrictedContainer, Sandbox

pytestmark = pytest.mark.images

USER = "mlops"
PORT = 2222
# What the chart declares: the data PVC, a small emptyDir /tmp, the authorized keys read-only.
TMPFS = {"/tmp": "size=16m"}
AUTHORIZED_KEYS_DIR = "/etc/sftp/authorized-keys"
HOST_KEYS_SOURCE = "/etc/sftp/host-keys-source"
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
    volume: str,
    authorized_keys: Path,
    env: dict[str, str] | None = None,
    extra_volumes: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> RestrictedContainer:
    volumes = {volume: "/data", str(authorized_keys): AUTHORIZED_KEYS_DIR, **(extra_volumes or {})}
    read_only = [AUTHORIZED_KEYS_DIR, HOST_KEYS_SOURCE]
    return sandbox.run(
        "sftp",
        name=name,
        alias=name,
        env=env,
        tmpfs=TMPFS,
        volumes=volumes,
        read_only_mounts=read_only,
        command=command,
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


def openssh_client_options(server: SFTPServer) -> list[str]:
    """The OpenSSH client, non-interactive, with the test key; the throw-away host key is not pinned."""
    return [
        "-i",
        str(server.key.private_path),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
    ]


def test_openssh_sftp_put_recursive_works(server: SFTPServer, tmp_path: Path) -> None:
    """`sftp put -r` asks to copy directory modes (setstat); that is refused, the upload still succeeds."""
    tree = tmp_path / "tree" / "sub"
    tree.mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    for path in (tmp_path / "tree", tree):
        path.chmod(0o775)
    (tree / "a.txt").chmod(0o664)
    host, port = server.container.address(PORT)
    result = subprocess.run(
        [
            "sftp",
            "-b",
            "-",
            "-P",
            str(port),
            *openssh_client_options(server),
            f"{USER}@{host}",
        ],
        input=f"put -r {tmp_path / 'tree'} cli-tree\nls cli-tree/sub\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
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
            *openssh_client_options(server),
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


@pytest.mark.parametrize("make_host_key", [ed25519_openssh_host_key, ecdsa_pem_host_key])
def test_host_keys_staged_from_a_secret_are_served_and_locked(
    sandbox: Sandbox,
    mount_root: Path,
    authorized_keys: Path,
    client_key: SSHKey,
    make_host_key: Callable[[], tuple[str, bytes, str]],
) -> None:
    """The chart's layout: an init container stages the Secret's key into an emptyDir."""
    file_name, private, public_line = make_host_key()
    key_type = file_name.split("_")[2]  # the sandbox is per module: names unique per parameter
    source = mount_folder(mount_root, f"secret-{file_name}", {file_name: private})
    keys_volume = sandbox.volume(f"stagedkeys-{key_type}")
    env = {"SFTP_HOST_KEYS_DIR": "/var/lib/sftp-host-keys"}
    init = start_sftp(
        sandbox,
        f"sftp-init-{key_type}",
        sandbox.volume(f"stageddata-{key_type}"),
        authorized_keys,
        env=env,
        extra_volumes={keys_volume: "/var/lib/sftp-host-keys", str(source): HOST_KEYS_SOURCE},
        command=["stage-host-keys"],
    )
    assert init.wait_for_exit(60) == 0, init.logs()
    main = start_sftp(
        sandbox,
        f"sftp-staged-{key_type}",
        sandbox.volume(f"stageddata-{key_type}"),
        authorized_keys,
        env=env,
        extra_volumes={keys_volume: "/var/lib/sftp-host-keys"},
    )
    wait_until_serving(main)
    served = SFTPServer(main, client_key, f"stageddata-{key_type}")
    host_key = served.host_key()
    assert f"{host_key.get_name()} {host_key.get_base64()}" == public_line
    with served.ssh() as client, client.open_sftp() as sftp:
        with pytest.raises(PermissionError):
            sftp.open(f"/var/lib/sftp-host-keys/keys/{file_name}").read()
        with pytest.raises(PermissionError):
            sftp.chmod("/var/lib/sftp-host-keys/keys", 0o700)


def test_a_key_directory_swapped_by_a_client_is_refused_on_restart(
    sandbox: Sandbox, authorized_keys: Path, client_key: SSHKey
) -> None:
    """A client can rename the locked directory and create its own, but never a locked one."""
    volume = sandbox.volume("swapdata")
    container = start_sftp(sandbox, "sftp-swap", volume, authorized_keys)
    wait_until_serving(container)
    server = SFTPServer(container, client_key, volume)
    with server.ssh() as client, client.open_sftp() as sftp:
        sftp.rename("/data/.sftp-host-keys/keys", "/data/.sftp-host-keys/moved")
        sftp.mkdir("/data/.sftp-host-keys/keys")
        sftp.putfo(io.BytesIO(b"attacker key"), "/data/.sftp-host-keys/keys/ssh_host_ed25519_key")
    container.restart()
    assert container.wait_for_exit(60) == 1
    assert (
        "run-sftp: host key directory /data/.sftp-host-keys/keys is not locked (mode 775); only run-sftp "
        "locks it (mode 000), so an SFTP client may have replaced it." in container.logs()
    )


def test_refuses_to_start_without_authorized_keys(sandbox: Sandbox, mount_root: Path) -> None:
    empty = mount_folder(mount_root, "no-keys", {})
    container = start_sftp(sandbox, "sftp-nokeys", sandbox.volume("nokeys"), empty)
    assert container.wait_for_exit(60) == 1
    assert container.logs().strip() == (
        "run-sftp: no authorized keys: mount a file with one public key per line at "
        "/etc/sftp/authorized-keys/authorized_keys (Secret or ConfigMap, read-only); "
        "password login is disabled"
    )

"""The sftp:// artifact store against a real OpenSSH server (the sftp image): files, trees, keys, host keys,
server restarts and connections dropped mid-upload."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from tests.support.containers import REPO_ROOT, Sandbox, image_missing
from tests.support.sftp import (
    PASSPHRASE,
    ClientKeys,
    SFTPServer,
    fingerprint,
    start_sftp_server,
    workdir_removed_after,
)

from mlops_stack.sftp_store import SFTPArtifactRepository
from mlops_stack.sftp_store.errors import HostKeyError, SFTPConfigError, SFTPConnectError

pytestmark = [
    pytest.mark.images,
    pytest.mark.skipif(bool(image_missing("sftp")), reason=image_missing("sftp") or ""),
]

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with workdir_removed_after("store-sftp-") as path:
        yield path


@pytest.fixture(scope="module")
def keys(workdir: Path) -> ClientKeys:
    return ClientKeys.generate(workdir)


@pytest.fixture(scope="module")
def server(workdir: Path, keys: ClientKeys) -> Iterator[SFTPServer]:
    with Sandbox("store-") as sandbox:
        yield start_sftp_server(sandbox, workdir, keys.public_lines())


@pytest.fixture(scope="module")
def known_hosts(server: SFTPServer, workdir: Path) -> Path:
    return server.known_hosts(workdir / "known_hosts")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, keys: ClientKeys, known_hosts: Path) -> pytest.MonkeyPatch:
    for name in ("MLOPS_SFTP_KEY", "MLOPS_SFTP_KEY_PASSPHRASE", "MLOPS_SFTP_MAX_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_SFTP_KEY_FILE", str(keys.private("ed25519")))
    monkeypatch.setenv("MLOPS_SFTP_KNOWN_HOSTS", str(known_hosts))
    return monkeypatch


@pytest.fixture
def root(request: pytest.FixtureRequest) -> str:
    """A fresh store root per test, so tests never see each other's files."""
    return f"/data/{request.node.name.replace('[', '-').replace(']', '')}"


@pytest.fixture
def repo(env: pytest.MonkeyPatch, server: SFTPServer, root: str) -> SFTPArtifactRepository:
    return get_artifact_repository(server.uri(root))


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def write_tree(base: Path) -> dict[str, bytes]:
    files = {
        "README.md": b"top level\n",
        "data/train.csv": b"a,b\n1,2\n",
        "data/splits/fold-1/idx.txt": b"1 2 3\n",
        "data/splits/fold-2/idx.txt": b"4 5 6\n",
        "model/weights.bin": os.urandom(300_000),
    }
    for rel, content in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(content)
    return files


def test_sftp_scheme_resolves_to_this_store_not_mlflows_pysftp_one(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str
) -> None:
    assert type(repo) is SFTPArtifactRepository
    assert (repo.location.host, repo.location.port, repo.location.root) == (server.host, server.port, root)


def test_files_and_nested_directories_log_list_download_delete(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = write_tree(src)
    single = tmp_path / "metrics.json"
    single.write_text('{"rmse": 0.5}')

    repo.log_artifact(str(single))
    repo.log_artifact(str(single), "reports/2026")
    repo.log_artifacts(str(src), "run")

    assert server.listdir(root) == ["metrics.json", "reports", "run"]
    assert (
        server.sha256(f"{root}/run/model/weights.bin")
        == hashlib.sha256(files["model/weights.bin"]).hexdigest()
    )
    assert [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()] == [
        ("metrics.json", False, 13),
        ("reports", True, None),
        ("run", True, None),
    ]
    assert [(f.path, f.is_dir) for f in repo.list_artifacts("run/data")] == [
        ("run/data/splits", True),
        ("run/data/train.csv", False),
    ]
    assert repo.list_artifacts("run/README.md") == []  # a file, as MLflow's contract asks
    assert repo.list_artifacts("no/such/dir") == []

    dst = tmp_path / "dst"
    dst.mkdir()
    local = Path(repo.download_artifacts("run", str(dst)))
    downloaded = {str(p.relative_to(local)): p.read_bytes() for p in local.rglob("*") if p.is_file()}
    assert downloaded == files
    one = repo.download_artifacts("reports/2026/metrics.json", str(dst))
    assert Path(one).read_text() == '{"rmse": 0.5}'

    repo.delete_artifacts("run/data/splits")
    assert server.listdir(f"{root}/run/data") == ["train.csv"]
    repo.delete_artifacts("metrics.json")
    repo.delete_artifacts("does/not/exist")  # already gone: not an error
    assert [f.path for f in repo.list_artifacts()] == ["reports", "run"]
    repo.delete_artifacts()
    assert not server.exists(root)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sftp://host:2222/data", "has no user; expected sftp://user@host:port/path"),
        ("sftp://mlops:secret@host:2222/data", "passwords in sftp:// URIs are not supported"),
        ("sftp://mlops@host:2222/", "has no directory"),
        ("sftp://mlops@host:99999/data", "has an invalid port"),
    ],
)
def test_bad_uris_name_what_to_fix(env: pytest.MonkeyPatch, uri: str, message: str) -> None:
    with pytest.raises(SFTPConfigError, match=re.escape(message)):
        get_artifact_repository(uri)


def test_missing_key_names_the_variables(env: pytest.MonkeyPatch, server: SFTPServer, tmp_path: Path) -> None:
    env.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* to fall back on
    env.setenv("MLOPS_SFTP_KEY_FILE", str(tmp_path / "nope"))
    with pytest.raises(SFTPConfigError, match=r"MLOPS_SFTP_KEY_FILE=.*/nope does not exist"):
        get_artifact_repository(server.uri("/data/x"))
    env.delenv("MLOPS_SFTP_KEY_FILE")
    with pytest.raises(
        SFTPConfigError, match="set MLOPS_SFTP_KEY_FILE to a private key file, or MLOPS_SFTP_KEY"
    ):
        get_artifact_repository(server.uri("/data/x"))


def test_hashed_known_hosts_entry_with_port_is_accepted(
    env: pytest.MonkeyPatch, server: SFTPServer, root: str, workdir: Path
) -> None:
    hashed = server.known_hosts(workdir / "known_hosts-hashed")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().startswith("|1|")
    env.setenv("MLOPS_SFTP_KNOWN_HOSTS", str(hashed))
    assert get_artifact_repository(server.uri(root)).list_artifacts() == []


def test_artifact_paths_cannot_escape_the_store_root(repo: SFTPArtifactRepository, tmp_path: Path) -> None:
    single = tmp_path / "x.txt"
    single.write_text("x")
    with pytest.raises(SFTPConfigError, match="outside the store root"):
        repo.log_artifact(str(single), "../../etc")


def test_downloading_a_missing_artifact_says_it_does_not_exist(
    repo: SFTPArtifactRepository, tmp_path: Path
) -> None:
    with pytest.raises(MlflowException, match=r"No such artifact: 'no/such/model\.pkl'") as raised:
        repo.download_artifacts("no/such/model.pkl", str(tmp_path))
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.slow
def test_200_mb_file_round_trips_with_the_same_sha256(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(200):
            f.write(os.urandom(MiB))
    expected = sha256_file(big)

    started = time.monotonic()
    repo.log_artifact(str(big), "large")
    uploaded = time.monotonic()
    dst = tmp_path / "dst"
    dst.mkdir()
    local = repo.download_artifacts("large/big.bin", str(dst))
    downloaded = time.monotonic()

    assert os.path.getsize(local) == 200 * MiB
    assert sha256_file(local) == expected
    assert server.sha256(f"{root}/large/big.bin") == expected
    print(f"200 MiB: upload {uploaded - started:.2f} s, download {downloaded - uploaded:.2f} s")


@pytest.mark.parametrize("key_name", ["ed25519", "ecdsa", "rsa"])
def test_each_key_type_logs_in_from_a_key_file(
    env: pytest.MonkeyPatch, keys: ClientKeys, server: SFTPServer, root: str, key_name: str, tmp_path: Path
) -> None:
    env.setenv("MLOPS_SFTP_KEY_FILE", str(keys.private(key_name)))
    note = tmp_path / f"{key_name}.txt"
    note.write_text(key_name)
    repo = get_artifact_repository(server.uri(root))
    repo.log_artifact(str(note))
    assert server.run(f"cat {root}/{key_name}.txt") == key_name


def test_key_text_from_env_with_passphrase_logs_in(
    env: pytest.MonkeyPatch, keys: ClientKeys, server: SFTPServer, root: str, tmp_path: Path
) -> None:
    env.delenv("MLOPS_SFTP_KEY_FILE")
    env.setenv("MLOPS_SFTP_KEY", keys.private("ed25519-passphrase").read_text())
    env.setenv("MLOPS_SFTP_KEY_PASSPHRASE", PASSPHRASE)
    note = tmp_path / "note.txt"
    note.write_text("from env")
    get_artifact_repository(server.uri(root)).log_artifact(str(note))
    assert server.run(f"cat {root}/note.txt") == "from env"


def test_encrypted_key_without_passphrase_names_the_variable(
    env: pytest.MonkeyPatch, keys: ClientKeys, server: SFTPServer, root: str
) -> None:
    env.setenv("MLOPS_SFTP_KEY_FILE", str(keys.private("ed25519-passphrase")))
    with pytest.raises(SFTPConfigError, match="encrypted: set MLOPS_SFTP_KEY_PASSPHRASE"):
        get_artifact_repository(server.uri(root)).list_artifacts()


def test_key_not_in_authorized_keys_is_refused_with_its_fingerprint(
    env: pytest.MonkeyPatch, server: SFTPServer, root: str, workdir: Path
) -> None:
    stranger = ClientKeys.generate(workdir, "stranger-keys").private("ed25519")
    env.setenv("MLOPS_SFTP_KEY_FILE", str(stranger))
    expected = fingerprint(Path(f"{stranger}.pub"))
    with pytest.raises(SFTPConnectError, match=re.escape(f"refused the key ssh-ed25519 {expected}")):
        get_artifact_repository(server.uri(root)).list_artifacts()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other key for [host]:port", "SFTP host key mismatch: {name} presented ssh-ed25519 {fp}"),
        ("entry without the port", "unknown SFTP host key: {name} presented ssh-ed25519 {fp}"),
        ("empty known_hosts", "unknown SFTP host key: {name} presented ssh-ed25519 {fp}"),
    ],
)
def test_wrong_or_unknown_host_key_is_refused_naming_host_and_fingerprint(
    env: pytest.MonkeyPatch, server: SFTPServer, root: str, workdir: Path, case: str, message: str
) -> None:
    name = f"[{server.host}]:{server.port}"
    other = ClientKeys.generate(workdir, f"other-host-key-{case.split()[0]}").private("ed25519")
    other_key = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    lines = {
        "other key for [host]:port": f"{name} {other_key}\n",
        # The right key but filed without the port: OpenSSH would not use it for port != 22, nor do we.
        "entry without the port": f"{server.host} {server.host_key_public}\n",
        "empty known_hosts": "",
    }
    bad = workdir / f"known_hosts-{case.replace(' ', '-').replace(':', '')}"
    bad.write_text(lines[case])
    env.setenv("MLOPS_SFTP_KNOWN_HOSTS", str(bad))

    with pytest.raises(HostKeyError) as refused:
        get_artifact_repository(server.uri(root)).list_artifacts()
    expected = message.format(name=name, fp=server.host_key_fingerprint)
    assert expected in str(refused.value)
    assert "refusing to connect" in str(refused.value)


def test_full_disk_fails_the_upload_and_leaves_no_file(
    env: pytest.MonkeyPatch, keys: ClientKeys, workdir: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(24 * MiB))
    with Sandbox("store-") as sandbox:
        small = start_sftp_server(sandbox, workdir, keys.public_lines(), alias="small", data_tmpfs_size="8m")
        env.setenv("MLOPS_SFTP_KNOWN_HOSTS", str(small.known_hosts(workdir / "known_hosts-small")))
        repo = get_artifact_repository(small.uri("/data/full"))
        with pytest.raises(OSError, match=r"Failure|No space"):
            repo.log_artifact(str(big))
        assert small.listdir("/data/full") == []  # neither the artifact nor its partial file
        repo.log_artifact(str(keys.private("ed25519")) + ".pub")  # the session is still usable
        assert small.listdir("/data/full") == ["ed25519.pub"]


def test_refused_writes_fail_the_upload_instead_of_renaming_a_bad_file(
    env: pytest.MonkeyPatch, keys: ClientKeys, workdir: Path, tmp_path: Path
) -> None:
    # The server accepts the open and the rename but refuses every write: only the write statuses tell.
    config = workdir / "sshd_config-no-writes"
    image_config = (REPO_ROOT / "images" / "sftp" / "sshd_config").read_text()
    config.write_text(image_config.replace("-P setstat,", "-P write,setstat,"))
    assert config.read_text().count("-P write,") == 2
    data = tmp_path / "weights.bin"
    data.write_bytes(os.urandom(3 * MiB))
    with Sandbox("store-") as sandbox:
        server = start_sftp_server(sandbox, workdir, keys.public_lines(), alias="nowrite", sshd_config=config)
        env.setenv("MLOPS_SFTP_KNOWN_HOSTS", str(server.known_hosts(workdir / "known_hosts-nowrite")))
        repo = get_artifact_repository(server.uri("/data/refused"))
        with pytest.raises(PermissionError):
            repo.log_artifact(str(data))
        assert server.listdir("/data/refused") == []


def test_upload_into_a_directory_another_client_removed_recreates_it(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("again")
    repo.log_artifact(str(note), "logs")
    server.run(f"rm -rf {root}/logs")  # e.g. `mlflow gc` or another server worker
    repo.log_artifact(str(note), "logs")
    assert server.listdir(f"{root}/logs") == ["note.txt"]


def test_upload_after_a_server_restart_succeeds_on_a_new_session(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("before restart")
    second.write_text("after restart")
    repo.log_artifact(str(first))
    server.restart()
    repo.log_artifact(str(second))
    assert server.listdir(root) == ["first.txt", "second.txt"]
    assert server.run(f"cat {root}/second.txt") == "after restart"


class GatedStream(io.RawIOBase):
    """A readable stream that serves `before` bytes, then blocks until `gate` is set, then serves more."""

    def __init__(self, before: int, after: int, gate: threading.Event) -> None:
        self.left_before, self.left_after, self.gate = before, after, gate

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = MiB if size is None or size < 0 else min(size, MiB)
        if self.left_before:
            n = min(size, self.left_before)
            self.left_before -= n
            return os.urandom(n)
        self.gate.wait(timeout=60)
        n = min(size, self.left_after)
        self.left_after -= n
        return os.urandom(n)


def wait_for_partial(server: SFTPServer, directory: str, min_size: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.exists(directory):
            for name in server.listdir(directory):
                if name.endswith(".uploading"):
                    size = int(server.run(f"stat -c %s {directory}/{name}"))
                    if size >= min_size:
                        return name
        time.sleep(0.1)
    raise AssertionError(f"no partial upload of {min_size} bytes appeared in {directory}")


def test_server_killed_mid_upload_leaves_no_file_under_the_final_name(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str
) -> None:
    gate = threading.Event()
    stream = GatedStream(before=16 * MiB, after=64 * MiB, gate=gate)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            repo.log_artifact_from_stream(stream, "model.bin", "models")
        except BaseException as err:
            errors.append(err)

    uploader = threading.Thread(target=upload)
    uploader.start()
    partial = wait_for_partial(server, f"{root}/models", min_size=1)
    server.kill()
    gate.set()
    uploader.join(timeout=120)
    assert not uploader.is_alive()
    assert len(errors) == 1, "the upload must fail when the server dies under it"

    server.start()
    assert server.listdir(f"{root}/models") in ([], [partial])  # only the hidden partial name, if anything
    assert repo.list_artifacts("models") == []
    # The next upload on the same repository reconnects by itself.
    repo.log_artifact_from_stream(io.BytesIO(b"complete"), "model.bin", "models")
    assert server.run(f"cat {root}/models/model.bin") == "complete"


def write_all(writer: io.RawIOBase, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[writer.write(view) or 0 :]


def wait_until_closed(path: Path, timeout: float = 30) -> None:
    """Wait until no file descriptor of this process refers to `path`."""

    def open_here() -> bool:
        for fd in Path("/proc/self/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return True
        return False

    deadline = time.monotonic() + timeout
    while open_here():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} is still open after {timeout} s")
        time.sleep(0.02)


def open_fifo_once_read(fifo: Path, timeout: float = 30) -> io.RawIOBase:
    """Open a FIFO for writing as soon as a reader has it open (never blocks forever)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as err:
            if err.errno != errno.ENXIO or time.monotonic() > deadline:
                raise AssertionError(f"nobody opened {fifo} for reading again (no retry?)") from err
            time.sleep(0.05)
            continue
        os.set_blocking(fd, True)
        return open(fd, "wb", buffering=0)


def kill_sftp_sessions(server: SFTPServer) -> None:
    """Kill the per-connection sshd processes (children of the listening sshd, PID 1): the server stays up."""
    server.run(
        "for s in /proc/[0-9]*/status; do "
        'p=${s%/status}; p=${p#/proc/}; [ "$p" = 1 ] && continue; '
        "grep -q '^PPid:[[:space:]]*1$' $s && grep -q '^Name:[[:space:]]*sshd' $s && kill -9 $p; "
        "done; true"
    )


def test_connection_dropped_mid_upload_is_retried_from_scratch_on_a_new_session(
    repo: SFTPArtifactRepository, server: SFTPServer, root: str, tmp_path: Path
) -> None:
    # A FIFO as the local file makes the drop happen at a known point: after the first 8 MiB.
    fifo = tmp_path / "weights.bin"
    os.mkfifo(fifo)
    content = os.urandom(48 * MiB)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            repo.log_artifact(str(fifo), "w")
        except BaseException as err:
            errors.append(err)

    uploader = threading.Thread(target=upload)
    uploader.start()
    with open(fifo, "wb", buffering=0) as writer:
        write_all(writer, content[: 8 * MiB])
        wait_for_partial(server, f"{root}/w", min_size=1)
        kill_sftp_sessions(server)
    # EOF: the first attempt reads what is left, then cannot finish on its dead session and closes the
    # file. The retry opens it again (a second reader of the FIFO) and gets the whole content.
    wait_until_closed(fifo)
    with open_fifo_once_read(fifo) as writer:
        write_all(writer, content)
    uploader.join(timeout=120)
    assert not uploader.is_alive()
    assert errors == []
    assert server.sha256(f"{root}/w/weights.bin") == hashlib.sha256(content).hexdigest()
    assert [f.path for f in repo.list_artifacts("w")] == ["w/weights.bin"]

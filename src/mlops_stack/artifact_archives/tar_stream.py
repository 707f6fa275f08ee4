"""Write and read the archives: plain ustar/PAX, regular files and directories only, checked names.

Python's own `extractall(filter="data")` would do the checking, but the images' Python (Debian's 3.11.2)
predates it; the rules here are stricter anyway (no links of any kind, no devices)."""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

BLOCK = tarfile.BLOCKSIZE
CHUNK = 1024 * 1024


def pack(members: Iterable[tuple[str, str]], fileobj: BinaryIO) -> None:
    """Write (local file, name in the archive) pairs as one archive."""
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for local_file, name in members:
            info = archive.gettarinfo(local_file, arcname=name)
            _plain(info)
            with open(local_file, "rb") as data:
                archive.addfile(info, data)


def stream_members(members: Iterable[tuple[str, str | None]]) -> Iterator[bytes]:
    """(name, local file, or None for an empty directory) as archive bytes, one file at a time (never the
    whole archive in memory or on disk); each local file is deleted once it is sent."""
    for name, local in members:
        info = tarfile.TarInfo(name)
        if local is None:
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            yield info.tobuf(format=tarfile.PAX_FORMAT)
            continue
        info.size, info.mode = os.path.getsize(local), 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        with open(local, "rb") as data:
            while chunk := data.read(CHUNK):
                yield chunk
        os.unlink(local)
        if info.size % BLOCK:
            yield b"\0" * (BLOCK - info.size % BLOCK)
    yield b"\0" * (2 * BLOCK)  # the end-of-archive marker


def unpack(fileobj: BinaryIO, destination: str) -> list[str]:
    """Extract an archive read front to back (a socket will do) below `destination`; the names written."""
    written = []
    root = os.path.realpath(destination)
    with tarfile.open(fileobj=fileobj, mode="r|") as archive:
        for member in archive:
            target = os.path.join(root, *checked_name(member).split("/"))
            if os.path.commonpath([root, os.path.realpath(os.path.dirname(target))]) != root:
                raise refused(member.name, "leads outside the destination")
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.extractfile(member) as data, open(target, "wb") as out:
                shutil.copyfileobj(data, out, CHUNK)
            written.append(member.name)
    return written


def checked_name(member: tarfile.TarInfo) -> str:
    if not (member.isreg() or member.isdir()):
        raise refused(member.name, "is not a regular file or directory")
    name = member.name.rstrip("/")
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise refused(member.name, "is not a plain relative path")
    return name


def refused(name: str, why: str) -> MlflowException:
    return MlflowException(f"artifact archive: member {name!r} {why}", error_code=INVALID_PARAMETER_VALUE)


def _plain(info: tarfile.TarInfo) -> None:
    if not info.isreg():
        raise refused(info.name, "is not a regular file")
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644

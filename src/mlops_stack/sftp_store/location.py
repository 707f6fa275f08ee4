"""Parse `sftp://user@host:port/path` artifact URIs."""

from __future__ import annotations

import posixpath
import urllib.parse
from dataclasses import dataclass

from mlops_stack.sftp_store.errors import SFTPConfigError
from mlops_stack.ssh.known_hosts import DEFAULT_PORT, known_hosts_name


@dataclass(frozen=True)
class SFTPLocation:
    """Where artifacts live: the login and the absolute directory on the server."""

    user: str
    host: str
    port: int
    root: str

    @property
    def known_hosts_name(self) -> str:
        """The name OpenSSH files this server under in known_hosts (`[host]:port` off port 22)."""
        return known_hosts_name(self.host, self.port)

    @property
    def uri(self) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{self.root}"

    def remote_path(self, relative: str | None) -> str:
        """The absolute server path of an artifact path relative to the root; never escapes the root."""
        if not relative or relative in (".", "/"):
            return self.root
        joined = posixpath.normpath(posixpath.join(self.root, relative.lstrip("/")))
        if joined != self.root and not joined.startswith(self.root.rstrip("/") + "/"):
            raise SFTPConfigError(f"artifact path {relative!r} points outside the store root {self.root}")
        return joined


def parse_sftp_uri(uri: str) -> SFTPLocation:
    """Split an artifact URI into user, host, port and root; bad input names what to fix."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme != "sftp":
        raise SFTPConfigError(f"not an sftp:// URI: {uri!r}")
    if not parsed.hostname:
        raise SFTPConfigError(f"{uri!r} has no host; expected sftp://user@host:port/path")
    if parsed.password is not None:
        raise SFTPConfigError(
            f"{parsed.hostname}: passwords in sftp:// URIs are not supported (they would be stored in "
            "the tracking database); remove it and give a key via MLOPS_SFTP_KEY_FILE or MLOPS_SFTP_KEY"
        )
    if not parsed.username:
        raise SFTPConfigError(f"{uri!r} has no user; expected sftp://user@host:port/path")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError as err:
        raise SFTPConfigError(f"{uri!r} has an invalid port: {err}") from None
    path = urllib.parse.unquote(parsed.path)
    if not path or path == "/":
        raise SFTPConfigError(f"{uri!r} has no directory; expected sftp://user@host:port/absolute/path")
    root = posixpath.normpath(path)
    user = urllib.parse.unquote(parsed.username)
    return SFTPLocation(user=user, host=parsed.hostname, port=port, root=root)

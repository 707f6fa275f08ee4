"""Which directory of the SFTP server holds one project's DVC data: one directory per project.

Projects must not share a DVC remote directory: `dvc gc --cloud` deletes every object of the remote that
the project running it does not reference, so in a shared directory one project's clean-up deletes the
other projects' data versions. The path comes, in this order, from `--dvc-remote-path`, from the remote
already committed in `.dvc/config` (teammates' clones keep the path the project started with), from the
Git remote `origin` (`git@host:team/iris.git` -> `<base>/team/iris`), or from the project folder's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

DVC_BASE = "/data/dvc"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SCP_LIKE = re.compile(r"^[^/:]+@?[^/:]*:(?!//)(?P<path>.+)$")  # git@host:team/iris.git


@dataclass(frozen=True)
class ProjectPath:
    path: str
    reason: str


def _clean(parts: list[str]) -> str:
    safe = [_UNSAFE.sub("-", p).strip("-.") for p in parts if p not in ("", ".", "..")]
    return "/".join(p for p in safe if p)


def git_remote_project(url: str) -> str:
    """`team/iris` for `git@host:team/iris.git`, `https://host/team/iris.git` or `ssh://host/team/iris`;
    only the last component for a local path (`/srv/git/iris.git` -> `iris`)."""
    if "://" in url:
        path = urlsplit(url).path
        local = url.startswith("file://")
    elif match := _SCP_LIKE.match(url):
        path, local = match.group("path"), False
    else:
        path, local = url, True
    parts = PurePosixPath(path.removesuffix("/").removesuffix(".git")).parts
    parts = [p for p in parts if p != "/"]
    return _clean(parts[-1:] if local else parts)


def _origin_url(root: Path) -> str | None:
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        return next(iter(repo.remote("origin").urls), None)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None


def project_remote_path(root: Path, override: str | None, committed: str | None) -> ProjectPath:
    """The remote directory for the DVC project at `root`; `committed` is the path of the remote's URL
    already in .dvc/config (None when there is none)."""
    if override:
        return ProjectPath(override, "from --dvc-remote-path")
    if committed:
        return ProjectPath(committed, "as already committed in .dvc/config")
    if (origin := _origin_url(root)) and (name := git_remote_project(origin)):
        return ProjectPath(f"{DVC_BASE}/{name}", f"one directory per project, from the Git remote {origin}")
    name = _clean([root.name]) or "project"
    return ProjectPath(f"{DVC_BASE}/{name}", f"one directory per project, from the folder name {root.name!r}")

"""`tracked_run`: an MLflow run that can always be traced back to its code, its data and its packages.

    import mlflow
    from mlops_stack import tracked_run

    with tracked_run("iris", run_name="baseline") as run:
        mlflow.log_params({"C": 1.0})
        ...

Before the run starts, Git must have no uncommitted changes to tracked files, nor new `*.dvc` /
`dvc.lock` files (the team's method: code and data versions are committed first). The run is then
tagged with the commit, branch, dirty flag and remote URL (MLflow's own `mlflow.source.git.*` tags),
the md5 of every DVC-tracked input and the installed package versions (a summary tag plus the
artifact `environment/requirements.txt`).
"""

from __future__ import annotations

import contextlib
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml

if TYPE_CHECKING:
    # Imported lazily below: GitPython fails at import time on machines without a `git` binary (the
    # server images import this package for the artifact store and never call tracked_run).
    import git
    from mlflow import ActiveRun

TAG_DIRTY = "mlflow.source.git.dirty"
TAG_COMMIT = "mlflow.source.git.commit"
TAG_BRANCH = "mlflow.source.git.branch"
TAG_REPO_URL = "mlflow.source.git.repoURL"
TAG_AUTO_COMMIT = "mlops.git.auto_commit"
TAG_DVC_PREFIX = "mlops.dvc.md5."
TAG_PACKAGES = "mlops.packages"
TAG_PYTHON = "mlops.python"
REQUIREMENTS_ARTIFACT = "environment/requirements.txt"
DVC_INPUTS_ARTIFACT = "environment/dvc-inputs.json"
_TAG_VALUE_LIMIT = 8000  # MLflow's MAX_TAG_VAL_LENGTH
_DVC_METADATA = re.compile(r"(^|/)(dvc\.lock|dvc\.yaml|[^/]+\.dvc)$")


class DirtyWorkingTreeError(RuntimeError):
    """Uncommitted changes to tracked code or DVC metadata: the run could not be reproduced."""


class NotAGitRepositoryError(RuntimeError):
    """tracked_run needs a Git repository to tie the run to a commit."""


@dataclass
class GitState:
    commit: str
    branch: str | None
    remote_url: str | None
    changed: list[str] = field(default_factory=list)

    @property
    def dirty(self) -> bool:
        return bool(self.changed)


def _public_url(url: str) -> str:
    """A remote URL without the password/token some people put in https remotes."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def uncommitted_changes(repo: git.Repo) -> list[str]:
    """Tracked files changed (staged or not) plus DVC metadata files Git does not track yet."""
    changed = {d.a_path for d in repo.index.diff(None)}
    if repo.head.is_valid():
        changed |= {d.a_path for d in repo.index.diff("HEAD")}
    changed |= {p for p in repo.untracked_files if _DVC_METADATA.search(p)}
    return sorted(changed)


def git_state(repo: git.Repo) -> GitState:
    if not repo.head.is_valid():
        raise NotAGitRepositoryError(f"{repo.working_tree_dir} has no commit yet: commit your code first")
    remote = next((r for r in repo.remotes if r.name == "origin"), next(iter(repo.remotes), None))
    return GitState(
        commit=repo.head.commit.hexsha,
        branch=None if repo.head.is_detached else repo.active_branch.name,
        remote_url=_public_url(next(remote.urls)) if remote else None,
        changed=uncommitted_changes(repo),
    )


def auto_commit_changes(repo: git.Repo, changed: list[str], message: str) -> str:
    """Commit exactly the files that made the tree dirty (never other untracked files)."""
    existing = [p for p in changed if Path(repo.working_tree_dir, p).exists()]
    removed = [p for p in changed if p not in existing]
    if existing:
        repo.index.add(existing)
    if removed:
        repo.index.remove(removed)
    return repo.index.commit(message).hexsha


def dvc_metadata_files(repo: git.Repo) -> list[Path]:
    """`*.dvc` and `dvc.lock` files Git tracks or would track (ignored data directories are not walked)."""
    listed = repo.git.ls_files("--cached", "--others", "--exclude-standard", "--", "*.dvc", "*dvc.lock")
    root = Path(repo.working_tree_dir or ".")
    paths = {root / line for line in listed.splitlines() if _DVC_METADATA.search(line)}
    return sorted(p for p in paths if p.is_file() and p.name != "dvc.yaml")


def dvc_inputs(root: Path, metadata_files: list[Path]) -> dict[str, str]:
    """{path relative to the repo: md5} for every output of a `*.dvc` file and every dep/out in `dvc.lock`."""
    found: dict[str, str] = {}
    for meta in metadata_files:
        doc = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        entries = list(doc.get("outs") or [])
        for stage in (doc.get("stages") or {}).values():
            entries += list(stage.get("deps") or []) + list(stage.get("outs") or [])
        for entry in entries:
            md5 = entry.get("md5") if isinstance(entry, dict) else None
            if md5 and entry.get("path"):
                path = (meta.parent / entry["path"]).resolve().relative_to(root.resolve())
                found[path.as_posix()] = md5
    return found


def _tag_key(prefix: str, path: str) -> str:
    # MLflow tag keys allow letters, digits, _ . - / space and ':' only, 250 characters at most.
    return (prefix + re.sub(r"[^/\w.\- :]", "_", path))[:250]


def installed_packages() -> list[str]:
    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            seen.setdefault(name.lower(), f"{name}=={dist.version}")
    return sorted(seen.values(), key=str.lower)


def _packages_summary(packages: list[str]) -> str:
    text = ", ".join(packages)
    if len(text) <= _TAG_VALUE_LIMIT:
        return text
    suffix = f" ... (all {len(packages)} in {REQUIREMENTS_ARTIFACT})"
    return text[: _TAG_VALUE_LIMIT - len(suffix)].rsplit(", ", 1)[0] + suffix


def _use_configured_tracking_uri() -> None:
    """Point MLflow at the tracking URI by the one rule of client/config.py (`tracking_uri`).

    When MLflow already has a URI (`mlflow.set_tracking_uri()`, which also exports MLFLOW_TRACKING_URI,
    or the variable itself), the rule's first step gives that URI: MLflow is left as it is.
    """
    import mlflow
    from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

    if is_tracking_uri_set():
        return
    from .client.config import tracking_uri

    if uri := tracking_uri():
        mlflow.set_tracking_uri(uri)


def _check_tree(
    repo: git.Repo, state: GitState, allow_dirty: bool | Literal["warn"], auto_commit: bool, message: str
) -> tuple[GitState, bool]:
    if not state.dirty:
        return state, False
    if auto_commit:
        auto_commit_changes(repo, state.changed, message)
        return git_state(repo), True
    listing = ", ".join(state.changed[:10]) + (" ..." if len(state.changed) > 10 else "")
    text = (
        f"uncommitted changes in {repo.working_tree_dir}: {listing}. Commit them first "
        "(the run must point at a commit holding the code and .dvc files that produced it), "
        "or pass auto_commit=True"
    )
    if allow_dirty == "warn":
        warnings.warn(text, stacklevel=4)
    elif not allow_dirty:
        raise DirtyWorkingTreeError(text)
    return state, False


@contextlib.contextmanager
def tracked_run(
    experiment: str,
    run_name: str | None = None,
    *,
    allow_dirty: bool | Literal["warn"] = False,
    auto_commit: bool = False,
    commit_message: str | None = None,
    repo_path: str | Path = ".",
    tags: Mapping[str, str] | None = None,
    log_environment: bool = True,
) -> Iterator[ActiveRun]:
    """Start an MLflow run in `experiment` tied to the Git commit, DVC data versions and packages.

    allow_dirty: False (default) raises DirtyWorkingTreeError on uncommitted changes; "warn" warns and
        tags the run dirty; True allows it silently (still tagged dirty).
    auto_commit: commit the changed files first (GitPython), as the team's method allows for code
        changes; the commit message is `commit_message` or names the experiment and run.
    repo_path: where to look for the Git repository (parents are searched).
    tags: extra tags; log_environment: also log requirements.txt and dvc-inputs.json as artifacts.
    Yields mlflow's ActiveRun; the run ends FAILED if the block raises.
    """
    import git
    import mlflow

    try:
        repo = git.Repo(Path(repo_path), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as err:
        raise NotAGitRepositoryError(
            f"{Path(repo_path).resolve()} is not inside a Git repository: `git init` and commit your code "
            "so the run can point at the code that produced it"
        ) from err
    message = commit_message or f"tracked_run: {experiment}/{run_name or 'run'} (auto-commit)"
    state, committed = _check_tree(repo, git_state(repo), allow_dirty, auto_commit, message)

    root = Path(repo.working_tree_dir or ".")
    inputs = dvc_inputs(root, dvc_metadata_files(repo))
    packages = installed_packages()
    run_tags = {
        TAG_COMMIT: state.commit,
        TAG_DIRTY: str(state.dirty).lower(),
        TAG_AUTO_COMMIT: str(committed).lower(),
        TAG_PACKAGES: _packages_summary(packages),
        TAG_PYTHON: sys.version.split()[0],
    }
    if state.branch:
        run_tags[TAG_BRANCH] = state.branch
    if state.remote_url:
        run_tags[TAG_REPO_URL] = state.remote_url
    run_tags.update({_tag_key(TAG_DVC_PREFIX, path): md5 for path, md5 in inputs.items()})
    run_tags.update(tags or {})

    _use_configured_tracking_uri()
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, tags=run_tags) as run:
        if log_environment:
            mlflow.log_text("\n".join(packages) + "\n", REQUIREMENTS_ARTIFACT)
            mlflow.log_dict(inputs, DVC_INPUTS_ARTIFACT)
        yield run

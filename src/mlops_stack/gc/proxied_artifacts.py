"""Resolve `mlflow-artifacts:` URIs the way the tracking server's artifact proxy does.

With `--serve-artifacts`, runs record artifact URIs such as `mlflow-artifacts:/1/<run>/artifacts`, which a
client resolves through the server's HTTP proxy. `mlflow gc` run beside the database has no server to ask:
MLflow then skips the artifacts with a warning and deletes only the rows, so the files would stay on the
store for ever. Mapped onto the server's `--artifacts-destination` instead, the files are deleted from the
store directly, with the same credentials the server uses.
"""

from __future__ import annotations

import posixpath
import urllib.parse

from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.store.artifact.artifact_repository_registry import (
    _artifact_repository_registry,
    get_artifact_repository,
)

SCHEME = "mlflow-artifacts"


def destination_uri(artifact_uri: str, destination: str) -> str:
    """`mlflow-artifacts:/1/abc/artifacts` (or with a host) -> `<destination>/1/abc/artifacts`."""
    parsed = urllib.parse.urlsplit(artifact_uri)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not an {SCHEME}: URI: {artifact_uri!r}")
    relative = posixpath.normpath(parsed.path.lstrip("/") or ".")
    if relative == ".." or relative.startswith("../"):
        raise ValueError(f"{artifact_uri!r} points outside the artifact destination")
    base = destination.rstrip("/")
    return base if relative == "." else f"{base}/{relative}"


def resolve_to(destination: str) -> None:
    """From now on, `mlflow-artifacts:` URIs open the destination's repository (this process only)."""

    def repository(
        artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> ArtifactRepository:
        return get_artifact_repository(destination_uri(artifact_uri, destination))

    _artifact_repository_registry.register(SCHEME, repository)

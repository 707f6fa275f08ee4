"""The server side: routes in front of MLflow's own native artifact routes that answer `?archive=tar`
requests, stream single files from a store that can (`streamed_file`), and hand every other request to
MLflow's handler, unchanged.

They serve MLflow's artifact URLs, so MLflow's authentication and permission middleware, which judges a
request by its path and method, lets an archive request in or refuses it exactly as a single-file request
to the same URL. The store is MLflow's own (`--artifacts-destination`), used through its public
`log_artifacts` / `download_artifacts`; a store that cannot be reached answers 503 (retried by MLflow's
clients), as for single files.

MLflow internals used here (pinned: mlflow==3.17.2): the two endpoint functions of
`mlflow.server.artifact_router` and its four helpers (serving switch, workspace scoping, the store, the
Content-Disposition header).
`install` refuses to start when they are not what it expects.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import tarfile
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from fastapi import HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)
from mlflow.server import artifact_router as mlflow_routes
from mlflow.utils.uri import validate_path_is_safe
from starlette.requests import Request
from starlette.routing import Route

from mlops_stack.artifact_archives import (
    ARCHIVE_QUERY,
    CONTENT_TYPE,
    FEATURE_PATH,
    FEATURE_VERSION,
    streamed_file,
)
from mlops_stack.artifact_archives.tar_stream import stream_members, unpack
from mlops_stack.byte_pieces import coalesced, coalesced_async

ARTIFACT_ROUTE = "{prefix}/mlflow-artifacts/artifacts/{{artifact_path:path}}"
PREFIXES = ("/api/2.0", "/ajax-api/2.0")
# Files downloaded ahead of the one being sent: enough to keep the store's parallel sessions busy.
PREFETCH = 8
SEND_PIECE = 1024 * 1024
EXPECTED_SIGNATURES = {
    "download_artifact": ["artifact_path"],
    "upload_artifact": ["artifact_path", "request"],
    "_content_disposition": ["filename"],
}


def install(app) -> None:
    """Put the archive routes and the feature route first in MLflow's FastAPI `app` (before its own
    artifact routes and its Flask mount). A WSGI app (MLflow under gunicorn or waitress) is left as it
    is: no feature route, so clients send single files."""
    if not hasattr(app, "router") or getattr(app.state, "mlops_artifact_archives", False):
        return
    for name, parameters in EXPECTED_SIGNATURES.items():
        endpoint = getattr(mlflow_routes, name, None)
        if endpoint is None or list(inspect.signature(endpoint).parameters) != parameters:
            raise RuntimeError(
                f"mlops-stack artifact archives: mlflow.server.artifact_router.{name} is not the"
                f" {name}({', '.join(parameters)}) of mlflow==3.17.2; install that version"
            )
    routes = [Route(FEATURE_PATH, features, methods=["GET"])]
    for prefix in PREFIXES:
        path = ARTIFACT_ROUTE.format(prefix=prefix)
        routes += [Route(path, download, methods=["GET"]), Route(path, upload, methods=["PUT"])]
    app.router.routes[0:0] = routes
    app.state.mlops_artifact_archives = True


async def features(request: Request) -> JSONResponse:
    return JSONResponse({"archive": ARCHIVE_QUERY["archive"], "version": FEATURE_VERSION})


async def download(request: Request):
    artifact_path = request.path_params["artifact_path"]
    if _asks_for_archive(request):
        return await _answer(_download_archive(request, artifact_path))
    if not mlflow_routes._is_serving_proxied_artifacts():
        return await mlflow_routes.download_artifact(artifact_path)  # its own refusal
    return await _answer(_download_file(artifact_path))


async def _download_file(artifact_path: str):
    store = _store()
    if not streamed_file.can_stream(store):
        return await mlflow_routes.download_artifact(artifact_path)
    return await streamed_file.streamed(store, _store_path(artifact_path))


async def upload(request: Request):
    artifact_path = request.path_params["artifact_path"]
    if not _asks_for_archive(request):
        return await mlflow_routes.upload_artifact(artifact_path, request)
    return await _answer(_upload_archive(request, artifact_path))


def _asks_for_archive(request: Request) -> bool:
    return request.query_params.getlist("archive") == [ARCHIVE_QUERY["archive"]]


async def _answer(handling):
    try:
        return await handling
    except MlflowException as e:
        return JSONResponse(status_code=e.get_http_status_code(), content=json.loads(e.serialize_as_json()))


async def _upload_archive(request: Request, artifact_path: str) -> JSONResponse:
    path, store = _store_path(artifact_path), _store()
    with tempfile.TemporaryDirectory(prefix="mlops-archive-") as tmp:
        archive_path = os.path.join(tmp, "upload.tar")
        with open(archive_path, "wb") as archive:
            async for piece in coalesced_async(request.stream(), SEND_PIECE):
                await asyncio.to_thread(archive.write, piece)
        files = os.path.join(tmp, "files")
        os.mkdir(files)
        names = await asyncio.to_thread(_unpack_file, archive_path, files)
        os.unlink(archive_path)  # the tree below is all the store needs: free the space now
        if names:
            await asyncio.to_thread(store.log_artifacts, files, path or None)
    return JSONResponse({"files": len(names)})


async def _download_archive(request: Request, artifact_path: str) -> StreamingResponse:
    path, store = _store_path(artifact_path), _store()
    entries = await asyncio.to_thread(_tree, store, path)
    if not entries:
        raise MlflowException(
            f"no directory with artifacts at {path!r}: download single files one by one",
            error_code=RESOURCE_DOES_NOT_EXIST,
        )
    # The first file fails here, as a status code, not in the middle of the body.
    first = await asyncio.to_thread(_fetch_first, store, entries[0]) if entries[0][1] is not None else None

    def body():  # a sync generator: Starlette runs it on the worker's threads
        with tempfile.TemporaryDirectory(prefix="mlops-archive-") as tmp:
            # Every piece Starlette sends from a sync generator costs a thread hop and a socket write, and a
            # small file is three pieces (header, data, padding).
            yield from coalesced(stream_members(_fetched(store, entries, tmp, first)), SEND_PIECE)

    return StreamingResponse(body(), media_type=CONTENT_TYPE, headers={"X-Content-Type-Options": "nosniff"})


def _tree(store, path: str) -> list[tuple[str, str | None]]:
    """(name below `path`, store path of the file, or None for an empty directory), depth first, in the
    order and with the empty directories of MLflow's own recursive download."""
    entries: list[tuple[str, str | None]] = []
    prefix = f"{path}/" if path else ""

    def walk(directory: str | None) -> bool:
        found = False
        for info in store.list_artifacts(directory):
            found = True
            name = info.path.removeprefix(prefix)
            if info.is_dir:
                if not walk(info.path):
                    entries.append((name, None))
            else:
                entries.append((name, info.path))
        return found

    walk(path or None)
    return entries


def _fetch_first(store, entry: tuple[str, str | None]) -> str:
    handle, local = tempfile.mkstemp(prefix="mlops-archive-first-")
    os.close(handle)
    try:
        store._download_file(entry[1], local)
    except BaseException:
        os.unlink(local)
        raise
    return local


def _fetched(store, entries, tmp: str, first: str | None) -> Iterator[tuple[str, str | None]]:
    """The entries with their files downloaded, PREFETCH at a time in parallel (the store's own
    `_download_file`, the method MLflow's download loop calls), so /tmp holds a few files, not the tree."""
    with ThreadPoolExecutor(PREFETCH, thread_name_prefix="mlops-archive-fetch") as pool:
        pending: deque[tuple[str, Future | None, str | None]] = deque()
        upcoming = iter(enumerate(entries))

        def submit() -> None:
            for index, (name, remote) in upcoming:
                if remote is None:
                    pending.append((name, None, None))
                elif index == 0 and first is not None:
                    pending.append((name, None, first))
                else:
                    local = os.path.join(tmp, str(index))
                    pending.append((name, pool.submit(store._download_file, remote, local), local))
                return

        for _ in range(PREFETCH):
            submit()
        try:
            while pending:
                name, future, local = pending.popleft()
                if future is not None:
                    future.result()
                submit()
                yield name, local
        finally:
            if first is not None and os.path.exists(first):
                os.unlink(first)
            for _, future, _ in pending:
                if future is not None:
                    future.cancel()


def _store_path(raw: str) -> str:
    """The store-relative directory the request names (MLflow's own checks and workspace scoping)."""
    _serving_or_refuse()
    return mlflow_routes._get_workspace_scoped_path(validate_path_is_safe(raw.rstrip("/")))


def _serving_or_refuse() -> None:
    if not mlflow_routes._is_serving_proxied_artifacts():
        raise MlflowException(
            "Artifact serving is disabled. Run `mlflow server` with `--serve-artifacts` to enable.",
            error_code=TEMPORARILY_UNAVAILABLE,
        )


def _store():
    try:
        return mlflow_routes._get_artifact_repo()
    except HTTPException as e:
        raise MlflowException(str(e.detail), error_code=TEMPORARILY_UNAVAILABLE) from e


def _unpack_file(archive_path: str, destination: str) -> list[str]:
    with open(archive_path, "rb") as archive:
        try:
            return unpack(archive, destination)
        except tarfile.TarError as e:
            raise MlflowException(
                f"artifact archive: not a readable tar ({e})", INVALID_PARAMETER_VALUE
            ) from e

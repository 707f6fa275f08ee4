"""Single-file downloads through the proxy straight from the store, without MLflow's copy to /tmp.

MLflow's download handler (3.17.2) downloads a file from a remote store into the server's /tmp and only
then sends it: a 200 MiB model crosses the server's disk twice before its first byte reaches the client,
and /tmp must hold every file being downloaded at once. A store that can stream (the sftp store's
`open_download_stream`) is sent as it is read, with MLflow's own headers plus a Content-Length, so a
client notices a body cut short. Any other store (local disk, S3...) gets MLflow's handler unchanged.
"""

from __future__ import annotations

import asyncio
import posixpath

from mlflow.server import artifact_router as mlflow_routes
from mlflow.utils.mime_type_utils import _guess_mime_type
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse


def can_stream(store) -> bool:
    return callable(getattr(store, "open_download_stream", None))


async def streamed(store, path: str) -> StreamingResponse:
    """The response for the file at store-relative `path`; a missing file, a directory or an unreachable
    store raise (MlflowException) before any byte, as status codes."""
    stream = await asyncio.to_thread(store.open_download_stream, path)
    filename = posixpath.basename(path)
    headers = {
        "Content-Type": _guess_mime_type(filename),
        "Content-Disposition": mlflow_routes._content_disposition(filename),
        "Content-Length": str(stream.size),
        "X-Content-Type-Options": "nosniff",
    }
    # The background task also runs when the client left before the body started (the iterator's own
    # `finally` never runs then): the store's session always goes back to its pool.
    return StreamingResponse(iter(stream), headers=headers, background=BackgroundTask(stream.close))

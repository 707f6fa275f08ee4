"""An HTTP request body written to SFTP while the rest of it is still arriving.

Receiving (the event loop) and writing (paramiko, in a thread) take turns unless they overlap: the next
piece is received while the previous one is written, one piece in flight at most, so memory stays at two
pieces whatever the file's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable

from mlops_stack.sftp_store.transfers import COPY_CHUNK


async def write_while_receiving(chunks: AsyncIterable[bytes], write: Callable[[bytes], None]) -> None:
    """`write` every byte of `chunks` in order, in pieces of about COPY_CHUNK (one thread hop per piece,
    not per HTTP chunk). Returns, or raises, only once no write is running any more."""
    in_flight: asyncio.Future[None] | None = None
    pending = bytearray()
    try:
        async for chunk in chunks:
            pending += chunk
            if len(pending) >= COPY_CHUNK:
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(asyncio.to_thread(write, bytes(pending)))
                pending.clear()
        if in_flight is not None:
            await in_flight
            in_flight = None
        if pending:
            await asyncio.to_thread(write, bytes(pending))
    finally:
        # A thread cannot be cancelled: whoever aborts the upload next must not share the session with it.
        if in_flight is not None and not in_flight.done():
            await asyncio.wait([in_flight])

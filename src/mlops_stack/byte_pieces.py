"""Byte streams regrouped into pieces of at least a given size.

A stream's own pieces can be small (an HTTP body arrives in 64 KiB chunks, a tar member is a header, its
data and its padding), and each piece handed to a thread or a socket costs a hop or a write of its own.
The server's upload and archive paths pass their streams through here first.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator


def coalesced(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The bytes of `pieces`, in order, in pieces of at least `size` (the last one may be shorter)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def coalesced_async(pieces: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """`coalesced` for an asynchronous stream (an HTTP request body)."""
    buffer = bytearray()
    async for piece in pieces:
        buffer += piece
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)

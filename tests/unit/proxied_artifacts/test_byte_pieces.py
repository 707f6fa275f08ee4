"""The server regroups upload bodies and archive streams into pieces of at least a MiB."""

import asyncio

from mlops_stack.byte_pieces import coalesced, coalesced_async

# A tar member of a small file (header, data, padding), then a body chunk larger than a piece.
PIECES = [b"h" * 512, b"d" * 1000, b"\0" * 24, b"x" * 3000, b"", b"t" * 10]


def test_pieces_are_regrouped_to_at_least_the_size_and_keep_every_byte_in_order():
    out = list(coalesced(PIECES, 1024))
    assert [len(p) for p in out] == [512 + 1000, 24 + 3000, 10]
    assert b"".join(out) == b"".join(PIECES)


def test_an_empty_stream_gives_no_piece():
    assert list(coalesced([], 1024)) == []
    assert list(coalesced([b""], 1024)) == []


def test_an_asynchronous_body_is_regrouped_the_same_way():
    async def body():
        for piece in PIECES:
            await asyncio.sleep(0)
            yield piece

    async def collect():
        return [p async for p in coalesced_async(body(), 1024)]

    assert asyncio.run(collect()) == list(coalesced(PIECES, 1024))

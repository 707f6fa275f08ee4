"""A receive buffer for paramiko channels that stays fast when megabytes are queued.

paramiko's `BufferedPipe` keeps incoming data in one `array` and deletes every consumed slice from its
front, so each read copies everything still buffered. With a large channel window and read-ahead
(`SFTPFile.prefetch`) the buffer holds megabytes, and a 200 MB download spent most of its time in
those copies (16 MB/s measured, see bench/README.md). Keeping the received packets as a queue of
byte strings makes a read cost only the bytes it returns.

The class plugs into paramiko through the two hooks `BufferedPipe` defines for its storage
(`_buffer_frombytes`/`_buffer_tobytes`) and the `_buffer` it measures and slices; everything else
(locking, timeouts, close, events) is paramiko's own code.
"""

from __future__ import annotations

from collections import deque

from paramiko.buffered_pipe import BufferedPipe


class _PacketQueue:
    """The subset of `array.array` that `BufferedPipe` uses: len, frombytes, [:n], del [:n]."""

    __slots__ = ("_packets", "_size")

    def __init__(self) -> None:
        self._packets: deque[bytes] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def frombytes(self, data: bytes) -> None:
        if data:
            self._packets.append(bytes(data))
            self._size += len(data)

    def take(self, limit: int | None) -> bytes:
        """Remove and return up to `limit` bytes from the front (all when None)."""
        if limit is None or limit >= self._size:
            out = b"".join(self._packets)
            self._packets.clear()
            self._size = 0
            return out
        parts = []
        need = limit
        while need:
            head = self._packets[0]
            if len(head) <= need:
                parts.append(self._packets.popleft())
                need -= len(head)
            else:
                parts.append(head[:need])
                self._packets[0] = head[need:]
                need = 0
        self._size -= limit
        return b"".join(parts)

    def __getitem__(self, part: slice) -> _Taken:
        return _Taken(self, part.stop)

    def __delitem__(self, part: slice) -> None:
        # BufferedPipe deletes what it just read; `take` already removed it.
        return None


class _Taken:
    """`buffer[:n]` as BufferedPipe calls it: `.tobytes()` consumes those bytes."""

    __slots__ = ("_limit", "_queue")

    def __init__(self, queue: _PacketQueue, limit: int | None) -> None:
        self._queue = queue
        self._limit = limit

    def tobytes(self) -> bytes:
        return self._queue.take(self._limit)


class PacketQueuePipe(BufferedPipe):
    """Drop-in `Channel.in_buffer` whose reads do not copy the unread remainder."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = _PacketQueue()

    def _buffer_frombytes(self, data: bytes) -> None:
        self._buffer.frombytes(data)

    def _buffer_tobytes(self, limit: int | None = None) -> bytes:
        return self._buffer.take(limit)

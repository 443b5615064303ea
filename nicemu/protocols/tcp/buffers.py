"""The bounded send buffer and the reassembling receive buffer of one connection.

Both address their bytes by unbounded sequence number (see ``sequence``).
"""

from __future__ import annotations

_COMPACT_AT = 64 * 1024  # dropping acked bytes one ACK at a time would copy the buffer on every ACK


class SendBuffer:
    """Bytes the user has sent and the peer has not yet acknowledged, at most ``capacity`` of them."""

    __slots__ = ("_data", "_head", "capacity", "seq")

    def __init__(self, capacity: int, seq: int) -> None:
        self.capacity = capacity
        self.seq = seq
        """Sequence number of the first byte held."""
        self._data = bytearray()
        self._head = 0

    def __len__(self) -> int:
        return len(self._data) - self._head

    @property
    def space(self) -> int:
        """How many more bytes ``append`` would take."""
        return self.capacity - len(self)

    @property
    def end(self) -> int:
        """Sequence number just past the last byte held."""
        return self.seq + len(self)

    def append(self, data: bytes) -> int:
        """Take as much of ``data`` as fits; returns how many bytes were taken."""
        taken = min(len(data), self.space)
        self._data += data[:taken]
        return taken

    def peek(self, seq: int, length: int) -> bytes:
        """``length`` bytes from sequence number ``seq``, which must be held."""
        start = self._head + seq - self.seq
        return bytes(self._data[start:start + length])

    def acknowledge(self, seq: int) -> int:
        """Drop the bytes before ``seq``; returns how many were dropped."""
        dropped = max(0, min(seq - self.seq, len(self)))
        self.seq += dropped
        self._head += dropped
        if self._head >= _COMPACT_AT and self._head * 2 >= len(self._data):
            del self._data[:self._head]
            self._head = 0
        return dropped


class _Block:
    """A run of out-of-order bytes, and when it last grew (the newest goes first in SACK)."""

    __slots__ = ("data", "stamp", "start")

    def __init__(self, start: int, data: bytes, stamp: int) -> None:
        self.start = start
        self.data = data
        self.stamp = stamp

    @property
    def end(self) -> int:
        return self.start + len(self.data)


class ReceiveBuffer:
    """Received bytes in order, waiting to be read, plus out-of-order blocks waiting for the gaps.

    ``nxt`` is the sequence number of the next byte expected in order. The
    caller keeps everything inside the window it advertised, so the bytes held
    in order and out of order together stay within ``capacity`` (plus the
    rounding of a scaled window).
    """

    __slots__ = ("_blocks", "_data", "_head", "_stamp", "capacity", "nxt")

    def __init__(self, capacity: int, nxt: int) -> None:
        self.capacity = capacity
        self.nxt = nxt
        self._data = bytearray()
        self._head = 0
        self._blocks: list[_Block] = []  # sorted, disjoint and never adjacent
        self._stamp = 0

    @property
    def readable(self) -> int:
        """Bytes ready to be read, in order."""
        return len(self._data) - self._head

    @property
    def space(self) -> int:
        """Room left after the bytes waiting to be read: what the window may offer."""
        return max(0, self.capacity - self.readable)

    @property
    def has_gaps(self) -> bool:
        """Whether any bytes wait out of order."""
        return bool(self._blocks)

    @property
    def out_of_order_bytes(self) -> int:
        """Bytes held out of order."""
        return sum(len(block.data) for block in self._blocks)

    def read(self, size: int) -> bytes:
        """Take up to ``size`` bytes in order."""
        start = self._head
        taken = bytes(self._data[start:start + size])
        self._head += len(taken)
        if self._head >= _COMPACT_AT and self._head * 2 >= len(self._data):
            del self._data[:self._head]
            self._head = 0
        return taken

    def add(self, seq: int, data: bytes) -> int:
        """Store ``data`` received at ``seq``; returns how many bytes became readable in order.

        Bytes before ``nxt`` are duplicates and dropped. Bytes after a gap are
        kept until the gap fills.
        """
        if seq < self.nxt:
            data = data[self.nxt - seq:]
            seq = self.nxt
        if not data:
            return 0
        if seq > self.nxt:
            self._queue(seq, data)
            return 0
        before = self.nxt
        self._data += data
        self.nxt += len(data)
        while self._blocks and self._blocks[0].start <= self.nxt:
            block = self._blocks.pop(0)
            if block.end > self.nxt:
                self._data += block.data[self.nxt - block.start:]
                self.nxt = block.end
        return self.nxt - before

    def _queue(self, seq: int, data: bytes) -> None:
        end = seq + len(data)
        self._stamp += 1
        kept: list[_Block] = []
        merged_start, merged_end = seq, end
        touching: list[_Block] = []
        for block in self._blocks:
            if block.end < seq or block.start > end:
                kept.append(block)
            else:
                touching.append(block)
                merged_start = min(merged_start, block.start)
                merged_end = max(merged_end, block.end)
        if touching:
            merged = bytearray(merged_end - merged_start)
            merged[seq - merged_start:end - merged_start] = data
            for block in touching:
                merged[block.start - merged_start:block.end - merged_start] = block.data
            block = _Block(merged_start, bytes(merged), self._stamp)
        else:
            block = _Block(seq, data, self._stamp)
        kept.append(block)
        kept.sort(key=lambda b: b.start)
        self._blocks = kept

    def sack_blocks(self, count: int) -> list[tuple[int, int]]:
        """Up to ``count`` (start, end) ranges held out of order, the most recently grown first (RFC 2018)."""
        newest = sorted(self._blocks, key=lambda b: b.stamp, reverse=True)[:count]
        return [(block.start, block.end) for block in newest]

    def truncate(self, end: int) -> None:
        """Forget out-of-order bytes at or after ``end`` (the peer's FIN says none can exist)."""
        kept = []
        for block in self._blocks:
            if block.end <= end:
                kept.append(block)
            elif block.start < end:
                kept.append(_Block(block.start, block.data[:end - block.start], block.stamp))
        self._blocks = kept

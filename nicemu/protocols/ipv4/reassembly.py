"""IPv4 fragment reassembly, bounded in datagrams, bytes and time.

A guest (or a hostile one) can send fragments that never complete, overlap,
or claim a huge datagram. Every case is bounded and counted. At most
``max_datagrams`` are in progress and at most ``memory_cap`` bytes are held;
the oldest datagram makes room. A datagram not complete within ``timeout``
seconds is dropped. Overlapping fragments drop the whole datagram, as RFC
5722 teaches for IPv6; exact duplicates are ignored, as Linux does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_DATAGRAM_PAYLOAD = 65535 - 20
"""The most an IPv4 datagram can carry after its smallest header."""


@dataclass(slots=True)
class _Datagram:
    """Fragments of one datagram so far: offset → payload, in arrival order."""

    started: float
    fragments: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None
    held: int = 0
    first_header: bytes | None = None


@dataclass(frozen=True, slots=True)
class Expired:
    """A datagram that timed out after its first fragment arrived: worth an ICMP time exceeded."""

    src: bytes
    first_header: bytes
    first_payload: bytes


class Reassembler:
    """Collects fragments keyed by (source, destination, protocol, identification)."""

    __slots__ = ("max_datagrams", "memory_cap", "timeout", "_datagrams", "_held", "counters")

    def __init__(self, max_datagrams: int = 64, memory_cap: int = 4 * 1024 * 1024, timeout: float = 30.0) -> None:
        self.max_datagrams = max_datagrams
        self.memory_cap = memory_cap
        self.timeout = timeout
        self._datagrams: dict[tuple[bytes, bytes, int, int], _Datagram] = {}
        self._held = 0
        self.counters: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._datagrams)

    @property
    def held(self) -> int:
        """Bytes of fragment payload held now."""
        return self._held

    def add(self, key: tuple[bytes, bytes, int, int], offset: int, more: bool, payload: bytes, header: bytes,
            now: float) -> bytes | None:
        """Add one fragment (``offset`` in bytes); returns the whole payload when this completes it."""
        end = offset + len(payload)
        if end > MAX_DATAGRAM_PAYLOAD:
            self.counters["drop.too_long"] += 1
            return None
        if more and len(payload) % 8:
            # Only the last fragment may end off an 8-byte boundary.
            self.counters["drop.bad_fragment_length"] += 1
            return None
        datagram = self._datagrams.get(key)
        if datagram is None:
            self._make_room(len(payload))
            datagram = self._datagrams[key] = _Datagram(now)
        if not more:
            if datagram.total is not None and datagram.total != end:
                self._drop(key, "drop.conflicting_end")
                return None
            datagram.total = end
        elif datagram.total is not None and end > datagram.total:
            self._drop(key, "drop.past_the_end")
            return None
        existing = datagram.fragments.get(offset)
        if existing is not None and existing == payload:
            self.counters["duplicate_fragments"] += 1
            return None
        for other, data in datagram.fragments.items():
            if offset < other + len(data) and other < end:
                self._drop(key, "drop.overlap")
                return None
        if self._held + len(payload) > self.memory_cap:
            self._make_room(len(payload), keep=key)
        datagram.fragments[offset] = bytes(payload)
        datagram.held += len(payload)
        self._held += len(payload)
        if offset == 0:
            datagram.first_header = header
        self.counters["fragments"] += 1
        return self._complete(key, datagram)

    def _complete(self, key: tuple[bytes, bytes, int, int], datagram: _Datagram) -> bytes | None:
        if datagram.total is None or datagram.held != datagram.total:
            return None
        # Held bytes equal the total and fragments never overlap, so they tile it exactly.
        whole = b"".join(datagram.fragments[offset] for offset in sorted(datagram.fragments))
        del self._datagrams[key]
        self._held -= datagram.held
        self.counters["reassembled"] += 1
        return whole

    def _drop(self, key: tuple[bytes, bytes, int, int], reason: str) -> None:
        datagram = self._datagrams.pop(key)
        self._held -= datagram.held
        self.counters[reason] += 1

    def _make_room(self, incoming: int, keep: tuple[bytes, bytes, int, int] | None = None) -> None:
        # Oldest first: dict order is insertion order.
        while self._datagrams and (len(self._datagrams) >= self.max_datagrams
                                   or self._held + incoming > self.memory_cap):
            oldest = next((k for k in self._datagrams if k != keep), None)
            if oldest is None:
                return
            self._drop(oldest, "drop.evicted")

    def expire(self, now: float) -> list[Expired]:
        """Drop datagrams older than the timeout; those whose first fragment came are returned."""
        expired: list[Expired] = []
        for key in [k for k, d in self._datagrams.items() if now - d.started >= self.timeout]:
            datagram = self._datagrams[key]
            if datagram.first_header is not None:
                expired.append(Expired(key[0], datagram.first_header, datagram.fragments[0][:8]))
            self._drop(key, "drop.timeout")
        return expired

    def next_deadline(self) -> float | None:
        """When the oldest datagram in progress times out, if any is."""
        return min((d.started + self.timeout for d in self._datagrams.values()), default=None)

"""A learning switch's forwarding table: MAC → port, aged out, bounded."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class MacEntry:
    """Where one MAC was last seen, and until when that holds."""

    port: Hashable
    expires: float


class MacTable:
    """MAC addresses learned from source addresses, forgotten ``ageing`` seconds after last seen.

    Time is passed in. When full, the entry nearest expiry makes room, so a
    guest sending from random MACs churns the table but never grows it.
    """

    __slots__ = ("ageing", "capacity", "_entries", "learned", "moves", "aged_out", "evicted")

    def __init__(self, ageing: float = 300.0, capacity: int = 4096) -> None:
        self.ageing = ageing
        self.capacity = capacity
        self._entries: dict[bytes, MacEntry] = {}
        self.learned = 0
        self.moves = 0
        self.aged_out = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._entries)

    def learn(self, mac: bytes, port: Hashable, now: float) -> None:
        """``mac`` was the source of a frame that came in on ``port`` at ``now``."""
        entries = self._entries
        entry = entries.get(mac)
        if entry is not None:
            if entry.port != port:
                entry.port = port
                self.moves += 1
            entry.expires = now + self.ageing
            return
        if len(entries) >= self.capacity:
            del entries[min(entries, key=lambda key: entries[key].expires)]
            self.evicted += 1
        entries[mac] = MacEntry(port, now + self.ageing)
        self.learned += 1

    def lookup(self, mac: bytes, now: float) -> Hashable | None:
        """The port ``mac`` is behind, or None when unknown or aged out (an aged entry is removed)."""
        entry = self._entries.get(mac)
        if entry is None:
            return None
        if entry.expires <= now:
            del self._entries[mac]
            self.aged_out += 1
            return None
        return entry.port

    def forget_port(self, port: Hashable) -> int:
        """Drop every entry behind ``port`` (it went away); returns how many."""
        stale = [mac for mac, entry in self._entries.items() if entry.port == port]
        for mac in stale:
            del self._entries[mac]
        return len(stale)

    def snapshot(self, now: float) -> dict[str, Hashable]:
        """Live entries as MAC text → port, for reports."""
        return {mac.hex(":"): entry.port for mac, entry in self._entries.items() if entry.expires > now}

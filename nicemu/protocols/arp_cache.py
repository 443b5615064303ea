"""The ARP cache: IPv4 address → MAC, with ageing and a size bound."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ArpEntry:
    """One resolved neighbour."""

    mac: bytes
    expires: float


class ArpCache:
    """Neighbours learned from ARP, forgotten ``timeout`` seconds after last confirmed.

    Time is passed in, never read from a clock, so tests age entries by
    moving ``now``. When full, the entry closest to expiry makes room: a
    guest flooding ARP can churn the cache but never grow it.
    """

    __slots__ = ("timeout", "capacity", "_entries")

    def __init__(self, timeout: float = 60.0, capacity: int = 1024) -> None:
        self.timeout = timeout
        self.capacity = capacity
        self._entries: dict[bytes, ArpEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ip: bytes) -> bool:
        return ip in self._entries

    def update(self, ip: bytes, mac: bytes, now: float) -> None:
        """Learn or refresh ``ip`` at ``mac``."""
        entries = self._entries
        if ip not in entries and len(entries) >= self.capacity:
            del entries[min(entries, key=lambda key: entries[key].expires)]
        entries[ip] = ArpEntry(bytes(mac), now + self.timeout)

    def lookup(self, ip: bytes, now: float) -> bytes | None:
        """The MAC for ``ip`` if known and not aged out; an aged entry is removed."""
        entry = self._entries.get(ip)
        if entry is None:
            return None
        if entry.expires <= now:
            del self._entries[ip]
            return None
        return entry.mac

    def flush(self) -> None:
        """Forget everything, as on a media disconnect."""
        self._entries.clear()

    def snapshot(self, now: float) -> dict[str, str]:
        """The live entries as dotted IP → MAC text, for reports."""
        return {".".join(map(str, ip)): entry.mac.hex(":")
                for ip, entry in self._entries.items() if entry.expires > now}

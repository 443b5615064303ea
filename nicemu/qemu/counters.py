"""What the transport layer counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class TransportCounters:
    """Connections, frames and bytes across the QEMU socket, and what went wrong there."""

    connections_accepted: int = 0
    connections_closed: int = 0
    connect_attempts: int = 0
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    read_pauses: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        """Flat name → count; error reasons appear as ``errors.<reason>``."""
        out = {name: getattr(self, name) for name in self.__slots__ if name != "errors"}
        out.update({f"errors.{reason}": n for reason, n in sorted(self.errors.items())})
        return out

"""The adapter's statistics, as OID_GEN_STATISTICS (NDIS_STATISTICS_INFO) reports them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class MiniportStatistics:
    """Frames and bytes in and out by destination class, and drops and errors by reason.

    Receive means from the wire (QEMU) towards the stack; transmit means from
    the stack onto the wire.
    """

    rcv_directed_frames: int = 0
    rcv_directed_bytes: int = 0
    rcv_multicast_frames: int = 0
    rcv_multicast_bytes: int = 0
    rcv_broadcast_frames: int = 0
    rcv_broadcast_bytes: int = 0
    xmit_directed_frames: int = 0
    xmit_directed_bytes: int = 0
    xmit_multicast_frames: int = 0
    xmit_multicast_bytes: int = 0
    xmit_broadcast_frames: int = 0
    xmit_broadcast_bytes: int = 0
    media_connects: int = 0
    media_disconnects: int = 0
    rcv_discards: Counter[str] = field(default_factory=Counter)
    rcv_errors: Counter[str] = field(default_factory=Counter)
    xmit_discards: Counter[str] = field(default_factory=Counter)

    @property
    def rcv_ok(self) -> int:
        """Frames indicated up (OID_GEN_RCV_OK)."""
        return self.rcv_directed_frames + self.rcv_multicast_frames + self.rcv_broadcast_frames

    @property
    def xmit_ok(self) -> int:
        """Frames put on the wire (OID_GEN_XMIT_OK)."""
        return self.xmit_directed_frames + self.xmit_multicast_frames + self.xmit_broadcast_frames

    def count_receive(self, dst: bytes | memoryview, length: int) -> None:
        """Count a frame accepted from the wire, by its destination class."""
        if dst[0] & 1:
            if dst == b"\xff\xff\xff\xff\xff\xff":
                self.rcv_broadcast_frames += 1
                self.rcv_broadcast_bytes += length
            else:
                self.rcv_multicast_frames += 1
                self.rcv_multicast_bytes += length
        else:
            self.rcv_directed_frames += 1
            self.rcv_directed_bytes += length

    def count_transmit(self, dst: bytes | memoryview, length: int) -> None:
        """Count a frame put on the wire, by its destination class."""
        if dst[0] & 1:
            if dst == b"\xff\xff\xff\xff\xff\xff":
                self.xmit_broadcast_frames += 1
                self.xmit_broadcast_bytes += length
            else:
                self.xmit_multicast_frames += 1
                self.xmit_multicast_bytes += length
        else:
            self.xmit_directed_frames += 1
            self.xmit_directed_bytes += length

    def as_dict(self) -> dict[str, int]:
        """Flat name → count, for reports and tests; reasons appear as ``rcv_discards.<reason>``."""
        out: dict[str, int] = {"rcv_ok": self.rcv_ok, "xmit_ok": self.xmit_ok}
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, Counter):
                out.update({f"{name}.{reason}": n for reason, n in sorted(value.items())})
            else:
                out[name] = value
        return out

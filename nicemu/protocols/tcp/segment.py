"""TCP segments as the engine sees them: header fields, parsed options and payload.

These are the engine's own minimal types; the wire codec maps its decoded
headers onto them. Sequence and acknowledgment numbers are the 32-bit values
from the wire; the engine unwraps them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20

_FLAG_LETTERS = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "."), (URG, "U"))


def flags_text(flags: int) -> str:
    """The flags in tcpdump's notation, e.g. ``S.`` for SYN+ACK."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "none"


@dataclass(frozen=True, slots=True)
class TcpOptions:
    """The TCP options the engine understands (RFC 9293 MSS, RFC 7323, RFC 2018).

    ``sack_blocks`` holds (left edge, right edge) pairs and ``timestamp`` the
    (TSval, TSecr) pair, all 32-bit wire values.
    """

    mss: int | None = None
    window_scale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None

    def length(self) -> int:
        """Bytes these options take in a header, padded to 4 as Linux lays them out."""
        size = 0
        if self.mss is not None:
            size += 4
        if self.window_scale is not None:
            size += 4
        if self.timestamp is not None:
            size += 12  # 10 bytes, with SACK-permitted or two NOPs before it
        elif self.sack_permitted:
            size += 4
        if self.sack_blocks:
            size += 4 + 8 * len(self.sack_blocks)
        return size


NO_OPTIONS = TcpOptions()
"""A segment without options."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment: the header fields the engine uses, its options and its payload.

    ``window`` is the raw 16-bit field, before any window scaling.
    """

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    options: TcpOptions = NO_OPTIONS
    payload: bytes = b""

    @property
    def seg_len(self) -> int:
        """Sequence space the segment occupies: its payload plus one for each of SYN and FIN."""
        return len(self.payload) + (self.flags & SYN) // SYN + (self.flags & FIN)

    def __repr__(self) -> str:
        return (f"Segment({self.src_port}>{self.dst_port} [{flags_text(self.flags)}] seq={self.seq} "
                f"ack={self.ack} win={self.window} len={len(self.payload)} {self.options})")


@dataclass(frozen=True, slots=True)
class AddressedSegment:
    """A segment with the network addresses it travels between, as the IP layer needs it."""

    src_addr: bytes
    dst_addr: bytes
    segment: Segment


def reset_for(segment: Segment) -> Segment | None:
    """The RST answering ``segment`` when it belongs to no connection (RFC 9293 3.10.7.1).

    A RST is never answered. A segment with ACK gets ``<SEQ=SEG.ACK><CTL=RST>``;
    one without gets ``<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>``.
    """
    if segment.flags & RST:
        return None
    if segment.flags & ACK:
        return Segment(segment.dst_port, segment.src_port, segment.ack, 0, RST, 0)
    return Segment(segment.dst_port, segment.src_port, 0, (segment.seq + segment.seg_len) & 0xFFFF_FFFF,
                   RST | ACK, 0)

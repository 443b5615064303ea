"""ICMP error messages about datagrams nicemu received (RFC 792, RFC 1122 3.2.2), rate-limited."""

from __future__ import annotations

from nicemu.wire.icmpv4 import Icmpv4Message, encode_icmpv4

ICMP_ERROR_TYPES = frozenset({3, 4, 5, 11, 12})
"""Destination unreachable, source quench, redirect, time exceeded, parameter problem."""

MAX_QUOTE = 576 - 20 - 8
"""As much of the offending datagram as fits a minimum-MTU reply, as Linux quotes it."""


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved; time passed in."""

    __slots__ = ("rate", "burst", "_tokens", "_last")

    def __init__(self, rate: float = 100.0, burst: float = 50.0) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last: float | None = None

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def may_answer_with_error(dst_is_unicast_ours: bool, src: bytes, protocol: int, first_fragment: bool,
                          payload: bytes) -> bool:
    """RFC 1122 3.2.2: never about an ICMP error, a non-first fragment, a broadcast, or a non-unicast source."""
    if not dst_is_unicast_ours or not first_fragment:
        return False
    if src[0] == 0 or src[0] >= 224 or src[0] == 127 or src == b"\xff\xff\xff\xff":
        return False
    return not (protocol == 1 and payload[:1] and payload[0] in ICMP_ERROR_TYPES)


def error_message(icmp_type: int, code: int, original_packet: bytes, rest: bytes = bytes(4)) -> bytes:
    """An ICMP error quoting the start of ``original_packet`` (its header and the payload after it)."""
    return encode_icmpv4(Icmpv4Message(type=icmp_type, code=code, checksum=0, rest=rest,
                                       payload=bytes(original_packet[:MAX_QUOTE])))

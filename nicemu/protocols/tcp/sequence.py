"""32-bit sequence-number and timestamp arithmetic (RFC 1982 serial numbers).

The engine keeps sequence numbers as unbounded integers counted from the ISN
onward, so its comparisons are plain ``<``; only values crossing the wire are
wrapped to, or unwrapped from, 32 bits.
"""

from __future__ import annotations

MASK = 0xFFFF_FFFF
_HALF = 0x8000_0000


def unwrap(value: int, reference: int) -> int:
    """The unbounded number nearest ``reference`` whose low 32 bits are ``value``."""
    return reference + ((value - reference + _HALF) & MASK) - _HALF


def wrap(value: int) -> int:
    """The 32-bit wire value of an unbounded sequence number."""
    return value & MASK


def serial_lt(a: int, b: int) -> bool:
    """Whether 32-bit value ``a`` comes before ``b`` (for timestamps, RFC 7323 PAWS)."""
    return a != b and ((a - b) & MASK) >= _HALF

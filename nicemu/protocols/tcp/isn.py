"""Initial sequence numbers per RFC 6528, and RFC 7323 timestamp offsets.

``ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`` where M is
a 4-microsecond clock and F a keyed hash. The key is passed in, so the same key
and clock give the same numbers: tests are deterministic, and a real run picks
a random key.
"""

from __future__ import annotations

import hashlib

from nicemu.protocols.tcp.sequence import MASK

_TICKS_PER_SECOND = 250_000  # RFC 6528's M ticks every 4 microseconds


class IsnGenerator:
    """Picks ISNs and timestamp offsets for a 4-tuple from a secret key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not 1 <= len(key) <= 32:
            raise ValueError(f"ISN key must be 1 to 32 bytes, not {len(key)}")
        self._key = key

    def _hash(self, purpose: bytes, local_addr: bytes, local_port: int, remote_addr: bytes,
              remote_port: int) -> int:
        tuple_bytes = b"".join((local_addr, local_port.to_bytes(2, "big"), remote_addr,
                                remote_port.to_bytes(2, "big")))
        digest = hashlib.blake2s(tuple_bytes, digest_size=4, key=self._key, person=purpose).digest()
        return int.from_bytes(digest, "big")

    def isn(self, local_addr: bytes, local_port: int, remote_addr: bytes, remote_port: int, now: float) -> int:
        """The ISN for a connection on this 4-tuple opened at time ``now`` (seconds)."""
        clock = int(now * _TICKS_PER_SECOND)
        return (clock + self._hash(b"isn", local_addr, local_port, remote_addr, remote_port)) & MASK

    def timestamp_offset(self, local_addr: bytes, local_port: int, remote_addr: bytes, remote_port: int) -> int:
        """A per-connection offset for TSval, so timestamps do not reveal the clock (RFC 7323 7.1)."""
        return self._hash(b"tsoffset", local_addr, local_port, remote_addr, remote_port)

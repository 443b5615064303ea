"""QEMU's stream framing (``-netdev stream`` and ``-netdev socket`` over TCP or unix):
each frame is a 4-byte big-endian length followed by that many bytes.

Sans-IO: ``StreamDeframer.feed`` takes whatever a read returned (a partial
frame, several frames, a frame split inside its length prefix) and gives back
the whole frames it completed.
"""

from __future__ import annotations

import struct

QEMU_MAX_FRAME = 69_632
"""QEMU's NET_BUFSIZE (4096 + 65536): the largest frame its stream backends accept."""

MIN_FRAME = 14
"""An Ethernet header: anything shorter cannot be a frame."""

_LENGTH = struct.Struct(">I")


class FramingError(ValueError):
    """The peer sent a length prefix no QEMU would: the stream cannot be trusted past it."""

    def __init__(self, reason: str, length: int) -> None:
        super().__init__(f"{reason}: length prefix {length} outside {MIN_FRAME}..{QEMU_MAX_FRAME}")
        self.reason = reason
        self.length = length


class StreamDeframer:
    """Turns a byte stream into frames; holds at most one partial frame."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of their frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every frame now complete, in order.

        Raises ``FramingError`` at the first bad length prefix; the frames
        completed before it are lost with the connection, which QEMU treats
        the same way.
        """
        buffer = self._buffer
        if buffer:
            buffer += data
            view = bytes(buffer)
        else:
            view = data
        frames: list[bytes] = []
        offset = 0
        end = len(view)
        while end - offset >= 4:
            (length,) = _LENGTH.unpack_from(view, offset)
            if length > QEMU_MAX_FRAME:
                raise FramingError("oversize_frame", length)
            if length < MIN_FRAME:
                raise FramingError("runt_frame", length)
            start = offset + 4
            if end - start < length:
                break
            frames.append(view[start:start + length])
            offset = start + length
        if offset != end:
            self._buffer = bytearray(view[offset:])
        elif buffer:
            self._buffer = bytearray()
        return frames


def frame_stream(frames: list[bytes]) -> bytes:
    """Encode frames for the stream, length-prefixed, ready for one write."""
    pack = _LENGTH.pack
    return b"".join(pack(len(frame)) + frame for frame in frames)

"""NET_BUFFER_LIST and NET_BUFFER: the unit of every send and receive in NDIS 6.

A NET_BUFFER holds one frame's bytes (a window given by data offset and data
length over a buffer, so headers can be retreated or advanced without copying).
A NET_BUFFER_LIST groups NET_BUFFERs that share out-of-band information and is
chained to other NBLs through ``next``. Ownership moves with the calls that pass
an NBL; ``owner`` records it so the verifier in ``nicemu.ndis.verifier`` can
catch misuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nicemu.ndis.status import NdisStatus


class NetBuffer:
    """Models NET_BUFFER: one frame as a window over a buffer."""

    __slots__ = ("buffer", "data_offset", "data_length", "next")

    def __init__(self, buffer: bytes | bytearray | memoryview, data_offset: int = 0,
                 data_length: int | None = None) -> None:
        self.buffer = buffer
        self.data_offset = data_offset
        self.data_length = len(buffer) - data_offset if data_length is None else data_length
        self.next: NetBuffer | None = None

    def data(self) -> memoryview:
        """The frame's bytes, without copying (models NdisGetDataBuffer)."""
        return memoryview(self.buffer)[self.data_offset:self.data_offset + self.data_length]

    def advance(self, length: int) -> None:
        """Models NdisAdvanceNetBufferDataStart: skip a header the caller consumed."""
        if length > self.data_length:
            raise ValueError(f"cannot advance {length} bytes past a {self.data_length}-byte buffer")
        self.data_offset += length
        self.data_length -= length

    def retreat(self, length: int) -> None:
        """Models NdisRetreatNetBufferDataStart: give back bytes of a header already in the buffer."""
        if length > self.data_offset:
            raise ValueError(f"cannot retreat {length} bytes before offset {self.data_offset}")
        self.data_offset -= length
        self.data_length += length


class NetBufferList:
    """Models NET_BUFFER_LIST: NET_BUFFERs with shared out-of-band data and a status.

    ``source_handle`` is the handle of the driver that allocated the NBL, which
    NDIS uses to route the send-complete back. ``context`` is scratch space for
    whichever layer owns the NBL at the moment (NET_BUFFER_LIST_CONTEXT),
    ``info`` the per-NBL information (NET_BUFFER_LIST_INFO: 802.1Q tag,
    checksum verdicts) and ``flags`` the NBL flags.
    """

    __slots__ = ("first_net_buffer", "next", "status", "source_handle", "context", "info",
                 "flags", "owner", "completed")

    def __init__(self, first_net_buffer: NetBuffer | None = None, source_handle: Any = None) -> None:
        self.first_net_buffer = first_net_buffer
        self.next: NetBufferList | None = None
        self.status = NdisStatus.SUCCESS
        self.source_handle = source_handle
        self.context: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self.flags = 0
        self.owner: Any = None
        self.completed = False

    @classmethod
    def from_frame(cls, frame: bytes | bytearray | memoryview, source_handle: Any = None) -> NetBufferList:
        """Models NdisAllocateNetBufferAndNetBufferList over one frame's bytes."""
        return cls(NetBuffer(frame), source_handle)

    def net_buffers(self) -> Iterator[NetBuffer]:
        """The NET_BUFFERs of this NBL, first to last."""
        nb = self.first_net_buffer
        while nb is not None:
            yield nb
            nb = nb.next


def chain(nbls: list[NetBufferList]) -> NetBufferList | None:
    """Link NBLs through ``next`` and return the head, as NDIS calls take them."""
    head: NetBufferList | None = None
    for nbl in reversed(nbls):
        nbl.next = head
        head = nbl
    return head


def iterate(head: NetBufferList | None) -> Iterator[NetBufferList]:
    """Walk a chain of NBLs; safe against the caller relinking ``next`` as it goes."""
    while head is not None:
        following = head.next
        yield head
        head = following

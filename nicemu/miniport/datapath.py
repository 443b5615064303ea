"""The miniport's data path: frames from the wire up as NBLs, NBLs from NDIS onto the wire."""

from __future__ import annotations

from collections.abc import Iterable

from nicemu.miniport.adapter import ETHERNET_MIN_FRAME, Adapter
from nicemu.ndis.nbl import NetBufferList, iterate
from nicemu.ndis.oid import PacketType
from nicemu.ndis.status import NdisStatus

_BROADCAST = b"\xff\xff\xff\xff\xff\xff"
_PADDING = bytes(ETHERNET_MIN_FRAME)
_HEADER_LEN = 14


def _discard_reason(adapter: Adapter, frame: bytes) -> str | None:
    """Why the packet filter refuses ``frame``, or None when it passes."""
    packet_filter = adapter.packet_filter
    if frame[6:12] == adapter.current_address:
        # A multicast socket hears its own transmissions: never indicate them.
        return "own_transmission"
    if packet_filter & PacketType.PROMISCUOUS:
        return None
    dst = frame[0:6]
    if dst[0] & 1:
        if dst == _BROADCAST:
            return None if packet_filter & PacketType.BROADCAST else "broadcast_filtered"
        if packet_filter & PacketType.ALL_MULTICAST:
            return None
        if packet_filter & PacketType.MULTICAST and dst in adapter.multicast_list:
            return None
        return "multicast_filtered"
    if dst != adapter.current_address:
        return "other_destination"
    return None if packet_filter & PacketType.DIRECTED else "directed_filtered"


def receive_frames(adapter: Adapter, frames: Iterable[bytes]) -> None:
    """The wire delivered ``frames``: check, filter and count them, and indicate the rest.

    Frames go up in chains no longer than the free receive buffers, as a NIC
    indicates what its receive ring holds. A protocol that returns at once
    frees the buffers for the next chain; one that holds them makes the
    frames past the free buffers discards, counted as ``no_receive_buffer``.
    """
    statistics = adapter.statistics
    if not adapter.running:
        statistics.rcv_discards["paused"] += sum(1 for _ in frames)
        return
    max_frame = adapter.config.max_frame_size
    buffers_left = adapter.config.receive_buffers - adapter.receives_outstanding
    head: NetBufferList | None = None
    tail: NetBufferList | None = None
    count = 0
    for frame in frames:
        length = len(frame)
        if length < _HEADER_LEN:
            statistics.rcv_errors["runt"] += 1
            continue
        if length > max_frame:
            statistics.rcv_errors["oversize"] += 1
            continue
        reason = _discard_reason(adapter, frame)
        if reason is not None:
            statistics.rcv_discards[reason] += 1
            continue
        if count == buffers_left:
            if head is not None:
                _indicate(adapter, head, count)
                head = tail = None
                count = 0
                buffers_left = adapter.config.receive_buffers - adapter.receives_outstanding
            if buffers_left == 0:
                statistics.rcv_discards["no_receive_buffer"] += 1
                continue
        statistics.count_receive(frame[0:6], length)
        nbl = NetBufferList.from_frame(frame, adapter.block)
        if tail is None:
            head = nbl
        else:
            tail.next = nbl
        tail = nbl
        count += 1
    if head is not None:
        _indicate(adapter, head, count)


def _indicate(adapter: Adapter, head: NetBufferList, count: int) -> None:
    adapter.receives_outstanding += count
    adapter.ndis.m_indicate_receive_net_buffer_lists(adapter.block, head, 0, count, 0)


def return_net_buffer_lists(adapter: Adapter, nbls: NetBufferList) -> None:
    """The stack is done with received NBLs: their receive buffers are free again.

    A pause waiting for the last of them completes now.
    """
    adapter.receives_outstanding -= sum(1 for _ in iterate(nbls))
    if adapter.pause_pending and adapter.receives_outstanding == 0:
        adapter.pause_pending = False
        adapter.ndis.m_pause_complete(adapter.block)


def send_net_buffer_lists(adapter: Adapter, nbls: NetBufferList) -> None:
    """Queue every NET_BUFFER of ``nbls`` for the wire, then complete the NBLs with a status each.

    The frames are copied into the transmit queue, which is the moment real
    hardware would have DMA'd them, so the NBLs complete at once.
    """
    statistics = adapter.statistics
    queue = adapter.transmit_queue
    max_frame = adapter.config.max_frame_size
    limit = adapter.config.transmit_queue_limit
    for nbl in iterate(nbls):
        status = NdisStatus.SUCCESS
        for nb in nbl.net_buffers():
            if not adapter.running:
                status, reason = NdisStatus.PAUSED, "paused"
            elif not adapter.connected:
                status, reason = NdisStatus.MEDIA_DISCONNECTED, "media_disconnected"
            elif nb.data_length > max_frame:
                status, reason = NdisStatus.INVALID_LENGTH, "oversize"
            elif nb.data_length < _HEADER_LEN:
                status, reason = NdisStatus.INVALID_LENGTH, "runt"
            elif len(queue) >= limit:
                status, reason = NdisStatus.RESOURCES, "transmit_queue_full"
            else:
                frame = bytes(nb.data())
                if len(frame) < ETHERNET_MIN_FRAME:
                    frame += _PADDING[len(frame):]
                queue.append(frame)
                statistics.count_transmit(frame[0:6], len(frame))
                continue
            statistics.xmit_discards[reason] += 1
        nbl.status = status
    adapter.ndis.m_send_net_buffer_lists_complete(adapter.block, nbls, 0)

"""The miniport's control path: OID requests and link state indications."""

from __future__ import annotations

from collections.abc import Callable

from nicemu.miniport.adapter import Adapter
from nicemu.miniport.statistics import MiniportStatistics
from nicemu.ndis.drivers import StatusIndication
from nicemu.ndis.oid import MediaConnectState, NdisOidRequest, NdisRequestType, Oid, PacketType
from nicemu.ndis.status import NdisStatus
from nicemu.wire.ndis_info import LinkState, encode_link_state, encode_statistics

LINK_SPEED_BPS = 10_000_000_000
"""What the adapter reports as its speed: there is no real limit, so report a fast Ethernet."""

# A plain int: inverting an IntFlag keeps only the flag's own bits, which would
# let unknown bits through the check below.
_SUPPORTED_FILTER = int(PacketType.DIRECTED | PacketType.MULTICAST | PacketType.ALL_MULTICAST
                        | PacketType.BROADCAST | PacketType.PROMISCUOUS)


def _ulong(value: int) -> bytes:
    return value.to_bytes(4, "little")


def _ulong64(value: int) -> bytes:
    return value.to_bytes(8, "little")


_MEDIA_DUPLEX_FULL = 2
"""MediaDuplexStateFull: a virtual wire is never half duplex."""


def _statistics_info(stats: MiniportStatistics) -> dict[str, int]:
    """The miniport's statistics as the NDIS_STATISTICS_INFO counters."""
    return {
        "if_in_discards": stats.rcv_discards.total(),
        "if_in_errors": stats.rcv_errors.total(),
        "if_hc_in_octets": stats.rcv_directed_bytes + stats.rcv_multicast_bytes + stats.rcv_broadcast_bytes,
        "if_hc_in_ucast_pkts": stats.rcv_directed_frames,
        "if_hc_in_multicast_pkts": stats.rcv_multicast_frames,
        "if_hc_in_broadcast_pkts": stats.rcv_broadcast_frames,
        "if_hc_out_octets": stats.xmit_directed_bytes + stats.xmit_multicast_bytes + stats.xmit_broadcast_bytes,
        "if_hc_out_ucast_pkts": stats.xmit_directed_frames,
        "if_hc_out_multicast_pkts": stats.xmit_multicast_frames,
        "if_hc_out_broadcast_pkts": stats.xmit_broadcast_frames,
        "if_out_errors": 0,
        "if_out_discards": stats.xmit_discards.total(),
        "if_hc_in_ucast_octets": stats.rcv_directed_bytes,
        "if_hc_in_multicast_octets": stats.rcv_multicast_bytes,
        "if_hc_in_broadcast_octets": stats.rcv_broadcast_bytes,
        "if_hc_out_ucast_octets": stats.xmit_directed_bytes,
        "if_hc_out_multicast_octets": stats.xmit_multicast_bytes,
        "if_hc_out_broadcast_octets": stats.xmit_broadcast_bytes,
    }


# NDIS_MEDIA_STATE as OID_GEN_MEDIA_CONNECT_STATUS reports it: 0 connected, 1 disconnected.
_MEDIA_STATE = {MediaConnectState.CONNECTED: 0, MediaConnectState.DISCONNECTED: 1, MediaConnectState.UNKNOWN: 1}

_QUERIES: dict[int, Callable[[Adapter], bytes]] = {
    Oid.OID_802_3_PERMANENT_ADDRESS: lambda a: a.config.mac,
    Oid.OID_802_3_CURRENT_ADDRESS: lambda a: a.current_address,
    Oid.OID_802_3_MULTICAST_LIST: lambda a: b"".join(a.multicast_list),
    Oid.OID_802_3_MAXIMUM_LIST_SIZE: lambda a: _ulong(a.config.max_multicast_list_size),
    Oid.OID_GEN_MAXIMUM_FRAME_SIZE: lambda a: _ulong(a.config.mtu),
    Oid.OID_GEN_LINK_SPEED: lambda a: _ulong(LINK_SPEED_BPS // 100),
    Oid.OID_GEN_CURRENT_PACKET_FILTER: lambda a: _ulong(a.packet_filter),
    Oid.OID_GEN_MEDIA_CONNECT_STATUS: lambda a: _ulong(_MEDIA_STATE[a.media_connect_state]),
    Oid.OID_GEN_XMIT_OK: lambda a: _ulong64(a.statistics.xmit_ok),
    Oid.OID_GEN_RCV_OK: lambda a: _ulong64(a.statistics.rcv_ok),
    Oid.OID_GEN_XMIT_ERROR: lambda a: _ulong64(a.statistics.xmit_discards.total()),
    Oid.OID_GEN_RCV_ERROR: lambda a: _ulong64(a.statistics.rcv_errors.total()),
    Oid.OID_GEN_RCV_NO_BUFFER: lambda a: _ulong64(a.statistics.rcv_discards["no_receive_buffer"]),
    Oid.OID_GEN_LINK_STATE: lambda a: encode_link_state(LinkState(
        media_connect_state=a.media_connect_state, media_duplex_state=_MEDIA_DUPLEX_FULL,
        xmit_link_speed=LINK_SPEED_BPS, rcv_link_speed=LINK_SPEED_BPS)),
    Oid.OID_GEN_STATISTICS: lambda a: encode_statistics(_statistics_info(a.statistics)),
}


# The single counters, each a ULONG64 of one statistics field.
_COUNTER_OIDS: dict[int, str] = {
    Oid.OID_GEN_DIRECTED_BYTES_XMIT: "xmit_directed_bytes",
    Oid.OID_GEN_DIRECTED_FRAMES_XMIT: "xmit_directed_frames",
    Oid.OID_GEN_MULTICAST_BYTES_XMIT: "xmit_multicast_bytes",
    Oid.OID_GEN_MULTICAST_FRAMES_XMIT: "xmit_multicast_frames",
    Oid.OID_GEN_BROADCAST_BYTES_XMIT: "xmit_broadcast_bytes",
    Oid.OID_GEN_BROADCAST_FRAMES_XMIT: "xmit_broadcast_frames",
    Oid.OID_GEN_DIRECTED_BYTES_RCV: "rcv_directed_bytes",
    Oid.OID_GEN_DIRECTED_FRAMES_RCV: "rcv_directed_frames",
    Oid.OID_GEN_MULTICAST_BYTES_RCV: "rcv_multicast_bytes",
    Oid.OID_GEN_MULTICAST_FRAMES_RCV: "rcv_multicast_frames",
    Oid.OID_GEN_BROADCAST_BYTES_RCV: "rcv_broadcast_bytes",
    Oid.OID_GEN_BROADCAST_FRAMES_RCV: "rcv_broadcast_frames",
}


def _set_packet_filter(adapter: Adapter, request: NdisOidRequest) -> NdisStatus:
    if len(request.information_buffer) < 4:
        request.bytes_needed = 4
        return NdisStatus.INVALID_LENGTH
    value = int.from_bytes(request.information_buffer[:4], "little")
    if value & ~_SUPPORTED_FILTER:
        return NdisStatus.NOT_SUPPORTED
    adapter.packet_filter = PacketType(value)
    request.bytes_read = 4
    return NdisStatus.SUCCESS


def _set_multicast_list(adapter: Adapter, request: NdisOidRequest) -> NdisStatus:
    data = request.information_buffer
    if len(data) % 6:
        request.bytes_needed = (len(data) // 6 + 1) * 6
        return NdisStatus.INVALID_LENGTH
    addresses = [bytes(data[i:i + 6]) for i in range(0, len(data), 6)]
    if len(addresses) > adapter.config.max_multicast_list_size:
        return NdisStatus.MULTICAST_FULL
    if any(not address[0] & 1 for address in addresses):
        return NdisStatus.INVALID_DATA
    adapter.multicast_list = addresses
    request.bytes_read = len(data)
    return NdisStatus.SUCCESS


_SETS: dict[int, Callable[[Adapter, NdisOidRequest], NdisStatus]] = {
    Oid.OID_GEN_CURRENT_PACKET_FILTER: _set_packet_filter,
    Oid.OID_802_3_MULTICAST_LIST: _set_multicast_list,
}


def oid_request(adapter: Adapter, request: NdisOidRequest) -> NdisStatus:
    """Answer a query or carry out a set; every request completes synchronously here."""
    if request.request_type == NdisRequestType.SET_INFORMATION:
        handler = _SETS.get(request.oid)
        return NdisStatus.NOT_SUPPORTED if handler is None else handler(adapter, request)
    query = _QUERIES.get(request.oid)
    if query is not None:
        answer = query(adapter)
    elif request.oid in _COUNTER_OIDS:
        answer = _ulong64(getattr(adapter.statistics, _COUNTER_OIDS[request.oid]))
    else:
        return NdisStatus.NOT_SUPPORTED
    if len(answer) > request.information_buffer_length:
        request.bytes_needed = len(answer)
        return NdisStatus.BUFFER_TOO_SHORT
    request.information_buffer = answer
    request.bytes_written = len(answer)
    return NdisStatus.SUCCESS


def indicate_link_state(adapter: Adapter, connected: bool) -> None:
    """The QEMU connection came up or went down: tell the protocols (NDIS_STATUS_LINK_STATE)."""
    state = MediaConnectState.CONNECTED if connected else MediaConnectState.DISCONNECTED
    if state == adapter.media_connect_state:
        return
    adapter.media_connect_state = state
    if connected:
        adapter.statistics.media_connects += 1
    else:
        adapter.statistics.media_disconnects += 1
    adapter.ndis.m_indicate_status_ex(adapter.block, StatusIndication(NdisStatus.LINK_STATE, state))

"""The miniport's control path: OID requests and link state indications."""

from __future__ import annotations

from collections.abc import Callable

from nicemu.miniport.adapter import Adapter
from nicemu.ndis.drivers import StatusIndication
from nicemu.ndis.oid import MediaConnectState, NdisOidRequest, NdisRequestType, Oid, PacketType
from nicemu.ndis.status import NdisStatus

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
    if query is None:
        return NdisStatus.NOT_SUPPORTED
    answer = query(adapter)
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

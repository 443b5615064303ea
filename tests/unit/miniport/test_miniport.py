import pytest

from nicemu.miniport import ctrlpath, datapath
from nicemu.miniport.adapter import DEFAULT_MAC, AdapterConfig
from nicemu.miniport.driver import VirtualMiniport
from nicemu.ndis.nbl import NetBufferList, chain
from nicemu.ndis.ndis import Ndis
from nicemu.ndis.oid import MediaConnectState, NdisOidRequest, Oid, PacketType
from nicemu.ndis.status import NdisStatus
from tests.unit.ndis.drivers import RecordingProtocol

GUEST = bytes.fromhex("525400123456")
BROADCAST = b"\xff" * 6
MULTICAST = bytes.fromhex("01005e000001")


def frame(dst, src=GUEST, length=60):
    return dst + src + b"\x08\x00" + bytes(length - 14)


@pytest.fixture
def stack():
    ndis = Ndis(verifier=True)
    driver = ndis.m_register_miniport_driver(VirtualMiniport(ndis))
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis, keep=False))
    block = ndis.initialize_adapter(driver, "nicemu0", AdapterConfig(receive_buffers=4, transmit_queue_limit=3))
    adapter = block.adapter_context
    ctrlpath.indicate_link_state(adapter, True)
    return ndis, adapter, protocol


def set_filter(ndis, protocol, value):
    request = NdisOidRequest.set(Oid.OID_GEN_CURRENT_PACKET_FILTER, int(value).to_bytes(4, "little"))
    return ndis.oid_request(protocol.bindings["nicemu0"], request)


def received_frames(protocol):
    return [bytes(nbl.first_net_buffer.data()) for _, nbls, _, _ in protocol.received for nbl in nbls]


def test_receive__indicates_nothing_until_a_protocol_sets_the_packet_filter(stack):
    ndis, adapter, protocol = stack
    datapath.receive_frames(adapter, [frame(DEFAULT_MAC)])
    assert protocol.received == []
    assert adapter.statistics.rcv_discards["directed_filtered"] == 1


def test_receive__directed_frame_is_indicated_and_counted_as_directed(stack):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.DIRECTED)
    datapath.receive_frames(adapter, [frame(DEFAULT_MAC, length=98)])
    assert received_frames(protocol) == [frame(DEFAULT_MAC, length=98)]
    assert (adapter.statistics.rcv_directed_frames, adapter.statistics.rcv_directed_bytes) == (1, 98)
    assert adapter.receives_outstanding == 0


@pytest.mark.parametrize("packet_filter, dst, reason", [
    (PacketType.DIRECTED, BROADCAST, "broadcast_filtered"),
    (PacketType.DIRECTED, MULTICAST, "multicast_filtered"),
    (PacketType.DIRECTED | PacketType.BROADCAST, bytes.fromhex("525400aaaaaa"), "other_destination"),
    (PacketType.MULTICAST, MULTICAST, "multicast_filtered"),
])
def test_receive__packet_filter_discards_with_a_reason(stack, packet_filter, dst, reason):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, packet_filter)
    datapath.receive_frames(adapter, [frame(dst)])
    assert protocol.received == []
    assert dict(adapter.statistics.rcv_discards) == {reason: 1}


def test_receive__multicast_list_admits_listed_groups_only(stack):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.MULTICAST)
    request = NdisOidRequest.set(Oid.OID_802_3_MULTICAST_LIST, MULTICAST)
    assert ndis.oid_request(protocol.bindings["nicemu0"], request) == NdisStatus.SUCCESS
    other_group = bytes.fromhex("01005e000002")
    datapath.receive_frames(adapter, [frame(MULTICAST), frame(other_group)])
    assert received_frames(protocol) == [frame(MULTICAST)]
    assert adapter.statistics.rcv_multicast_frames == 1


def test_receive__all_multicast_and_promiscuous_widen_the_filter(stack):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.ALL_MULTICAST)
    datapath.receive_frames(adapter, [frame(MULTICAST)])
    set_filter(ndis, protocol, PacketType.PROMISCUOUS)
    datapath.receive_frames(adapter, [frame(bytes.fromhex("525400aaaaaa")), frame(BROADCAST)])
    assert len(received_frames(protocol)) == 3
    assert adapter.statistics.rcv_broadcast_frames == 1


def test_receive__never_indicates_its_own_transmissions_heard_back(stack):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.PROMISCUOUS)
    datapath.receive_frames(adapter, [frame(BROADCAST, src=DEFAULT_MAC)])
    assert protocol.received == []
    assert adapter.statistics.rcv_discards["own_transmission"] == 1


def test_receive__runt_and_oversize_frames_are_errors(stack):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.PROMISCUOUS)
    datapath.receive_frames(adapter, [b"\x00" * 13, frame(DEFAULT_MAC, length=1519)])
    assert dict(adapter.statistics.rcv_errors) == {"runt": 1, "oversize": 1}
    datapath.receive_frames(adapter, [frame(DEFAULT_MAC, length=1518)])
    assert adapter.statistics.rcv_ok == 1


def test_receive__frames_beyond_the_free_receive_buffers_are_discarded(stack):
    ndis, adapter, protocol = stack
    protocol.keep = True
    set_filter(ndis, protocol, PacketType.DIRECTED)
    datapath.receive_frames(adapter, [frame(DEFAULT_MAC)] * 6)
    assert adapter.receives_outstanding == 4
    assert adapter.statistics.rcv_discards["no_receive_buffer"] == 2
    query = NdisOidRequest.query(Oid.OID_GEN_RCV_NO_BUFFER, 8)
    ndis.oid_request(protocol.bindings["nicemu0"], query)
    assert query.information_buffer == (2).to_bytes(8, "little")


def test_send__pads_short_frames_to_60_bytes_and_counts_by_destination(stack):
    ndis, adapter, protocol = stack
    arp = BROADCAST + DEFAULT_MAC + b"\x08\x06" + bytes(28)
    nbls = [NetBufferList.from_frame(arp), NetBufferList.from_frame(frame(GUEST, DEFAULT_MAC, 98))]
    ndis.send_net_buffer_lists(protocol.bindings["nicemu0"], chain(nbls))
    assert adapter.take_transmitted() == [arp + bytes(18), frame(GUEST, DEFAULT_MAC, 98)]
    assert [status for _, _, status in protocol.completed] == [NdisStatus.SUCCESS, NdisStatus.SUCCESS]
    stats = adapter.statistics
    assert (stats.xmit_broadcast_frames, stats.xmit_broadcast_bytes) == (1, 60)
    assert (stats.xmit_directed_frames, stats.xmit_directed_bytes) == (1, 98)


def test_send__while_disconnected_completes_with_media_disconnected(stack):
    ndis, adapter, protocol = stack
    ctrlpath.indicate_link_state(adapter, False)
    ndis.send_net_buffer_lists(protocol.bindings["nicemu0"], NetBufferList.from_frame(frame(GUEST)))
    assert adapter.take_transmitted() == []
    assert protocol.completed[0][2] == NdisStatus.MEDIA_DISCONNECTED
    assert adapter.statistics.xmit_discards["media_disconnected"] == 1


def test_send__beyond_the_transmit_queue_limit_completes_with_resources(stack):
    ndis, adapter, protocol = stack
    nbls = [NetBufferList.from_frame(frame(GUEST)) for _ in range(4)]
    ndis.send_net_buffer_lists(protocol.bindings["nicemu0"], chain(nbls))
    assert len(adapter.take_transmitted()) == 3
    assert [status for _, _, status in protocol.completed][-1] == NdisStatus.RESOURCES


def test_link_state__changes_are_indicated_to_protocols_once(stack):
    ndis, adapter, protocol = stack
    ctrlpath.indicate_link_state(adapter, False)
    ctrlpath.indicate_link_state(adapter, False)
    payloads = [indication.payload for _, indication in protocol.statuses]
    assert payloads == [MediaConnectState.CONNECTED, MediaConnectState.DISCONNECTED]


@pytest.mark.parametrize("oid, expected", [
    (Oid.OID_802_3_CURRENT_ADDRESS, DEFAULT_MAC),
    (Oid.OID_802_3_PERMANENT_ADDRESS, DEFAULT_MAC),
    (Oid.OID_GEN_MAXIMUM_FRAME_SIZE, (1500).to_bytes(4, "little")),
    (Oid.OID_GEN_MEDIA_CONNECT_STATUS, (0).to_bytes(4, "little")),
    (Oid.OID_GEN_LINK_SPEED, (100_000_000).to_bytes(4, "little")),
])
def test_oid_query__answers_in_ndis_encoding(stack, oid, expected):
    ndis, adapter, protocol = stack
    request = NdisOidRequest.query(oid, 64)
    assert ndis.oid_request(protocol.bindings["nicemu0"], request) == NdisStatus.SUCCESS
    assert (request.information_buffer, request.bytes_written) == (expected, len(expected))


def test_oid_query__short_buffer_says_how_many_bytes_are_needed(stack):
    ndis, adapter, protocol = stack
    request = NdisOidRequest.query(Oid.OID_802_3_CURRENT_ADDRESS, 4)
    assert ndis.oid_request(protocol.bindings["nicemu0"], request) == NdisStatus.BUFFER_TOO_SHORT
    assert request.bytes_needed == 6


def test_oid__unknown_oid_is_not_supported(stack):
    ndis, adapter, protocol = stack
    assert ndis.oid_request(protocol.bindings["nicemu0"], NdisOidRequest.query(0x00FFFFFF)) == NdisStatus.NOT_SUPPORTED


@pytest.mark.parametrize("data, status", [
    (b"\x01\x00", NdisStatus.INVALID_LENGTH),
    ((0x1000).to_bytes(4, "little"), NdisStatus.NOT_SUPPORTED),
])
def test_oid_set_packet_filter__rejects_short_or_unsupported_values(stack, data, status):
    ndis, adapter, protocol = stack
    request = NdisOidRequest.set(Oid.OID_GEN_CURRENT_PACKET_FILTER, data)
    assert ndis.oid_request(protocol.bindings["nicemu0"], request) == status
    assert adapter.packet_filter == PacketType.NONE


@pytest.mark.parametrize("data, status", [
    (MULTICAST[:5], NdisStatus.INVALID_LENGTH),
    (GUEST, NdisStatus.INVALID_DATA),
    (MULTICAST * 33, NdisStatus.MULTICAST_FULL),
])
def test_oid_set_multicast_list__rejects_bad_lists(stack, data, status):
    ndis, adapter, protocol = stack
    request = NdisOidRequest.set(Oid.OID_802_3_MULTICAST_LIST, data)
    assert ndis.oid_request(protocol.bindings["nicemu0"], request) == status
    assert adapter.multicast_list == []


def test_adapter_config__rejects_a_multicast_mac_and_a_silly_mtu():
    with pytest.raises(ValueError, match="multicast"):
        AdapterConfig(mac=MULTICAST)
    with pytest.raises(ValueError, match="MTU 20"):
        AdapterConfig(mtu=20)


def test_receive__more_frames_than_receive_buffers_go_up_in_chains_when_the_protocol_returns_at_once(stack):
    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.DIRECTED)
    datapath.receive_frames(adapter, [frame(DEFAULT_MAC)] * 10)
    assert [count for _, _, count, _ in protocol.received] == [4, 4, 2]
    assert adapter.statistics.rcv_discards["no_receive_buffer"] == 0


def test_oid_query__link_state_is_an_ndis_link_state_structure(stack):
    from nicemu.wire.ndis_info import LinkState, decode_link_state

    ndis, adapter, protocol = stack
    request = NdisOidRequest.query(Oid.OID_GEN_LINK_STATE, 64)
    assert ndis.oid_request(protocol.bindings["nicemu0"], request) == NdisStatus.SUCCESS
    assert request.bytes_written == 36
    assert decode_link_state(request.information_buffer) == LinkState(
        media_connect_state=MediaConnectState.CONNECTED, media_duplex_state=2,
        xmit_link_speed=10_000_000_000, rcv_link_speed=10_000_000_000)


def test_oid_query__statistics_and_single_counters_agree_with_what_crossed_the_adapter(stack):
    from nicemu.wire.ndis_info import decode_statistics

    ndis, adapter, protocol = stack
    set_filter(ndis, protocol, PacketType.DIRECTED | PacketType.BROADCAST)
    datapath.receive_frames(adapter, [frame(DEFAULT_MAC, length=100), frame(BROADCAST), frame(MULTICAST)])
    binding = protocol.bindings["nicemu0"]
    request = NdisOidRequest.query(Oid.OID_GEN_STATISTICS, 152)
    assert ndis.oid_request(binding, request) == NdisStatus.SUCCESS
    stats = decode_statistics(request.information_buffer)
    assert (stats["if_hc_in_ucast_pkts"], stats["if_hc_in_broadcast_pkts"], stats["if_in_discards"]) == (1, 1, 1)
    assert stats["if_hc_in_octets"] == 160 and stats["if_hc_in_ucast_octets"] == 100
    single = NdisOidRequest.query(Oid.OID_GEN_DIRECTED_BYTES_RCV, 8)
    ndis.oid_request(binding, single)
    assert single.information_buffer == (100).to_bytes(8, "little")

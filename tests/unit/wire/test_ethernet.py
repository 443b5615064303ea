import pytest
from scapy.layers.l2 import Dot1Q, Ether

from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import (
    BROADCAST_MAC,
    ETHERNET_COMPILED,
    ETHERNET_HEADER_LEN,
    ETHERNET_SCHEMA,
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_VLAN,
    EthernetHeader,
    decode_ethernet,
    encode_ethernet,
    is_broadcast_mac,
    is_multicast_mac,
    mac_to_str,
    parse_mac,
)

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GATEWAY_MAC = bytes.fromhex("52550a000202")
GUEST_MAC = bytes.fromhex("525400123456")
PAYLOAD = bytes(range(46))

# By hand: the gateway's MAC, the guest's, EtherType IPv4, then the payload.
UNTAGGED = bytes.fromhex("52550a000202 525400123456 0800") + PAYLOAD
# By hand: an 802.1Q tag with PCP 5, VID 42 (TCI 0xa02a) around IPv4.
TAGGED = bytes.fromhex("52550a000202 525400123456 8100 a02a 0800") + PAYLOAD


def test_ethernet_schema__untagged_header():
    common(
        ETHERNET_SCHEMA,
        ETHERNET_COMPILED,
        UNTAGGED[:14],
        {
            "dst": GATEWAY_MAC,
            "src": GUEST_MAC,
            "ethertype": ETHERTYPE_IPV4,
            "vlan": None,
        },
    )


def test_ethernet_schema__tagged_header():
    common(
        ETHERNET_SCHEMA,
        ETHERNET_COMPILED,
        TAGGED[:18],
        {
            "dst": GATEWAY_MAC,
            "src": GUEST_MAC,
            "ethertype": ETHERTYPE_VLAN,
            "vlan": {"tci": 0xA02A, "ethertype": ETHERTYPE_IPV4},
        },
    )


def test_ethernet__golden_frame_agrees_with_scapy():
    scapy_frame = (
        Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56", type=0x0800) / PAYLOAD
    )
    assert bytes(scapy_frame) == UNTAGGED

    header, payload = decode_ethernet(UNTAGGED)

    assert header == EthernetHeader(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4)
    assert header.header_len == ETHERNET_HEADER_LEN
    assert bytes(payload) == PAYLOAD


def test_ethernet__tagged_golden_frame_agrees_with_scapy():
    scapy_frame = (
        Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56")
        / Dot1Q(prio=5, vlan=42, type=0x0800)
        / PAYLOAD
    )
    assert bytes(scapy_frame) == TAGGED

    header, payload = decode_ethernet(TAGGED)

    assert header == EthernetHeader(
        GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, vlan_tci=0xA02A
    )
    assert header.header_len == 18
    assert bytes(payload) == PAYLOAD


def test_ethernet__payload_is_a_view_into_the_frame_not_a_copy():
    _, payload = decode_ethernet(UNTAGGED)

    assert isinstance(payload, memoryview)
    assert payload.obj is UNTAGGED


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_ethernet__decodes_any_buffer_type(convert):
    header, payload = decode_ethernet(convert(TAGGED))

    assert header.vlan_tci == 0xA02A
    assert bytes(payload) == PAYLOAD


def test_ethernet__keeps_an_8023_length_field_as_ethertype():
    frame = GATEWAY_MAC + GUEST_MAC + (46).to_bytes(2, "big") + PAYLOAD

    header, payload = decode_ethernet(frame)

    assert header.ethertype == 46
    assert bytes(payload) == PAYLOAD


def test_ethernet__header_only_frame_has_empty_payload():
    header, payload = decode_ethernet(UNTAGGED[:14])

    assert header.ethertype == ETHERTYPE_IPV4
    assert len(payload) == 0


@pytest.mark.parametrize("length", range(ETHERNET_HEADER_LEN))
def test_ethernet__rejects_frame_shorter_than_header(length):
    with pytest.raises(DecodeError) as info:
        decode_ethernet(UNTAGGED[:length])

    assert (info.value.layer, info.value.reason) == ("ethernet", "truncated")


@pytest.mark.parametrize("length", range(18))
def test_ethernet__rejects_tagged_frame_shorter_than_tagged_header(length):
    with pytest.raises(DecodeError) as info:
        decode_ethernet(TAGGED[:length])

    assert (info.value.layer, info.value.reason) == ("ethernet", "truncated")


@pytest.mark.parametrize(
    "header",
    [
        EthernetHeader(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4),
        EthernetHeader(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP),
        EthernetHeader(GUEST_MAC, GATEWAY_MAC, ETHERTYPE_IPV6, vlan_tci=0x0001),
        EthernetHeader(GUEST_MAC, GATEWAY_MAC, ETHERTYPE_ARP, vlan_tci=0xFFFF),
    ],
)
def test_ethernet__encode_matches_scapy(header):
    scapy_frame = Ether(dst=mac_to_str(header.dst), src=mac_to_str(header.src))
    if header.vlan_tci is not None:
        tci = header.vlan_tci
        scapy_frame /= Dot1Q(prio=tci >> 13, dei=tci >> 12 & 1, vlan=tci & 0xFFF)
    scapy_frame.lastlayer().type = header.ethertype

    assert encode_ethernet(header, PAYLOAD) == bytes(scapy_frame / PAYLOAD)


@pytest.mark.parametrize("frame", [UNTAGGED, TAGGED])
def test_ethernet__round_trips_exact_bytes(frame):
    header, payload = decode_ethernet(frame)

    assert encode_ethernet(header, payload) == frame


@pytest.mark.parametrize("payload", [bytearray(PAYLOAD), memoryview(PAYLOAD)])
def test_ethernet__encode_accepts_buffer_payloads(payload):
    assert encode_ethernet(
        EthernetHeader(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4), payload
    ) == (UNTAGGED)


@pytest.mark.parametrize(
    "header",
    [
        EthernetHeader(GATEWAY_MAC[:5], GUEST_MAC, ETHERTYPE_IPV4),
        EthernetHeader(GATEWAY_MAC, GUEST_MAC + b"\x00", ETHERTYPE_IPV4),
        EthernetHeader(GATEWAY_MAC, GUEST_MAC, 0x10000),
        EthernetHeader(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, vlan_tci=-1),
    ],
)
def test_ethernet__encode_rejects_bad_fields_with_value_error(header):
    with pytest.raises(ValueError, match=r"^ethernet: "):
        encode_ethernet(header, PAYLOAD)


def test_ethernet__random_garbage_decodes_or_raises_decode_error():
    outcomes = {
        decodes_or_raises_decode_error(decode_ethernet, data)
        for data in garbage(802, 3000, 40)
    }

    assert outcomes == {True, False}


def test_ethernet__mutated_frames_decode_or_raise_decode_error():
    for frame in (UNTAGGED, TAGGED):
        for data in mutations(8021, 1000, frame):
            decodes_or_raises_decode_error(decode_ethernet, data)


def test_mac_to_str__lower_case_colon_separated():
    assert mac_to_str(bytes.fromhex("52550A000202")) == "52:55:0a:00:02:02"


@pytest.mark.parametrize(
    "text",
    ["52:55:0a:00:02:02", "52-55-0A-00-02-02", "52:55:a:0:2:2", "52:55:0A:00:02:02"],
)
def test_parse_mac__accepts_colon_or_dash_separated_hex(text):
    assert parse_mac(text) == GATEWAY_MAC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "52:55:0a:00:02",
        "52:55:0a:00:02:02:03",
        "52:55-0a:00:02:02",
        "52550a000202",
        "52:55:0a:00:02:0g",
        "052:55:0a:00:02:02",
        " 52:55:0a:00:02:02",
        "52:55:0a:00:02:02\n",
        "+5:55:0a:00:02:02",
    ],
)
def test_parse_mac__rejects_malformed_text_naming_it(text):
    with pytest.raises(ValueError) as info:
        parse_mac(text)

    assert repr(text) in str(info.value)
    assert "52:55:0a:00:02:02" in str(info.value)


def test_is_multicast_mac__checks_the_group_bit():
    assert is_multicast_mac(bytes.fromhex("01005e000001"))
    assert is_multicast_mac(bytes.fromhex("333300000001"))
    assert is_multicast_mac(BROADCAST_MAC)
    assert not is_multicast_mac(GATEWAY_MAC)


def test_is_broadcast_mac__only_all_ones():
    assert is_broadcast_mac(BROADCAST_MAC)
    assert is_broadcast_mac(memoryview(BROADCAST_MAC))
    assert not is_broadcast_mac(bytes.fromhex("01005e000001"))
    assert not is_broadcast_mac(GATEWAY_MAC)

import pytest
from scapy.layers.l2 import ARP, Ether

from nicemu.wire.arp import (
    ARP_COMPILED,
    ARP_HTYPE_ETHERNET,
    ARP_REPLY,
    ARP_REQUEST,
    ARP_SCHEMA,
    ArpPacket,
    arp_ipv4,
    decode_arp,
    encode_arp,
)
from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import BROADCAST_MAC, decode_ethernet

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GUEST_MAC = bytes.fromhex("525400123456")
GATEWAY_MAC = bytes.fromhex("52550a000202")
GUEST_IP = bytes([10, 0, 2, 15])
GATEWAY_IP = bytes([10, 0, 2, 2])

# By hand: who-has 10.0.2.2 tell 10.0.2.15, from the guest.
REQUEST = bytes.fromhex(
    "0001 0800 06 04 0001 525400123456 0a00020f 000000000000 0a000202"
)
# The same request as the guest sends it: broadcast, padded to 60 bytes.
REQUEST_FRAME = bytes.fromhex("ffffffffffff 525400123456 0806") + REQUEST + bytes(18)


def test_arp_schema__ethernet_ipv4_request():
    common(
        ARP_SCHEMA,
        ARP_COMPILED,
        REQUEST,
        {
            "htype": 1,
            "ptype": 0x0800,
            "hlen": 6,
            "plen": 4,
            "oper": 1,
            "sha": GUEST_MAC,
            "spa": GUEST_IP,
            "tha": bytes(6),
            "tpa": GATEWAY_IP,
        },
    )


def test_arp_schema__addresses_sized_by_hlen_and_plen():
    data = bytes.fromhex("0006 86dd 02 03 0002 aabb 010203 ccdd 040506")
    common(
        ARP_SCHEMA,
        ARP_COMPILED,
        data,
        {
            "htype": 6,
            "ptype": 0x86DD,
            "hlen": 2,
            "plen": 3,
            "oper": 2,
            "sha": b"\xaa\xbb",
            "spa": b"\x01\x02\x03",
            "tha": b"\xcc\xdd",
            "tpa": b"\x04\x05\x06",
        },
    )


def test_arp__golden_request_agrees_with_scapy():
    scapy_request = ARP(
        op=1, hwsrc="52:54:00:12:34:56", psrc="10.0.2.15", pdst="10.0.2.2"
    )
    assert bytes(scapy_request) == REQUEST

    assert decode_arp(REQUEST) == ArpPacket(
        1, 0x0800, 6, 4, ARP_REQUEST, GUEST_MAC, GUEST_IP, bytes(6), GATEWAY_IP
    )


def test_arp__ignores_ethernet_padding():
    _, payload = decode_ethernet(REQUEST_FRAME)

    packet = decode_arp(payload)

    assert packet == arp_ipv4(ARP_REQUEST, GUEST_MAC, GUEST_IP, bytes(6), GATEWAY_IP)
    assert encode_arp(packet) == REQUEST


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_arp__decodes_any_buffer_type(convert):
    assert decode_arp(convert(REQUEST)).tpa == GATEWAY_IP


def test_arp__encode_reply_matches_scapy():
    reply = arp_ipv4(ARP_REPLY, GATEWAY_MAC, GATEWAY_IP, GUEST_MAC, GUEST_IP)
    scapy_reply = ARP(
        op=2,
        hwsrc="52:55:0a:00:02:02",
        psrc="10.0.2.2",
        hwdst="52:54:00:12:34:56",
        pdst="10.0.2.15",
    )

    assert encode_arp(reply) == bytes(scapy_reply)


def test_arp__scapy_frame_decodes_to_its_fields():
    frame = bytes(
        Ether(dst="ff:ff:ff:ff:ff:ff", src="52:54:00:12:34:56")
        / ARP(op=1, hwsrc="52:54:00:12:34:56", psrc="10.0.2.15", pdst="10.0.2.2")
    )

    header, payload = decode_ethernet(frame)

    assert header.dst == BROADCAST_MAC
    assert decode_arp(payload) == arp_ipv4(
        ARP_REQUEST, GUEST_MAC, GUEST_IP, bytes(6), GATEWAY_IP
    )


def test_arp_ipv4__fills_ethernet_and_ipv4_types_and_sizes():
    packet = arp_ipv4(ARP_REPLY, GATEWAY_MAC, GATEWAY_IP, GUEST_MAC, GUEST_IP)

    assert (packet.htype, packet.ptype, packet.hlen, packet.plen, packet.oper) == (
        ARP_HTYPE_ETHERNET,
        0x0800,
        6,
        4,
        ARP_REPLY,
    )


def test_arp__round_trips_generic_address_sizes():
    packet = ArpPacket(
        6, 0x86DD, 8, 16, ARP_REPLY, b"h" * 8, b"p" * 16, b"H" * 8, b"P" * 16
    )

    data = encode_arp(packet)

    assert len(data) == 8 + 2 * (8 + 16)
    assert decode_arp(data) == packet


@pytest.mark.parametrize("length", range(len(REQUEST)))
def test_arp__rejects_every_truncated_prefix(length):
    with pytest.raises(DecodeError) as info:
        decode_arp(REQUEST[:length])

    assert (info.value.layer, info.value.reason) == ("arp", "truncated")


def test_arp__rejects_ethernet_hardware_with_wrong_hlen():
    data = encode_arp(
        ArpPacket(1, 0x0800, 8, 4, 1, bytes(8), GUEST_IP, bytes(8), GATEWAY_IP)
    )

    with pytest.raises(DecodeError) as info:
        decode_arp(data)

    assert (info.value.layer, info.value.reason) == ("arp", "bad_length")


def test_arp__rejects_ipv4_protocol_with_wrong_plen():
    data = encode_arp(
        ArpPacket(1, 0x0800, 6, 16, 1, GUEST_MAC, bytes(16), bytes(6), bytes(16))
    )

    with pytest.raises(DecodeError) as info:
        decode_arp(data)

    assert (info.value.layer, info.value.reason) == ("arp", "bad_length")


@pytest.mark.parametrize(
    "packet",
    [
        arp_ipv4(ARP_REQUEST, GUEST_MAC[:5], GUEST_IP, bytes(6), GATEWAY_IP),
        arp_ipv4(ARP_REQUEST, GUEST_MAC, GUEST_IP + b"\x00", bytes(6), GATEWAY_IP),
        arp_ipv4(ARP_REQUEST, GUEST_MAC, GUEST_IP, bytes(7), GATEWAY_IP),
        arp_ipv4(ARP_REQUEST, GUEST_MAC, GUEST_IP, bytes(6), b""),
        arp_ipv4(0x10000, GUEST_MAC, GUEST_IP, bytes(6), GATEWAY_IP),
    ],
)
def test_arp__encode_rejects_bad_fields_with_value_error(packet):
    with pytest.raises(ValueError, match=r"^arp: "):
        encode_arp(packet)


def test_arp__random_garbage_decodes_or_raises_decode_error():
    outcomes = {
        decodes_or_raises_decode_error(decode_arp, data)
        for data in garbage(826, 3000, 80)
    }

    assert outcomes == {True, False}


def test_arp__mutated_packets_decode_or_raise_decode_error():
    outcomes = {
        decodes_or_raises_decode_error(decode_arp, data)
        for data in mutations(8260, 3000, REQUEST_FRAME[14:])
    }

    assert outcomes == {True, False}

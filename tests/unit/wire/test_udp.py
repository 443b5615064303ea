import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import decode_ethernet
from nicemu.wire.ipv4 import IPPROTO_UDP, decode_ipv4
from nicemu.wire.pseudo import ipv4_pseudo_sum, ipv6_pseudo_sum
from nicemu.wire.udp import (
    UDP_COMPILED,
    UDP_SCHEMA,
    UdpHeader,
    decode_udp,
    encode_udp,
)

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GUEST_IP = bytes([10, 0, 2, 15])
DNS_IP = bytes([10, 0, 2, 3])
PSEUDO = ipv4_pseudo_sum(GUEST_IP, DNS_IP, IPPROTO_UDP)
GUEST_IP6 = bytes.fromhex("fe80000000000000505400fffe123456")
GATEWAY_IP6 = bytes.fromhex("fe800000000000000000000000000002")
PSEUDO6 = ipv6_pseudo_sum(GUEST_IP6, GATEWAY_IP6, IPPROTO_UDP)

# A DNS query for example.com, A: 29 bytes, so the checksum pads one byte.
QUERY = bytes.fromhex(
    "1234 0100 0001 0000 0000 0000 076578616d706c6503636f6d00 0001 0001"
)
# By hand: 10.0.2.15:40000 -> 10.0.2.3:53, length 37, checksum 0x697b
# (summed separately, word by word, with the pseudo-header).
HEADER = bytes.fromhex("9c40 0035 0025 697b")
DATAGRAM = HEADER + QUERY
DECODED = UdpHeader(src_port=40000, dst_port=53, length=37, checksum=0x697B)


def scapy_ip() -> IP:
    return IP(src="10.0.2.15", dst="10.0.2.3")


def scapy_ip6() -> IPv6:
    return IPv6(src="fe80::5054:ff:fe12:3456", dst="fe80::2")


def test_udp_schema__header():
    common(
        UDP_SCHEMA,
        UDP_COMPILED,
        HEADER,
        {"src_port": 40000, "dst_port": 53, "length": 37, "checksum": 0x697B},
        size=8,
    )


def test_udp__golden_datagram_agrees_with_scapy():
    assert bytes(scapy_ip() / UDP(sport=40000, dport=53) / QUERY)[20:] == DATAGRAM


def test_udp__decodes_golden_datagram_verifying_its_checksum():
    header, payload = decode_udp(DATAGRAM, PSEUDO)

    assert header == DECODED
    assert bytes(payload) == QUERY


def test_udp__scapy_frame_decodes_through_every_layer():
    frame = bytes(
        Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56")
        / scapy_ip()
        / UDP(sport=5353, dport=69)
        / b"\x00\x01file\x00octet\x00"
    )

    _, packet = decode_ethernet(frame)
    ip, datagram = decode_ipv4(packet)
    header, payload = decode_udp(datagram, ipv4_pseudo_sum(ip.src, ip.dst, ip.protocol))

    assert header == UdpHeader(5353, 69, 21, Ether(frame)[UDP].chksum)
    assert bytes(payload) == b"\x00\x01file\x00octet\x00"


def test_udp__decodes_scapy_datagram_over_ipv6():
    datagram = bytes(scapy_ip6() / UDP(sport=546, dport=547) / b"dhcpv6")[40:]

    header, payload = decode_udp(datagram, PSEUDO6)

    assert (header.src_port, header.dst_port, header.length) == (546, 547, 14)
    assert bytes(payload) == b"dhcpv6"


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_udp__decodes_any_buffer_type(convert):
    header, payload = decode_udp(convert(DATAGRAM), PSEUDO)

    assert header == DECODED
    assert bytes(payload) == QUERY


def test_udp__payload_is_a_view_into_the_datagram_not_a_copy():
    _, payload = decode_udp(DATAGRAM, PSEUDO)

    assert isinstance(payload, memoryview)
    assert payload.obj is DATAGRAM


def test_udp__payload_stops_at_the_length_field_and_checksum_uses_it():
    # RFC 8200 section 8.1: the pseudo-header carries UDP's own length, not
    # the size of the IP payload, which here has three bytes more.
    header, payload = decode_udp(DATAGRAM + b"pad", PSEUDO)

    assert header == DECODED
    assert bytes(payload) == QUERY


def test_udp__accepts_a_length_of_the_header_alone():
    datagram = encode_udp(1, 2, b"", PSEUDO)

    header, payload = decode_udp(datagram + b"junk", PSEUDO)

    assert header.length == 8
    assert len(payload) == 0


def test_udp__accepts_a_zero_checksum_as_none():
    datagram = DATAGRAM[:6] + b"\x00\x00" + QUERY

    header, payload = decode_udp(datagram, PSEUDO)

    assert header.checksum == 0
    assert bytes(payload) == QUERY


def test_udp__without_pseudo_header_sum_does_not_verify_the_checksum():
    datagram = DATAGRAM[:6] + b"\xde\xad" + QUERY

    header, _ = decode_udp(datagram, None)

    assert header.checksum == 0xDEAD


def assert_rejected(data, reason: str, pseudo_header_sum=PSEUDO) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_udp(data, pseudo_header_sum)
    assert (info.value.layer, info.value.reason) == ("udp", reason)
    return info.value


def test_udp__rejects_bad_checksum_naming_the_expected_one():
    error = assert_rejected(DATAGRAM[:6] + b"\x12\x34" + QUERY, "bad_checksum")

    assert str(error) == "udp: bad_checksum (checksum 0x1234, expected 0x697b)"


def test_udp__rejects_a_changed_payload_byte_by_checksum():
    datagram = bytearray(DATAGRAM)
    datagram[-1] ^= 0x20

    assert_rejected(datagram, "bad_checksum")


def test_udp__rejects_a_datagram_checked_against_another_pseudo_header():
    assert_rejected(
        DATAGRAM, "bad_checksum", ipv4_pseudo_sum(GUEST_IP, GUEST_IP, IPPROTO_UDP)
    )


@pytest.mark.parametrize("length", [0, 7, len(DATAGRAM) + 1, 0xFFFF])
def test_udp__rejects_length_field_below_header_or_beyond_data(length):
    datagram = DATAGRAM[:4] + length.to_bytes(2, "big") + DATAGRAM[6:]

    for pseudo_header_sum in (PSEUDO, None):
        assert_rejected(datagram, "bad_length", pseudo_header_sum)


@pytest.mark.parametrize("length", range(len(DATAGRAM)))
def test_udp__rejects_every_truncated_prefix(length):
    expected = "truncated" if length < 8 else "bad_length"

    assert_rejected(DATAGRAM[:length], expected)


@pytest.mark.parametrize(
    ("src_port", "dst_port", "payload"),
    [(40000, 53, QUERY), (0, 0xFFFF, b""), (68, 67, b"odd"), (1, 2, bytes(1472))],
)
def test_udp__encode_matches_scapy_over_ipv4_and_ipv6(src_port, dst_port, payload):
    udp = UDP(sport=src_port, dport=dst_port) / payload

    assert (
        encode_udp(src_port, dst_port, payload, PSEUDO) == bytes(scapy_ip() / udp)[20:]
    )
    assert (
        encode_udp(src_port, dst_port, payload, PSEUDO6)
        == bytes(scapy_ip6() / udp)[40:]
    )


def test_udp__encode_without_pseudo_header_sum_sends_no_checksum():
    assert encode_udp(40000, 53, QUERY, None) == bytes(
        UDP(sport=40000, dport=53, chksum=0) / QUERY
    )


def test_udp__encode_sends_a_computed_zero_checksum_as_ffff():
    # The payload is the checksum of the same datagram with a zero payload,
    # which makes every word sum to 0xffff: a computed checksum of 0.
    zero_payload_checksum = encode_udp(1234, 5678, b"\x00\x00", PSEUDO)[6:8]

    datagram = encode_udp(1234, 5678, zero_payload_checksum, PSEUDO)

    assert datagram[6:8] == b"\xff\xff"
    assert (
        datagram == bytes(scapy_ip() / UDP(sport=1234, dport=5678) / datagram[8:])[20:]
    )
    assert decode_udp(datagram, PSEUDO)[0].checksum == 0xFFFF


def test_udp__round_trips_exact_bytes():
    header, payload = decode_udp(DATAGRAM, PSEUDO)

    assert encode_udp(header.src_port, header.dst_port, payload, PSEUDO) == DATAGRAM


@pytest.mark.parametrize("payload", [bytearray(QUERY), memoryview(QUERY)])
def test_udp__encode_accepts_buffer_payloads(payload):
    assert encode_udp(40000, 53, payload, PSEUDO) == DATAGRAM


def test_udp__encode_accepts_the_largest_datagram():
    datagram = encode_udp(1, 2, bytes(0xFFFF - 8), PSEUDO)

    assert decode_udp(datagram, PSEUDO)[0].length == 0xFFFF


@pytest.mark.parametrize(
    ("src_port", "dst_port", "payload"),
    [
        (0x10000, 53, b""),
        (-1, 53, b""),
        (40000, 0x10000, b""),
        (40000, 53, bytes(0xFFFF - 7)),
    ],
)
def test_udp__encode_rejects_bad_fields_with_value_error(src_port, dst_port, payload):
    with pytest.raises(ValueError, match=r"^udp: "):
        encode_udp(src_port, dst_port, payload, PSEUDO)


def test_udp__random_garbage_decodes_or_raises_decode_error():
    for data in garbage(768, 3000, 40):
        decodes_or_raises_decode_error(lambda d: decode_udp(d, PSEUDO), data)
        decodes_or_raises_decode_error(lambda d: decode_udp(d, None), data)


def test_udp__mutated_datagrams_decode_or_raise_decode_error():
    outcomes = {
        decodes_or_raises_decode_error(lambda d: decode_udp(d, PSEUDO), data)
        for data in mutations(7680, 3000, DATAGRAM)
    }

    assert outcomes == {True, False}

import random

import pytest
from scapy.layers.inet import IP, IPOption_Router_Alert
from scapy.layers.l2 import Ether

from nicemu.wire.checksum import internet_checksum
from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import decode_ethernet
from nicemu.wire.ipv4 import (
    IPPROTO_ICMP,
    IPPROTO_UDP,
    IPV4_COMPILED,
    IPV4_FLAG_DF,
    IPV4_FLAG_MF,
    IPV4_SCHEMA,
    IPv4Header,
    decode_ipv4,
    encode_ipv4,
)

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GUEST_IP = bytes([10, 0, 2, 15])
GATEWAY_IP = bytes([10, 0, 2, 2])
PAYLOAD = bytes.fromhex("0800 00e5 0007 0001") + bytes(range(56))

# By hand: 10.0.2.15 -> 10.0.2.2, total length 84, id 0x1c46, DF, TTL 64,
# ICMP, header checksum 0x0653 (summed separately, word by word).
HEADER = bytes.fromhex("45000054 1c464000 40010653 0a00020f 0a000202")
PACKET = HEADER + PAYLOAD
# By hand: the same with a router alert option (IHL 6, total length 88).
HEADER_WITH_OPTION = bytes.fromhex(
    "46000058 1c464000 4001714a 0a00020f 0a000202 94040000"
)
PACKET_WITH_OPTION = HEADER_WITH_OPTION + PAYLOAD

DECODED = IPv4Header(
    tos=0,
    total_length=84,
    identification=0x1C46,
    flags=IPV4_FLAG_DF,
    fragment_offset=0,
    ttl=64,
    protocol=IPPROTO_ICMP,
    checksum=0x0653,
    src=GUEST_IP,
    dst=GATEWAY_IP,
)


def header_fields(header: bytes) -> dict:
    return {
        "version_ihl": header[0],
        "tos": 0,
        "total_length": int.from_bytes(header[2:4], "big"),
        "identification": 0x1C46,
        "flags_fragment": 0x4000,
        "ttl": 64,
        "protocol": 1,
        "checksum": int.from_bytes(header[10:12], "big"),
        "src": GUEST_IP,
        "dst": GATEWAY_IP,
        "options": header[20:],
    }


@pytest.mark.parametrize("header", [HEADER, HEADER_WITH_OPTION])
def test_ipv4_schema__header_with_and_without_options(header):
    common(IPV4_SCHEMA, IPV4_COMPILED, header, header_fields(header))


def test_ipv4__golden_packets_agree_with_scapy():
    scapy_ip = IP(
        src="10.0.2.15", dst="10.0.2.2", id=0x1C46, flags="DF", ttl=64, proto=1
    )
    assert bytes(scapy_ip / PAYLOAD) == PACKET
    scapy_ip.options = [IPOption_Router_Alert()]
    assert bytes(scapy_ip / PAYLOAD) == PACKET_WITH_OPTION


def test_ipv4__decodes_golden_packet():
    header, payload = decode_ipv4(PACKET)

    assert header == DECODED
    assert (header.ihl, header.header_len) == (5, 20)
    assert bytes(payload) == PAYLOAD


def test_ipv4__decodes_options_raw():
    header, payload = decode_ipv4(PACKET_WITH_OPTION)

    assert header.options == b"\x94\x04\x00\x00"
    assert (header.ihl, header.header_len, header.total_length) == (6, 24, 88)
    assert bytes(payload) == PAYLOAD


def test_ipv4__scapy_packet_decodes_to_its_fields():
    scapy_ip = IP(
        src="192.168.1.1",
        dst="10.0.2.15",
        tos=0xB8,
        id=0xBEEF,
        flags="MF",
        frag=185,
        ttl=3,
        proto=17,
        options=[IPOption_Router_Alert()],
    )
    data = bytes(scapy_ip / b"udp bytes")

    header, payload = decode_ipv4(data)

    assert header == IPv4Header(
        tos=0xB8,
        total_length=len(data),
        identification=0xBEEF,
        flags=IPV4_FLAG_MF,
        fragment_offset=185,
        ttl=3,
        protocol=IPPROTO_UDP,
        checksum=IP(data).chksum,
        src=bytes([192, 168, 1, 1]),
        dst=GUEST_IP,
        options=b"\x94\x04\x00\x00",
    )
    assert bytes(payload) == b"udp bytes"


def test_ipv4__payload_stops_at_total_length_dropping_ethernet_padding():
    short = IP(src="10.0.2.15", dst="10.0.2.2", proto=17) / b"tiny"
    frame = bytes(Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56") / short)
    frame += bytes(60 - len(frame))

    _, ip_packet = decode_ethernet(frame)
    header, payload = decode_ipv4(ip_packet)

    assert len(ip_packet) == 46
    assert header.total_length == 24
    assert bytes(payload) == b"tiny"


def test_ipv4__payload_is_a_view_into_the_frame_not_a_copy():
    _, payload = decode_ipv4(PACKET)

    assert isinstance(payload, memoryview)
    assert payload.obj is PACKET


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_ipv4__decodes_any_buffer_type(convert):
    header, payload = decode_ipv4(convert(PACKET))

    assert header == DECODED
    assert bytes(payload) == PAYLOAD


def test_ipv4__keeps_options_whose_length_runs_past_the_header():
    # A record-route option claiming 39 bytes in a 4-byte options area.
    header = bytearray.fromhex("46000018 00000000 40010000 0a00020f 0a000202 07270400")
    header[10:12] = internet_checksum(header).to_bytes(2, "big")

    decoded, payload = decode_ipv4(header)

    assert decoded.options == b"\x07\x27\x04\x00"
    assert len(payload) == 0


def with_checksum(header: bytes) -> bytes:
    fixed = bytearray(header)
    fixed[10:12] = b"\x00\x00"
    fixed[10:12] = internet_checksum(fixed).to_bytes(2, "big")
    return bytes(fixed)


def assert_rejected(data, reason: str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_ipv4(data)
    assert (info.value.layer, info.value.reason) == ("ipv4", reason)
    return info.value


@pytest.mark.parametrize("version", [0, 5, 6, 15])
def test_ipv4__rejects_other_versions(version):
    header = with_checksum(bytes([version << 4 | 5]) + HEADER[1:])

    assert_rejected(header + PAYLOAD, "bad_version")


@pytest.mark.parametrize("ihl", range(5))
def test_ipv4__rejects_ihl_below_five(ihl):
    header = with_checksum(bytes([0x40 | ihl]) + HEADER[1:])

    assert_rejected(header + PAYLOAD, "bad_ihl")


def test_ipv4__rejects_data_shorter_than_ihl_says():
    header = with_checksum(bytes([0x4F]) + HEADER[1:])

    assert_rejected(header + bytes(39), "truncated")


@pytest.mark.parametrize(
    "total_length", [0, 19, 23, len(PACKET_WITH_OPTION) + 1, 0xFFFF]
)
def test_ipv4__rejects_total_length_outside_header_and_data(total_length):
    header = bytearray(HEADER_WITH_OPTION)
    header[2:4] = total_length.to_bytes(2, "big")

    assert_rejected(with_checksum(header) + PAYLOAD, "bad_total_length")


def test_ipv4__accepts_total_length_of_header_alone():
    header = bytearray(HEADER_WITH_OPTION)
    header[2:4] = (24).to_bytes(2, "big")

    decoded, payload = decode_ipv4(with_checksum(header) + PAYLOAD)

    assert decoded.total_length == 24
    assert len(payload) == 0


def test_ipv4__rejects_bad_header_checksum():
    packet = bytearray(PACKET)
    packet[10:12] = b"\x12\x34"

    error = assert_rejected(packet, "bad_checksum")

    assert str(error) == "ipv4: bad_checksum (header checksum 0x1234, expected 0x0653)"


def test_ipv4__rejects_a_changed_header_byte_by_checksum():
    packet = bytearray(PACKET)
    packet[8] = 63

    assert_rejected(packet, "bad_checksum")


def test_ipv4__ignores_payload_bytes_for_the_checksum():
    packet = bytearray(PACKET)
    packet[30] ^= 0xFF

    header, _ = decode_ipv4(packet)

    assert header == DECODED


@pytest.mark.parametrize("length", range(len(PACKET_WITH_OPTION)))
def test_ipv4__rejects_every_truncated_prefix(length):
    with pytest.raises(DecodeError) as info:
        decode_ipv4(PACKET_WITH_OPTION[:length])

    expected = "truncated" if length < len(HEADER_WITH_OPTION) else "bad_total_length"
    assert (info.value.layer, info.value.reason) == ("ipv4", expected)


@pytest.mark.parametrize(
    "header",
    [
        DECODED,
        IPv4Header(
            0xB8, 0, 0xBEEF, IPV4_FLAG_MF, 185, 3, IPPROTO_UDP, 0, GUEST_IP, GATEWAY_IP
        ),
        IPv4Header(
            0, 0, 0, 0, 0x1FFF, 255, 0xFF, 0, GATEWAY_IP, GUEST_IP, b"\x94\x04\x00\x00"
        ),
        IPv4Header(
            0xFF, 0, 0xFFFF, 0x7, 0, 0, 6, 0, bytes(4), b"\xff" * 4, b"\x01" * 40
        ),
    ],
)
def test_ipv4__encode_matches_scapy(header):
    scapy_ip = IP(
        tos=header.tos,
        id=header.identification,
        flags=header.flags,
        frag=header.fragment_offset,
        ttl=header.ttl,
        proto=header.protocol,
        src=".".join(map(str, header.src)),
        dst=".".join(map(str, header.dst)),
        options=header.options,
    )

    assert encode_ipv4(header, PAYLOAD) == bytes(scapy_ip / PAYLOAD)


def test_ipv4__encode_computes_total_length_and_checksum_afresh():
    stale = IPv4Header(
        0, 9999, 0x1C46, IPV4_FLAG_DF, 0, 64, IPPROTO_ICMP, 0xDEAD, GUEST_IP, GATEWAY_IP
    )

    assert encode_ipv4(stale, PAYLOAD) == PACKET


@pytest.mark.parametrize("packet", [PACKET, PACKET_WITH_OPTION])
def test_ipv4__round_trips_exact_bytes(packet):
    header, payload = decode_ipv4(packet)

    assert encode_ipv4(header, payload) == packet


@pytest.mark.parametrize("payload", [bytearray(PAYLOAD), memoryview(PAYLOAD)])
def test_ipv4__encode_accepts_buffer_payloads(payload):
    assert encode_ipv4(DECODED, payload) == PACKET


@pytest.mark.parametrize("options", [b"\x01", b"\x01\x01\x01", b"\x01" * 44])
def test_ipv4__encode_rejects_options_not_in_whole_words_up_to_40_bytes(options):
    header = IPv4Header(0, 0, 0, 0, 0, 64, 1, 0, GUEST_IP, GATEWAY_IP, options)

    with pytest.raises(ValueError, match=r"^ipv4: options must be a multiple of 4"):
        encode_ipv4(header, b"")


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (IPv4Header(0, 0, 0, 0, 0, 64, 1, 0, GUEST_IP[:3], GATEWAY_IP), b""),
        (IPv4Header(0, 0, 0, 0, 0, 64, 1, 0, GUEST_IP, GATEWAY_IP + b"\x00"), b""),
        (IPv4Header(0, 0, 0, 8, 0, 64, 1, 0, GUEST_IP, GATEWAY_IP), b""),
        (IPv4Header(0, 0, 0, 0, 0x2000, 64, 1, 0, GUEST_IP, GATEWAY_IP), b""),
        (IPv4Header(0, 0, 0, -1, 0, 64, 1, 0, GUEST_IP, GATEWAY_IP), b""),
        (IPv4Header(256, 0, 0, 0, 0, 64, 1, 0, GUEST_IP, GATEWAY_IP), b""),
        (IPv4Header(0, 0, 0, 0, 0, 256, 1, 0, GUEST_IP, GATEWAY_IP), b""),
        (IPv4Header(0, 0, 0, 0, 0, 64, 1, 0, GUEST_IP, GATEWAY_IP), bytes(0xFFFF - 19)),
    ],
)
def test_ipv4__encode_rejects_bad_fields_with_value_error(header, payload):
    with pytest.raises(ValueError, match=r"^ipv4: "):
        encode_ipv4(header, payload)


def test_ipv4__encode_accepts_the_largest_packet():
    packet = encode_ipv4(DECODED, bytes(0xFFFF - 20))

    assert len(packet) == 0xFFFF
    assert decode_ipv4(packet)[0].total_length == 0xFFFF


def test_ipv4__random_garbage_decodes_or_raises_decode_error():
    for data in garbage(791, 3000, 80):
        decodes_or_raises_decode_error(decode_ipv4, data)


def test_ipv4__random_headers_with_valid_checksums_decode_or_raise_decode_error():
    # Garbage rarely passes the version and checksum checks; these always do,
    # so IHL, total length and options take arbitrary values past them.
    rng = random.Random(7910)
    outcomes = set()
    for _ in range(3000):
        size = rng.randrange(20, 90)
        data = bytearray(rng.randbytes(size))
        data[0] = 0x40 | rng.randrange(16)
        header_len = max(20, min(size, (data[0] & 0x0F) * 4))
        data[10:12] = b"\x00\x00"
        data[10:12] = internet_checksum(data[:header_len]).to_bytes(2, "big")
        if rng.random() < 0.5:
            data[2:4] = rng.randrange(header_len, size + 1).to_bytes(2, "big")
            data[10:12] = b"\x00\x00"
            data[10:12] = internet_checksum(data[:header_len]).to_bytes(2, "big")
        outcomes.add(decodes_or_raises_decode_error(decode_ipv4, bytes(data)))

    assert outcomes == {True, False}


def test_ipv4__mutated_packets_decode_or_raise_decode_error():
    for data in mutations(7911, 3000, PACKET_WITH_OPTION):
        decodes_or_raises_decode_error(decode_ipv4, data)

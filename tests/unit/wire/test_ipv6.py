import random
from ipaddress import IPv6Address

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Ether

from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import ETHERTYPE_IPV6, decode_ethernet
from nicemu.wire.ipv4 import IPPROTO_UDP
from nicemu.wire.ipv6 import (
    FRAGMENT_COMPILED,
    FRAGMENT_SCHEMA,
    IPPROTO_DSTOPTS,
    IPPROTO_FRAGMENT,
    IPPROTO_HOPOPTS,
    IPPROTO_ICMPV6,
    IPPROTO_NONE,
    IPPROTO_ROUTING,
    IPV6_COMPILED,
    IPV6_MAX_EXTENSION_HEADERS,
    IPV6_SCHEMA,
    FragmentHeader,
    IPv6Header,
    decode_fragment_header,
    decode_ipv6,
    encode_fragment_header,
    encode_ipv6,
    walk_extension_headers,
)

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GUEST_IP6 = bytes.fromhex("fe80000000000000505400fffe123456")
ALL_ROUTERS = bytes.fromhex("ff020000000000000000000000000002")
# A router solicitation with the guest's link-layer address.
PAYLOAD = bytes.fromhex("850071b5 00000000 0101525400123456")
# By hand: fe80::5054:ff:fe12:3456 -> ff02::2, payload length 16, ICMPv6,
# hop limit 255.
HEADER = bytes.fromhex("60000000 0010 3a ff") + GUEST_IP6 + ALL_ROUTERS
PACKET = HEADER + PAYLOAD
DECODED = IPv6Header(
    traffic_class=0,
    flow_label=0,
    payload_length=16,
    next_header=IPPROTO_ICMPV6,
    hop_limit=255,
    src=GUEST_IP6,
    dst=ALL_ROUTERS,
)

# By hand: hop-by-hop options, destination options, a routing header and a
# fragment header (offset 3, M set, identification 77), each with its next
# header first, then the fragment's data.
HOP_BY_HOP = bytes.fromhex("3c00 0104 00000000")
DESTINATION = bytes.fromhex("2b00 0104 00000000")
ROUTING = bytes.fromhex("2c00 0000 00000000")
FRAGMENT = bytes.fromhex("1100 0019 0000004d")
FRAGMENT_DATA = b"fragment data"
CHAIN = HOP_BY_HOP + DESTINATION + ROUTING + FRAGMENT + FRAGMENT_DATA


def scapy_ip6(**fields) -> IPv6:
    return IPv6(src="fe80::5054:ff:fe12:3456", dst="ff02::2", **fields)


def test_ipv6_schema__header():
    common(
        IPV6_SCHEMA,
        IPV6_COMPILED,
        HEADER,
        {
            "version_class_flow": 0x60000000,
            "payload_length": 16,
            "next_header": 58,
            "hop_limit": 255,
            "src": GUEST_IP6,
            "dst": ALL_ROUTERS,
        },
        size=40,
    )


def test_fragment_schema__header():
    common(
        FRAGMENT_SCHEMA,
        FRAGMENT_COMPILED,
        FRAGMENT,
        {"next_header": 17, "offset_flags": 0x19, "identification": 77},
        size=8,
    )


def test_ipv6__golden_packets_agree_with_scapy():
    assert bytes(scapy_ip6(nh=58, hlim=255) / PAYLOAD) == PACKET
    assert (
        bytes(
            IPv6ExtHdrHopByHop()
            / IPv6ExtHdrDestOpt()
            / IPv6ExtHdrRouting()
            / IPv6ExtHdrFragment(nh=17, offset=3, m=1, id=77)
            / FRAGMENT_DATA
        )
        == CHAIN
    )


def test_ipv6__decodes_golden_packet():
    header, payload = decode_ipv6(PACKET)

    assert header == DECODED
    assert bytes(payload) == PAYLOAD


def test_ipv6__scapy_packet_decodes_to_its_fields():
    data = bytes(scapy_ip6(tc=0xB8, fl=0x12345, hlim=1) / UDP() / b"x")

    header, payload = decode_ipv6(data)

    assert header == IPv6Header(
        0xB8, 0x12345, 9, IPPROTO_UDP, 1, GUEST_IP6, ALL_ROUTERS
    )
    assert bytes(payload) == data[40:]


def test_ipv6__payload_stops_at_payload_length_dropping_ethernet_padding():
    frame = bytes(Ether(dst="33:33:00:00:00:02") / scapy_ip6(nh=59))
    frame += bytes(60 - len(frame))

    ethernet, packet = decode_ethernet(frame)
    header, payload = decode_ipv6(packet)

    assert ethernet.ethertype == ETHERTYPE_IPV6
    assert (header.next_header, header.payload_length, len(payload)) == (59, 0, 0)


def test_ipv6__payload_is_a_view_into_the_packet_not_a_copy():
    _, payload = decode_ipv6(PACKET)

    assert isinstance(payload, memoryview)
    assert payload.obj is PACKET


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_ipv6__decodes_any_buffer_type(convert):
    header, payload = decode_ipv6(convert(PACKET))

    assert header == DECODED
    assert bytes(payload) == PAYLOAD


def assert_rejected(decode, data, reason: str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(data)
    assert (info.value.layer, info.value.reason) == ("ipv6", reason)
    return info.value


@pytest.mark.parametrize("version", [0, 4, 7, 15])
def test_ipv6__rejects_other_versions(version):
    packet = bytes([version << 4]) + PACKET[1:]

    assert_rejected(decode_ipv6, packet, "bad_version")


@pytest.mark.parametrize("payload_length", [17, 0xFFFF])
def test_ipv6__rejects_payload_length_beyond_the_data(payload_length):
    packet = PACKET[:4] + payload_length.to_bytes(2, "big") + PACKET[6:]

    error = assert_rejected(decode_ipv6, packet, "bad_payload_length")

    assert error.detail == f"payload length {payload_length}, data 56 bytes"


@pytest.mark.parametrize("length", range(len(PACKET)))
def test_ipv6__rejects_every_truncated_prefix(length):
    expected = "truncated" if length < 40 else "bad_payload_length"

    assert_rejected(decode_ipv6, PACKET[:length], expected)


@pytest.mark.parametrize(
    "header",
    [
        DECODED,
        IPv6Header(0xB8, 0x12345, 0, IPPROTO_UDP, 1, ALL_ROUTERS, GUEST_IP6),
        IPv6Header(0xFF, 0xFFFFF, 0, 0xFF, 0, bytes(16), b"\xff" * 16),
    ],
)
@pytest.mark.parametrize("payload", [b"", PAYLOAD, bytes(1460)])
def test_ipv6__encode_matches_scapy(header, payload):
    scapy_packet = IPv6(
        tc=header.traffic_class,
        fl=header.flow_label,
        nh=header.next_header,
        hlim=header.hop_limit,
        src=str(IPv6Address(header.src)),
        dst=str(IPv6Address(header.dst)),
    )

    assert encode_ipv6(header, payload) == bytes(scapy_packet / payload)


def test_ipv6__encode_computes_payload_length_afresh():
    stale = IPv6Header(0, 0, 9999, IPPROTO_ICMPV6, 255, GUEST_IP6, ALL_ROUTERS)

    assert encode_ipv6(stale, PAYLOAD) == PACKET


def test_ipv6__round_trips_exact_bytes():
    header, payload = decode_ipv6(PACKET)

    assert encode_ipv6(header, payload) == PACKET


@pytest.mark.parametrize("payload", [bytearray(PAYLOAD), memoryview(PAYLOAD)])
def test_ipv6__encode_accepts_buffer_payloads(payload):
    assert encode_ipv6(DECODED, payload) == PACKET


def test_ipv6__encode_accepts_the_largest_payload():
    packet = encode_ipv6(DECODED, bytes(0xFFFF))

    assert decode_ipv6(packet)[0].payload_length == 0xFFFF


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (IPv6Header(0x100, 0, 0, 58, 255, GUEST_IP6, ALL_ROUTERS), b""),
        (IPv6Header(-1, 0, 0, 58, 255, GUEST_IP6, ALL_ROUTERS), b""),
        (IPv6Header(0, 0x100000, 0, 58, 255, GUEST_IP6, ALL_ROUTERS), b""),
        (IPv6Header(0, 0, 0, 256, 255, GUEST_IP6, ALL_ROUTERS), b""),
        (IPv6Header(0, 0, 0, 58, 256, GUEST_IP6, ALL_ROUTERS), b""),
        (IPv6Header(0, 0, 0, 58, 255, GUEST_IP6[:4], ALL_ROUTERS), b""),
        (IPv6Header(0, 0, 0, 58, 255, GUEST_IP6, ALL_ROUTERS + b"\x00"), b""),
        (IPv6Header(0, 0, 0, 58, 255, GUEST_IP6, ALL_ROUTERS), bytes(0x10000)),
    ],
)
def test_ipv6__encode_rejects_bad_fields_with_value_error(header, payload):
    with pytest.raises(ValueError, match=r"^ipv6: "):
        encode_ipv6(header, payload)


def walk(next_header: int, data) -> list[tuple[int, bytes]]:
    return [
        (kind, bytes(part)) for kind, part in walk_extension_headers(next_header, data)
    ]


def test_walk_extension_headers__without_any_yields_the_payload_alone():
    assert walk(IPPROTO_UDP, b"udp") == [(IPPROTO_UDP, b"udp")]
    assert walk(IPPROTO_ICMPV6, b"") == [(IPPROTO_ICMPV6, b"")]


def test_walk_extension_headers__yields_each_header_then_what_follows():
    assert walk(IPPROTO_HOPOPTS, CHAIN) == [
        (IPPROTO_HOPOPTS, HOP_BY_HOP),
        (IPPROTO_DSTOPTS, DESTINATION),
        (IPPROTO_ROUTING, ROUTING),
        (IPPROTO_FRAGMENT, FRAGMENT),
        (IPPROTO_UDP, FRAGMENT_DATA),
    ]


def test_walk_extension_headers__unpacks_into_headers_and_upper_layer():
    packet = bytes(scapy_ip6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP())
    _, payload = decode_ipv6(packet)

    *headers, (protocol, rest) = walk_extension_headers(IPPROTO_HOPOPTS, payload)

    assert [kind for kind, _ in headers] == [IPPROTO_HOPOPTS, IPPROTO_DSTOPTS]
    assert protocol == IPPROTO_UDP
    assert bytes(rest) == packet[-8:]


def test_walk_extension_headers__yields_views_into_the_data_not_copies():
    parts = list(walk_extension_headers(IPPROTO_HOPOPTS, CHAIN))

    assert all(isinstance(part, memoryview) and part.obj is CHAIN for _, part in parts)


def test_walk_extension_headers__reads_lengths_in_8_byte_units():
    long_options = bytes.fromhex("3b02 010c") + bytes(20)

    assert walk(IPPROTO_DSTOPTS, long_options + b"after") == [
        (IPPROTO_DSTOPTS, long_options),
        (IPPROTO_NONE, b"after"),
    ]


def test_walk_extension_headers__stops_after_a_fragment_header():
    # A later fragment's data is no header, whatever the next header says.
    fragment = bytes.fromhex("3c00 0a28 12345678")
    data = b"\x11\xff" + bytes(14)

    assert walk(IPPROTO_FRAGMENT, fragment + data) == [
        (IPPROTO_FRAGMENT, fragment),
        (IPPROTO_DSTOPTS, data),
    ]


@pytest.mark.parametrize("protocol", [IPPROTO_NONE, 51, 50, 135, 253])
def test_walk_extension_headers__stops_at_any_other_next_header(protocol):
    data = bytes([IPPROTO_DSTOPTS, 0]) + bytes(6)

    assert walk(protocol, data) == [(protocol, data)]


def test_walk_extension_headers__walks_up_to_the_bound():
    options = [bytes([IPPROTO_DSTOPTS, 0]) + bytes(6)] * IPV6_MAX_EXTENSION_HEADERS
    options[-1] = bytes([IPPROTO_UDP, 0]) + bytes(6)

    parts = walk(IPPROTO_DSTOPTS, b"".join(options) + b"udp")

    assert len(parts) == IPV6_MAX_EXTENSION_HEADERS + 1
    assert parts[-1] == (IPPROTO_UDP, b"udp")


def test_walk_extension_headers__rejects_more_headers_than_the_bound():
    options = (bytes([IPPROTO_DSTOPTS, 0]) + bytes(6)) * 100

    error = assert_rejected(
        lambda data: list(walk_extension_headers(IPPROTO_DSTOPTS, data)),
        options,
        "too_many_extension_headers",
    )

    assert error.detail == f"more than {IPV6_MAX_EXTENSION_HEADERS}"


def test_walk_extension_headers__rejects_hop_by_hop_options_after_another_header():
    data = bytes([IPPROTO_HOPOPTS, 0]) + bytes(6) + HOP_BY_HOP

    assert_rejected(
        lambda d: list(walk_extension_headers(IPPROTO_DSTOPTS, d)),
        data,
        "misplaced_hop_by_hop",
    )


@pytest.mark.parametrize("length", range(len(CHAIN) - len(FRAGMENT_DATA)))
def test_walk_extension_headers__rejects_every_chain_cut_inside_a_header(length):
    assert_rejected(
        lambda d: list(walk_extension_headers(IPPROTO_HOPOPTS, d)),
        CHAIN[:length],
        "truncated",
    )


def test_walk_extension_headers__yields_the_headers_before_a_bad_one():
    walker = walk_extension_headers(IPPROTO_HOPOPTS, HOP_BY_HOP + b"\x3b\x05")

    assert next(walker)[0] == IPPROTO_HOPOPTS
    with pytest.raises(DecodeError, match="truncated"):
        next(walker)


def test_fragment_header__decodes_golden_header():
    header = decode_fragment_header(FRAGMENT)

    assert header == FragmentHeader(
        next_header=17, offset=3, more=True, identification=77
    )


def test_fragment_header__decodes_the_header_walk_extension_headers_yields():
    *headers, _ = walk_extension_headers(IPPROTO_HOPOPTS, CHAIN)

    assert decode_fragment_header(headers[-1][1]).identification == 77


def test_fragment_header__ignores_reserved_fields():
    header = decode_fragment_header(bytes.fromhex("11ff 001e 0000004d"))

    assert header == FragmentHeader(17, 3, False, 77)


@pytest.mark.parametrize("length", range(8))
def test_fragment_header__rejects_fewer_than_8_bytes(length):
    assert_rejected(decode_fragment_header, FRAGMENT[:length], "truncated")


@pytest.mark.parametrize(
    "header",
    [
        FragmentHeader(17, 3, True, 77),
        FragmentHeader(58, 0, False, 0),
        FragmentHeader(0xFF, 0x1FFF, True, 0xFFFFFFFF),
    ],
)
def test_fragment_header__encode_matches_scapy_and_round_trips(header):
    encoded = encode_fragment_header(header)

    assert encoded == bytes(
        IPv6ExtHdrFragment(
            nh=header.next_header,
            offset=header.offset,
            m=header.more,
            id=header.identification,
        )
    )
    assert decode_fragment_header(encoded) == header


@pytest.mark.parametrize(
    "header",
    [
        FragmentHeader(17, 0x2000, False, 0),
        FragmentHeader(17, -1, False, 0),
        FragmentHeader(256, 0, False, 0),
        FragmentHeader(17, 0, False, 1 << 32),
    ],
)
def test_fragment_header__encode_rejects_bad_fields_with_value_error(header):
    with pytest.raises(ValueError, match=r"^ipv6: "):
        encode_fragment_header(header)


def test_ipv6__random_garbage_decodes_or_raises_decode_error():
    for data in garbage(8200, 3000, 80):
        decodes_or_raises_decode_error(decode_ipv6, data)
        decodes_or_raises_decode_error(decode_fragment_header, data)


def test_ipv6__mutated_packets_decode_or_raise_decode_error():
    outcomes = {
        decodes_or_raises_decode_error(decode_ipv6, data)
        for data in mutations(8201, 3000, PACKET)
    }

    assert outcomes == {True, False}


def test_walk_extension_headers__random_chains_walk_or_raise_decode_error():
    rng = random.Random(8202)
    kinds = [IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS]
    outcomes = set()
    for _ in range(3000):
        # Mostly extension header types and small lengths, to reach deep.
        data = bytes(
            rng.choice(kinds + [rng.randrange(4), rng.randrange(256)])
            for _ in range(rng.randrange(200))
        )
        outcomes.add(
            decodes_or_raises_decode_error(
                lambda d: list(walk_extension_headers(rng.choice(kinds), d)), data
            )
        )

    assert outcomes == {True, False}


def test_walk_extension_headers__mutated_chains_walk_or_raise_decode_error():
    for data in mutations(8203, 3000, CHAIN):
        decodes_or_raises_decode_error(
            lambda d: list(walk_extension_headers(IPPROTO_HOPOPTS, d)), data
        )

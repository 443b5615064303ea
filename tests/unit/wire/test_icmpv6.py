import random
from functools import partial

import pytest
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLDMultAddrRec,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptRDNSS,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrHopByHop,
    RouterAlert,
)
from scapy.layers.l2 import Ether

from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import decode_ethernet
from nicemu.wire.icmpv6 import (
    ICMPV6_COMPILED,
    ICMPV6_DEST_UNREACH,
    ICMPV6_ECHO_REPLY,
    ICMPV6_ECHO_REQUEST,
    ICMPV6_MLD2_REPORT,
    ICMPV6_MLD_REPORT,
    ICMPV6_NEIGHBOR_ADVERTISEMENT,
    ICMPV6_NEIGHBOR_SOLICITATION,
    ICMPV6_PACKET_TOO_BIG,
    ICMPV6_ROUTER_ADVERTISEMENT,
    ICMPV6_ROUTER_SOLICITATION,
    ICMPV6_SCHEMA,
    MLD_TYPES,
    MTU_OPTION_COMPILED,
    MTU_OPTION_SCHEMA,
    NA_FLAG_OVERRIDE,
    NA_FLAG_ROUTER,
    NA_FLAG_SOLICITED,
    NDP_TYPES,
    NEIGHBOR_ADVERTISEMENT_COMPILED,
    NEIGHBOR_ADVERTISEMENT_SCHEMA,
    NEIGHBOR_SOLICITATION_COMPILED,
    NEIGHBOR_SOLICITATION_SCHEMA,
    NO_NDP_OPTIONS,
    PREFIX_FLAG_AUTONOMOUS,
    PREFIX_FLAG_ON_LINK,
    PREFIX_INFO_COMPILED,
    PREFIX_INFO_SCHEMA,
    RA_FLAG_MANAGED,
    RA_FLAG_OTHER,
    ROUTER_ADVERTISEMENT_COMPILED,
    ROUTER_ADVERTISEMENT_SCHEMA,
    Icmpv6Message,
    NdpOptions,
    NeighborAdvertisement,
    NeighborSolicitation,
    PrefixInformation,
    RouterAdvertisement,
    RouterSolicitation,
    decode_icmpv6,
    decode_ndp,
    echo_reply_for,
    echo_request,
    encode_icmpv6,
    encode_ndp,
)
from nicemu.wire.ipv6 import (
    IPPROTO_HOPOPTS,
    IPPROTO_ICMPV6,
    decode_ipv6,
    walk_extension_headers,
)
from nicemu.wire.pseudo import ipv6_pseudo_sum

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GUEST_MAC = bytes.fromhex("525400123456")
GATEWAY_MAC = bytes.fromhex("52550a000202")
GUEST = "fe80::5054:ff:fe12:3456"
GATEWAY = "fe80::2"
GUEST_IP6 = bytes.fromhex("fe80000000000000505400fffe123456")
GATEWAY_IP6 = bytes.fromhex("fe800000000000000000000000000002")
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
ALL_ROUTERS = bytes.fromhex("ff020000000000000000000000000002")
SOLICITED_GATEWAY = bytes.fromhex("ff0200000000000000000001ff000002")
SITE_PREFIX = bytes.fromhex("fec00000000000000000000000000000")


def pseudo(src: bytes, dst: bytes) -> int:
    return ipv6_pseudo_sum(src, dst, IPPROTO_ICMPV6)


def scapy_icmpv6(src: str, dst: str, message) -> bytes:
    return bytes(IPv6(src=src, dst=dst) / message)[40:]


TO_GATEWAY = pseudo(GUEST_IP6, GATEWAY_IP6)
FROM_GATEWAY = pseudo(GATEWAY_IP6, GUEST_IP6)

# All by hand, checksums summed separately, word by word, with the
# pseudo-header. An echo request from the guest to the gateway, identifier
# 0x1234, sequence 1, 56 bytes of data.
ECHO_DATA = bytes(range(56))
ECHO_REQUEST = bytes.fromhex("8000 f57c 1234 0001") + ECHO_DATA
# The guest's router solicitation to ff02::2, with its link-layer address.
ROUTER_SOLICITATION = bytes.fromhex("8500 71b5 00000000 0101525400123456")
# The guest's neighbor solicitation for fe80::2, to its solicited-node group.
NEIGHBOR_SOLICITATION = (
    bytes.fromhex("8700 7220 00000000")
    + GATEWAY_IP6
    + bytes.fromhex("0101525400123456")
)
# The gateway's answer: router, solicited, override, its link-layer address.
NEIGHBOR_ADVERTISEMENT = (
    bytes.fromhex("8800 b808 e0000000")
    + GATEWAY_IP6
    + bytes.fromhex("020152550a000202")
)
# The gateway's router advertisement to ff02::1: hop limit 64, lifetime
# 1800 s, its link-layer address, MTU 1500, prefix fec0::/64 on-link and
# autonomous, valid 86400 s, preferred 14400 s.
ROUTER_ADVERTISEMENT = (
    bytes.fromhex("8600 fe79 40 00 0708 00000000 00000000")
    + bytes.fromhex("0101 52550a000202")
    + bytes.fromhex("0501 0000 000005dc")
    + bytes.fromhex("0304 40 c0 00015180 00003840 00000000")
    + SITE_PREFIX
)
SITE_PREFIX_INFORMATION = PrefixInformation(
    prefix_length=64,
    flags=PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
    valid_lifetime=86400,
    preferred_lifetime=14400,
    prefix=SITE_PREFIX,
)

GOLDEN = {
    "echo_request": (
        ECHO_REQUEST,
        GUEST,
        GATEWAY,
        ICMPv6EchoRequest(id=0x1234, seq=1, data=ECHO_DATA),
    ),
    "router_solicitation": (
        ROUTER_SOLICITATION,
        GUEST,
        "ff02::2",
        ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr="52:54:00:12:34:56"),
    ),
    "neighbor_solicitation": (
        NEIGHBOR_SOLICITATION,
        GUEST,
        "ff02::1:ff00:2",
        ICMPv6ND_NS(tgt=GATEWAY) / ICMPv6NDOptSrcLLAddr(lladdr="52:54:00:12:34:56"),
    ),
    "neighbor_advertisement": (
        NEIGHBOR_ADVERTISEMENT,
        GATEWAY,
        GUEST,
        ICMPv6ND_NA(R=1, S=1, O=1, tgt=GATEWAY)
        / ICMPv6NDOptDstLLAddr(lladdr="52:55:0a:00:02:02"),
    ),
    "router_advertisement": (
        ROUTER_ADVERTISEMENT,
        GATEWAY,
        "ff02::1",
        ICMPv6ND_RA(chlim=64, prf=0, routerlifetime=1800)
        / ICMPv6NDOptSrcLLAddr(lladdr="52:55:0a:00:02:02")
        / ICMPv6NDOptMTU(mtu=1500)
        / ICMPv6NDOptPrefixInfo(
            prefixlen=64,
            L=1,
            A=1,
            validlifetime=86400,
            preferredlifetime=14400,
            prefix="fec0::",
        ),
    ),
}

NDP_GOLDEN = [
    (
        ROUTER_SOLICITATION,
        pseudo(GUEST_IP6, ALL_ROUTERS),
        RouterSolicitation(NdpOptions(source_link_layer_address=GUEST_MAC)),
    ),
    (
        NEIGHBOR_SOLICITATION,
        pseudo(GUEST_IP6, SOLICITED_GATEWAY),
        NeighborSolicitation(
            GATEWAY_IP6, NdpOptions(source_link_layer_address=GUEST_MAC)
        ),
    ),
    (
        NEIGHBOR_ADVERTISEMENT,
        FROM_GATEWAY,
        NeighborAdvertisement(
            NA_FLAG_ROUTER | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
            GATEWAY_IP6,
            NdpOptions(target_link_layer_address=GATEWAY_MAC),
        ),
    ),
    (
        ROUTER_ADVERTISEMENT,
        pseudo(GATEWAY_IP6, ALL_NODES),
        RouterAdvertisement(
            cur_hop_limit=64,
            flags=0,
            router_lifetime=1800,
            reachable_time=0,
            retrans_timer=0,
            options=NdpOptions(
                source_link_layer_address=GATEWAY_MAC,
                mtu=1500,
                prefixes=(SITE_PREFIX_INFORMATION,),
            ),
        ),
    ),
]
NDP_IDS = [
    "router_solicitation",
    "neighbor_solicitation",
    "neighbor_advertisement",
    "router_advertisement",
]


@pytest.mark.parametrize(
    ("schema", "compiled", "data", "obj", "size"),
    [
        (
            ICMPV6_SCHEMA,
            ICMPV6_COMPILED,
            ECHO_REQUEST[:4],
            {"type": 128, "code": 0, "checksum": 0xF57C},
            4,
        ),
        (
            ROUTER_ADVERTISEMENT_SCHEMA,
            ROUTER_ADVERTISEMENT_COMPILED,
            ROUTER_ADVERTISEMENT[4:16],
            {
                "cur_hop_limit": 64,
                "flags": 0,
                "router_lifetime": 1800,
                "reachable_time": 0,
                "retrans_timer": 0,
            },
            12,
        ),
        (
            NEIGHBOR_SOLICITATION_SCHEMA,
            NEIGHBOR_SOLICITATION_COMPILED,
            NEIGHBOR_SOLICITATION[4:24],
            {"target": GATEWAY_IP6},
            20,
        ),
        (
            NEIGHBOR_ADVERTISEMENT_SCHEMA,
            NEIGHBOR_ADVERTISEMENT_COMPILED,
            NEIGHBOR_ADVERTISEMENT[4:24],
            {"flags": 0xE0, "target": GATEWAY_IP6},
            20,
        ),
        (
            PREFIX_INFO_SCHEMA,
            PREFIX_INFO_COMPILED,
            ROUTER_ADVERTISEMENT[34:64],
            {
                "prefix_length": 64,
                "flags": 0xC0,
                "valid_lifetime": 86400,
                "preferred_lifetime": 14400,
                "prefix": SITE_PREFIX,
            },
            30,
        ),
        (
            MTU_OPTION_SCHEMA,
            MTU_OPTION_COMPILED,
            ROUTER_ADVERTISEMENT[26:32],
            {"mtu": 1500},
            6,
        ),
    ],
    ids=[
        "icmpv6_header",
        "router_advertisement",
        "neighbor_solicitation",
        "neighbor_advertisement",
        "prefix_information",
        "mtu_option",
    ],
)
def test_icmpv6_schemas(schema, compiled, data, obj, size):
    common(schema, compiled, data, obj, size=size)


@pytest.mark.parametrize(
    ("golden", "src", "dst", "message"), GOLDEN.values(), ids=GOLDEN
)
def test_icmpv6__golden_messages_agree_with_scapy(golden, src, dst, message):
    assert scapy_icmpv6(src, dst, message) == golden


def test_icmpv6__decodes_golden_echo_request():
    message = decode_icmpv6(ECHO_REQUEST, TO_GATEWAY)

    assert message == Icmpv6Message(
        ICMPV6_ECHO_REQUEST, 0, 0xF57C, b"\x12\x34\x00\x01" + ECHO_DATA
    )
    assert (message.identifier, message.sequence) == (0x1234, 1)


def test_icmpv6__scapy_ping_frame_decodes_through_every_layer():
    frame = bytes(
        Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56")
        / IPv6(src=GUEST, dst=GATEWAY)
        / ICMPv6EchoRequest(id=0xBEEF, seq=0xFFFF, data=b"ping")
    )

    _, packet = decode_ethernet(frame)
    ip, payload = decode_ipv6(packet)
    message = decode_icmpv6(payload, ipv6_pseudo_sum(ip.src, ip.dst, ip.next_header))

    assert (message.type, message.code, message.checksum) == (
        ICMPV6_ECHO_REQUEST,
        0,
        Ether(frame)[ICMPv6EchoRequest].cksum,
    )
    assert (message.identifier, message.sequence, message.body[4:]) == (
        0xBEEF,
        0xFFFF,
        b"ping",
    )


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_icmpv6__decodes_any_buffer_type_into_bytes_body(convert):
    message = decode_icmpv6(convert(ECHO_REQUEST), TO_GATEWAY)

    assert type(message.body) is bytes
    assert message.body == ECHO_REQUEST[4:]


def assert_rejected(decode, data, reason: str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(data)
    assert (info.value.layer, info.value.reason) == ("icmpv6", reason)
    return info.value


@pytest.mark.parametrize("length", range(8))
def test_icmpv6__rejects_messages_shorter_than_8_bytes(length):
    assert_rejected(
        lambda d: decode_icmpv6(d, TO_GATEWAY), ECHO_REQUEST[:length], "truncated"
    )


def test_icmpv6__rejects_bad_checksum_naming_the_expected_one():
    message = bytearray(ECHO_REQUEST)
    message[2:4] = b"\xab\xcd"

    error = assert_rejected(
        lambda d: decode_icmpv6(d, TO_GATEWAY), message, "bad_checksum"
    )

    assert str(error) == "icmpv6: bad_checksum (checksum 0xabcd, expected 0xf57c)"


def test_icmpv6__rejects_a_changed_body_byte_by_checksum():
    message = bytearray(ECHO_REQUEST)
    message[-1] ^= 0x01

    assert_rejected(lambda d: decode_icmpv6(d, TO_GATEWAY), message, "bad_checksum")


def test_icmpv6__rejects_a_message_checked_against_another_pseudo_header():
    assert_rejected(
        lambda d: decode_icmpv6(d, pseudo(GUEST_IP6, ALL_NODES)),
        ECHO_REQUEST,
        "bad_checksum",
    )


@pytest.mark.parametrize(
    ("message", "scapy_message"),
    [
        (
            Icmpv6Message(ICMPV6_ECHO_REQUEST, 0, 0, b"\x12\x34\x00\x01" + ECHO_DATA),
            ICMPv6EchoRequest(id=0x1234, seq=1, data=ECHO_DATA),
        ),
        (
            Icmpv6Message(ICMPV6_ECHO_REPLY, 0, 0, b"\xbe\xef\xff\xffodd"),
            ICMPv6EchoReply(id=0xBEEF, seq=0xFFFF, data=b"odd"),
        ),
        (
            Icmpv6Message(ICMPV6_DEST_UNREACH, 4, 0, bytes(4) + bytes(48)),
            ICMPv6DestUnreach(code=4) / bytes(48),
        ),
        (
            Icmpv6Message(ICMPV6_PACKET_TOO_BIG, 0, 0, b"\x00\x00\x05\x00" + bytes(40)),
            ICMPv6PacketTooBig(mtu=1280) / bytes(40),
        ),
    ],
    ids=["echo_request", "echo_reply", "dest_unreach", "packet_too_big"],
)
def test_icmpv6__encode_matches_scapy(message, scapy_message):
    assert encode_icmpv6(message, TO_GATEWAY) == scapy_icmpv6(
        GUEST, GATEWAY, scapy_message
    )


def test_icmpv6__encode_computes_checksum_afresh():
    stale = Icmpv6Message(ICMPV6_ECHO_REQUEST, 0, 0xDEAD, ECHO_REQUEST[4:])

    assert encode_icmpv6(stale, TO_GATEWAY) == ECHO_REQUEST


def test_icmpv6__round_trips_exact_bytes():
    assert encode_icmpv6(decode_icmpv6(ECHO_REQUEST, TO_GATEWAY), TO_GATEWAY) == (
        ECHO_REQUEST
    )


@pytest.mark.parametrize(
    "message",
    [
        Icmpv6Message(256, 0, 0, bytes(4)),
        Icmpv6Message(-1, 0, 0, bytes(4)),
        Icmpv6Message(ICMPV6_ECHO_REQUEST, 256, 0, bytes(4)),
    ],
)
def test_icmpv6__encode_rejects_bad_fields_with_value_error(message):
    with pytest.raises(ValueError, match=r"^icmpv6: "):
        encode_icmpv6(message, TO_GATEWAY)


def test_echo_request__encodes_to_scapys_request():
    request = echo_request(0x1234, 1, ECHO_DATA)

    assert encode_icmpv6(request, TO_GATEWAY) == ECHO_REQUEST


@pytest.mark.parametrize(("identifier", "sequence"), [(0x10000, 0), (0, -1)])
def test_echo_request__rejects_values_beyond_16_bits_with_value_error(
    identifier, sequence
):
    with pytest.raises(ValueError, match=r"^icmpv6: "):
        echo_request(identifier, sequence)


def test_echo_reply_for__matches_scapy_reply():
    request = decode_icmpv6(ECHO_REQUEST, TO_GATEWAY)

    reply = echo_reply_for(request, FROM_GATEWAY)

    assert reply == scapy_icmpv6(
        GATEWAY, GUEST, ICMPv6EchoReply(id=0x1234, seq=1, data=ECHO_DATA)
    )


def test_echo_reply_for__answers_a_multicast_request_from_the_reply_addresses():
    request_bytes = scapy_icmpv6(GUEST, "ff02::1", ICMPv6EchoRequest(id=7, seq=9))
    request = decode_icmpv6(request_bytes, pseudo(GUEST_IP6, ALL_NODES))

    reply = echo_reply_for(request, FROM_GATEWAY)

    assert reply == scapy_icmpv6(GATEWAY, GUEST, ICMPv6EchoReply(id=7, seq=9))


def test_echo_reply_for__keeps_the_request_code():
    request = Icmpv6Message(ICMPV6_ECHO_REQUEST, 3, 0, b"\x00\x01\x00\x02")

    reply = decode_icmpv6(echo_reply_for(request, FROM_GATEWAY), FROM_GATEWAY)

    assert (reply.type, reply.code, reply.body) == (
        ICMPV6_ECHO_REPLY,
        3,
        request.body,
    )


@pytest.mark.parametrize(
    "icmp_type",
    [ICMPV6_ECHO_REPLY, ICMPV6_DEST_UNREACH, ICMPV6_NEIGHBOR_SOLICITATION],
)
def test_echo_reply_for__rejects_anything_but_an_echo_request(icmp_type):
    with pytest.raises(
        ValueError, match=r"^icmpv6: echo_reply_for needs an echo request"
    ):
        echo_reply_for(Icmpv6Message(icmp_type, 0, 0, bytes(4)), FROM_GATEWAY)


@pytest.mark.parametrize(("golden", "pseudo_sum", "expected"), NDP_GOLDEN, ids=NDP_IDS)
def test_ndp__decodes_golden_messages(golden, pseudo_sum, expected):
    message = decode_icmpv6(golden, pseudo_sum)

    assert message.type in NDP_TYPES
    assert decode_ndp(message) == expected


@pytest.mark.parametrize(("golden", "pseudo_sum", "message"), NDP_GOLDEN, ids=NDP_IDS)
def test_ndp__encodes_golden_messages(golden, pseudo_sum, message):
    assert encode_ndp(message, pseudo_sum) == golden


@pytest.mark.parametrize(
    "message",
    [
        RouterSolicitation(),
        NeighborSolicitation(GATEWAY_IP6),
        NeighborAdvertisement(0xFF, GUEST_IP6),
        RouterAdvertisement(255, 0xFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        RouterAdvertisement(
            0,
            RA_FLAG_MANAGED | RA_FLAG_OTHER,
            0,
            0,
            0,
            NdpOptions(
                source_link_layer_address=GATEWAY_MAC,
                target_link_layer_address=GUEST_MAC,
                mtu=0xFFFFFFFF,
                prefixes=(
                    SITE_PREFIX_INFORMATION,
                    PrefixInformation(128, 0xFF, 0, 0xFFFFFFFF, b"\xff" * 16),
                ),
                other=((25, bytes(6) + GATEWAY_IP6), (0xFF, bytes(14))),
            ),
        ),
    ],
    ids=["rs", "ns", "na", "ra", "ra_with_every_option"],
)
def test_ndp__round_trips_through_icmpv6(message):
    pseudo_sum = pseudo(GATEWAY_IP6, ALL_NODES)

    decoded = decode_ndp(decode_icmpv6(encode_ndp(message, pseudo_sum), pseudo_sum))

    assert decoded == message


def test_ndp__decodes_scapy_advertisement_with_flags_and_unknown_options():
    data = scapy_icmpv6(
        GATEWAY,
        "ff02::1",
        ICMPv6ND_RA(M=1, O=1, prf=1, routerlifetime=0, reachabletime=30000)
        / ICMPv6NDOptPrefixInfo(prefix="2001:db8::", L=0, A=1)
        / ICMPv6NDOptPrefixInfo(prefix="fec0::", prefixlen=48)
        / ICMPv6NDOptRDNSS(dns=["fec0::3"], lifetime=600),
    )
    pseudo_sum = pseudo(GATEWAY_IP6, ALL_NODES)

    advertisement = decode_ndp(decode_icmpv6(data, pseudo_sum))

    assert advertisement == RouterAdvertisement(
        0,
        RA_FLAG_MANAGED | RA_FLAG_OTHER | 0x08,
        0,
        30000,
        0,
        NdpOptions(
            prefixes=(
                PrefixInformation(
                    64,
                    PREFIX_FLAG_AUTONOMOUS,
                    0xFFFFFFFF,
                    0xFFFFFFFF,
                    bytes.fromhex("20010db8") + bytes(12),
                ),
                PrefixInformation(
                    48,
                    PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
                    0xFFFFFFFF,
                    0xFFFFFFFF,
                    SITE_PREFIX,
                ),
            ),
            other=(
                (
                    25,
                    bytes.fromhex("0000 00000258 fec00000000000000000000000000003"),
                ),
            ),
        ),
    )
    assert encode_ndp(advertisement, pseudo_sum) == data


def test_ndp__first_link_layer_address_and_mtu_count_when_repeated():
    options = (
        bytes.fromhex("0101 525400123456")
        + bytes.fromhex("0501 0000 000005dc")
        + bytes.fromhex("0101 52550a000202")
        + bytes.fromhex("0501 0000 00000500")
    )
    message = Icmpv6Message(ICMPV6_ROUTER_SOLICITATION, 0, 0, bytes(4) + options)

    assert decode_ndp(message) == RouterSolicitation(
        NdpOptions(source_link_layer_address=GUEST_MAC, mtu=1500)
    )


def test_ndp__link_layer_address_keeps_the_option_data_whole():
    # A link-layer address longer than Ethernet's, padded to 16 bytes.
    options = bytes.fromhex("0202") + bytes(range(14))
    message = Icmpv6Message(
        ICMPV6_NEIGHBOR_ADVERTISEMENT, 0, 0, bytes(4) + GATEWAY_IP6 + options
    )

    assert decode_ndp(message).options.target_link_layer_address == bytes(range(14))


def ndp_message(icmp_type: int, options: bytes) -> Icmpv6Message:
    fixed = {
        ICMPV6_ROUTER_SOLICITATION: 4,
        ICMPV6_ROUTER_ADVERTISEMENT: 12,
        ICMPV6_NEIGHBOR_SOLICITATION: 20,
        ICMPV6_NEIGHBOR_ADVERTISEMENT: 20,
    }[icmp_type]
    return Icmpv6Message(icmp_type, 0, 0, bytes(fixed) + options)


@pytest.mark.parametrize("icmp_type", sorted(NDP_TYPES))
@pytest.mark.parametrize(
    "options",
    [
        bytes.fromhex("0100 525400123456"),
        bytes.fromhex("0101 525400123456 0100"),
        bytes.fromhex("0102 525400123456"),
        bytes.fromhex("0101 525400123456 01"),
        bytes.fromhex("0503 0000 000005dc") + bytes(16),
        bytes.fromhex("0502 0000 000005dc") + bytes(8),
        bytes.fromhex("0303") + bytes(22),
        bytes.fromhex("0305") + bytes(38),
        bytes.fromhex("1900") + bytes(22),
    ],
    ids=[
        "length_0",
        "length_0_after_another",
        "past_the_end",
        "one_byte_left",
        "past_the_end_mtu",
        "mtu_length_2",
        "prefix_information_length_3",
        "prefix_information_length_5",
        "unknown_length_0",
    ],
)
def test_ndp__rejects_bad_option_lengths(icmp_type, options):
    assert_rejected(decode_ndp, ndp_message(icmp_type, options), "bad_option_length")


@pytest.mark.parametrize(
    ("icmp_type", "fixed_len"),
    [
        (ICMPV6_ROUTER_SOLICITATION, 4),
        (ICMPV6_ROUTER_ADVERTISEMENT, 12),
        (ICMPV6_NEIGHBOR_SOLICITATION, 20),
        (ICMPV6_NEIGHBOR_ADVERTISEMENT, 20),
    ],
)
def test_ndp__rejects_bodies_shorter_than_the_fixed_part(icmp_type, fixed_len):
    for length in range(fixed_len):
        message = Icmpv6Message(icmp_type, 0, 0, bytes(length))

        assert_rejected(decode_ndp, message, "truncated")
    assert decode_ndp(Icmpv6Message(icmp_type, 0, 0, bytes(fixed_len))).options == (
        NO_NDP_OPTIONS
    )


@pytest.mark.parametrize(
    "icmp_type", [ICMPV6_ECHO_REQUEST, ICMPV6_MLD_REPORT, ICMPV6_DEST_UNREACH, 137]
)
def test_decode_ndp__rejects_other_types_with_value_error(icmp_type):
    with pytest.raises(ValueError, match=r"^icmpv6: decode_ndp needs a Neighbor"):
        decode_ndp(Icmpv6Message(icmp_type, 0, 0, bytes(40)))


def test_encode_ndp__rejects_other_messages_with_type_error():
    with pytest.raises(TypeError, match=r"^icmpv6: encode_ndp needs a Neighbor"):
        encode_ndp(echo_request(1, 2), FROM_GATEWAY)


@pytest.mark.parametrize(
    "message",
    [
        NeighborSolicitation(GATEWAY_IP6[:15]),
        NeighborAdvertisement(0, GATEWAY_IP6 + b"\x00"),
        NeighborAdvertisement(0x100, GATEWAY_IP6),
        RouterAdvertisement(256, 0, 0, 0, 0),
        RouterAdvertisement(0, 0, 0x10000, 0, 0),
        RouterSolicitation(NdpOptions(source_link_layer_address=GUEST_MAC[:5])),
        RouterSolicitation(NdpOptions(target_link_layer_address=bytes(7))),
        RouterSolicitation(NdpOptions(mtu=1 << 32)),
        RouterSolicitation(
            NdpOptions(prefixes=(PrefixInformation(64, 0, 0, 0, SITE_PREFIX[:8]),))
        ),
        RouterSolicitation(
            NdpOptions(prefixes=(PrefixInformation(256, 0, 0, 0, SITE_PREFIX),))
        ),
        RouterSolicitation(NdpOptions(other=((256, bytes(6)),))),
        RouterSolicitation(NdpOptions(other=((25, bytes(7)),))),
        RouterSolicitation(NdpOptions(other=((25, bytes(255 * 8)),))),
    ],
)
def test_encode_ndp__rejects_bad_fields_with_value_error(message):
    with pytest.raises(ValueError, match=r"^icmpv6: "):
        encode_ndp(message, FROM_GATEWAY)


def test_encode_ndp__accepts_the_longest_option():
    message = RouterSolicitation(NdpOptions(other=((25, bytes(255 * 8 - 2)),)))

    encoded = encode_ndp(message, FROM_GATEWAY)

    assert decode_ndp(decode_icmpv6(encoded, FROM_GATEWAY)) == message


@pytest.mark.parametrize(
    ("icmp_type", "report"),
    [
        (
            ICMPV6_MLD2_REPORT,
            ICMPv6MLReport2(
                records=[ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::1:ff12:3456")]
            ),
        ),
        (ICMPV6_MLD_REPORT, ICMPv6MLReport(mladdr="ff02::1:ff12:3456")),
    ],
    ids=["mldv2", "mldv1"],
)
def test_icmpv6__mld_reports_decode_through_hop_by_hop_and_are_recognised(
    icmp_type, report
):
    frame = bytes(
        Ether(dst="33:33:00:00:00:16", src="52:54:00:12:34:56")
        / IPv6(src=GUEST, dst="ff02::16", hlim=1)
        / IPv6ExtHdrHopByHop(options=RouterAlert())
        / report
    )

    _, packet = decode_ethernet(frame)
    ip, payload = decode_ipv6(packet)
    *headers, (protocol, data) = walk_extension_headers(ip.next_header, payload)
    message = decode_icmpv6(data, ipv6_pseudo_sum(ip.src, ip.dst, protocol))

    assert [kind for kind, _ in headers] == [IPPROTO_HOPOPTS]
    assert protocol == IPPROTO_ICMPV6
    assert message.type == icmp_type
    assert message.type in MLD_TYPES
    assert message.type not in NDP_TYPES


def test_icmpv6__random_garbage_decodes_or_raises_decode_error():
    for data in garbage(4443, 3000, 40):
        decodes_or_raises_decode_error(lambda d: decode_icmpv6(d, TO_GATEWAY), data)


def test_icmpv6__mutated_messages_decode_or_raise_decode_error():
    for golden, pseudo_sum, _ in NDP_GOLDEN:
        decode = partial(decode_icmpv6, pseudo_header_sum=pseudo_sum)
        for data in mutations(44430, 1000, golden):
            decodes_or_raises_decode_error(decode, data)


def test_ndp__random_bodies_decode_or_raise_decode_error():
    # Without the checksum in the way: options with small types and lengths.
    rng = random.Random(4861)
    outcomes = set()
    for _ in range(3000):
        icmp_type = rng.choice(sorted(NDP_TYPES))
        body = bytes(
            rng.choice([0, 1, 2, 3, 4, 5, rng.randrange(256)])
            for _ in range(rng.randrange(80))
        )
        outcomes.add(
            decodes_or_raises_decode_error(
                decode_ndp, Icmpv6Message(icmp_type, 0, 0, body)
            )
        )

    assert outcomes == {True, False}


@pytest.mark.parametrize("golden", [golden for golden, _, _ in NDP_GOLDEN], ids=NDP_IDS)
def test_ndp__mutated_bodies_decode_or_raise_decode_error(golden):
    outcomes = {
        decodes_or_raises_decode_error(
            decode_ndp, Icmpv6Message(golden[0], 0, 0, data[4:])
        )
        for data in mutations(48610, 3000, golden)
    }

    assert outcomes == {True, False}

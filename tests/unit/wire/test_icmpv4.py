import random

import pytest
from scapy.layers.inet import ICMP, IP, IPerror, UDPerror
from scapy.layers.l2 import Ether

from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import (
    ETHERTYPE_IPV4,
    EthernetHeader,
    decode_ethernet,
    encode_ethernet,
)
from nicemu.wire.icmpv4 import (
    ICMP_DEST_UNREACH,
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    ICMP_TIME_EXCEEDED,
    ICMPV4_COMPILED,
    ICMPV4_SCHEMA,
    Icmpv4Message,
    decode_icmpv4,
    echo_reply_for,
    encode_icmpv4,
)
from nicemu.wire.ipv4 import IPPROTO_ICMP, IPv4Header, decode_ipv4, encode_ipv4

from .common import common, decodes_or_raises_decode_error, garbage, mutations

DATA = bytes(range(56))
# By hand: echo request, identifier 7, sequence 1, checksum 0x00e5 (summed
# separately, word by word), then 56 bytes of data.
ECHO_REQUEST = bytes.fromhex("0800 00e5 0007 0001") + DATA
# By hand: a 98-byte ping frame from the guest to the gateway carrying it.
PING_FRAME = (
    bytes.fromhex("52550a000202 525400123456 0800")
    + bytes.fromhex("45000054 1c464000 40010653 0a00020f 0a000202")
    + ECHO_REQUEST
)


def test_icmpv4_schema__echo_request_header():
    common(
        ICMPV4_SCHEMA,
        ICMPV4_COMPILED,
        ECHO_REQUEST[:8],
        {"type": 8, "code": 0, "checksum": 0x00E5, "rest": b"\x00\x07\x00\x01"},
        size=8,
    )


def test_icmpv4__golden_echo_request_agrees_with_scapy():
    assert bytes(ICMP(type=8, id=7, seq=1) / DATA) == ECHO_REQUEST
    assert bytes(Ether(PING_FRAME)) == PING_FRAME
    assert Ether(PING_FRAME)[ICMP].load == DATA

    message = decode_icmpv4(ECHO_REQUEST)

    assert message == Icmpv4Message(
        ICMP_ECHO_REQUEST, 0, 0x00E5, b"\x00\x07\x00\x01", DATA
    )
    assert (message.identifier, message.sequence) == (7, 1)


def test_icmpv4__scapy_ping_frame_decodes_through_every_layer():
    frame = bytes(
        Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56")
        / IP(src="10.0.2.15", dst="10.0.2.2", id=0x1C46, flags="DF")
        / ICMP(type=8, id=0xBEEF, seq=0x1234)
        / DATA
    )

    _, ip_packet = decode_ethernet(frame)
    ip_header, icmp_message = decode_ipv4(ip_packet)
    message = decode_icmpv4(icmp_message)

    assert ip_header.protocol == IPPROTO_ICMP
    assert (message.type, message.code, message.checksum) == (
        8,
        0,
        Ether(frame)[ICMP].chksum,
    )
    assert (message.identifier, message.sequence, message.payload) == (
        0xBEEF,
        0x1234,
        DATA,
    )


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_icmpv4__decodes_any_buffer_type_into_bytes_payload(convert):
    message = decode_icmpv4(convert(ECHO_REQUEST))

    assert type(message.payload) is bytes
    assert message.payload == DATA


def test_icmpv4__decodes_message_without_data():
    message = decode_icmpv4(bytes(ICMP(type=8, id=1, seq=2)))

    assert (message.sequence, message.payload) == (2, b"")


@pytest.mark.parametrize("length", range(8))
def test_icmpv4__rejects_message_shorter_than_header(length):
    with pytest.raises(DecodeError) as info:
        decode_icmpv4(ECHO_REQUEST[:length])

    assert (info.value.layer, info.value.reason) == ("icmpv4", "truncated")


@pytest.mark.parametrize("length", range(8, len(ECHO_REQUEST)))
def test_icmpv4__prefixes_longer_than_header_decode_or_raise_decode_error(length):
    # A shorter message is still a message; its checksum decides.
    decodes_or_raises_decode_error(decode_icmpv4, ECHO_REQUEST[:length])


def test_icmpv4__rejects_bad_checksum_naming_the_expected_one():
    message = bytearray(ECHO_REQUEST)
    message[2:4] = b"\xab\xcd"

    with pytest.raises(DecodeError) as info:
        decode_icmpv4(message)

    assert (info.value.layer, info.value.reason) == ("icmpv4", "bad_checksum")
    assert str(info.value) == "icmpv4: bad_checksum (checksum 0xabcd, expected 0x00e5)"


def test_icmpv4__rejects_a_changed_data_byte_by_checksum():
    message = bytearray(ECHO_REQUEST)
    message[-1] ^= 0x40

    with pytest.raises(DecodeError, match="bad_checksum"):
        decode_icmpv4(message)


@pytest.mark.parametrize(
    ("message", "scapy_message"),
    [
        (
            Icmpv4Message(ICMP_ECHO_REQUEST, 0, 0, b"\x00\x07\x00\x01", DATA),
            ICMP(type=8, id=7, seq=1) / DATA,
        ),
        (
            Icmpv4Message(ICMP_ECHO_REPLY, 0, 0, b"\xbe\xef\xff\xff", b"odd"),
            ICMP(type=0, id=0xBEEF, seq=0xFFFF) / b"odd",
        ),
        (
            Icmpv4Message(
                ICMP_TIME_EXCEEDED, 0, 0, bytes(4), bytes(IPerror() / UDPerror())
            ),
            ICMP(type=11, code=0) / IPerror() / UDPerror(),
        ),
        (
            Icmpv4Message(ICMP_DEST_UNREACH, 4, 0, b"\x00\x00\x05\xdc", bytes(28)),
            ICMP(type=3, code=4, nexthopmtu=1500) / bytes(28),
        ),
    ],
)
def test_icmpv4__encode_matches_scapy(message, scapy_message):
    assert encode_icmpv4(message) == bytes(scapy_message)


def test_icmpv4__encode_computes_checksum_afresh():
    stale = Icmpv4Message(ICMP_ECHO_REQUEST, 0, 0xDEAD, b"\x00\x07\x00\x01", DATA)

    assert encode_icmpv4(stale) == ECHO_REQUEST


def test_icmpv4__round_trips_exact_bytes():
    assert encode_icmpv4(decode_icmpv4(ECHO_REQUEST)) == ECHO_REQUEST


@pytest.mark.parametrize(
    "message",
    [
        Icmpv4Message(ICMP_ECHO_REQUEST, 0, 0, b"\x00\x07\x00", DATA),
        Icmpv4Message(ICMP_ECHO_REQUEST, 0, 0, b"\x00\x07\x00\x01\x00", DATA),
        Icmpv4Message(256, 0, 0, bytes(4), DATA),
        Icmpv4Message(ICMP_ECHO_REQUEST, -1, 0, bytes(4), DATA),
    ],
)
def test_icmpv4__encode_rejects_bad_fields_with_value_error(message):
    with pytest.raises(ValueError, match=r"^icmpv4: "):
        encode_icmpv4(message)


def test_echo_reply_for__matches_scapy_reply():
    reply = echo_reply_for(decode_icmpv4(ECHO_REQUEST))

    assert reply == bytes(ICMP(type=0, id=7, seq=1) / DATA)


def test_echo_reply_for__equals_fresh_encoding_for_random_requests():
    rng = random.Random(1624)
    for _ in range(3000):
        code = 0 if rng.random() < 0.8 else rng.randrange(256)
        rest = rng.randbytes(4)
        payload = rng.randbytes(rng.randrange(0, 80))
        request = decode_icmpv4(encode_icmpv4(Icmpv4Message(8, code, 0, rest, payload)))

        reply = echo_reply_for(request)

        assert reply == encode_icmpv4(
            Icmpv4Message(ICMP_ECHO_REPLY, code, 0, rest, payload)
        )


def test_echo_reply_for__all_zero_reply_gets_checksum_ffff():
    # The incremental update alone would give 0, which does not verify when
    # every other byte is zero.
    request = decode_icmpv4(encode_icmpv4(Icmpv4Message(8, 0, 0, bytes(4), bytes(8))))

    reply = echo_reply_for(request)

    assert reply == b"\x00\x00\xff\xff" + bytes(12)
    assert decode_icmpv4(reply).checksum == 0xFFFF


def test_echo_reply_for__reply_checksum_zero_when_that_is_right():
    # Data chosen so the reply's other words sum to 0xffff.
    request = decode_icmpv4(
        encode_icmpv4(Icmpv4Message(8, 0, 0, b"\xff\xff\x00\x00", b""))
    )

    reply = echo_reply_for(request)

    assert reply == b"\x00\x00\x00\x00\xff\xff\x00\x00"
    assert decode_icmpv4(reply).type == ICMP_ECHO_REPLY


def test_echo_reply_for__accepts_either_form_of_a_zero_request_checksum():
    zero = Icmpv4Message(8, 0, 0x0000, b"\xf7\xff\x00\x00", b"")
    ones = Icmpv4Message(8, 0, 0xFFFF, b"\xf7\xff\x00\x00", b"")

    assert decode_icmpv4(encode_icmpv4(zero)) in (zero, ones)
    assert (
        echo_reply_for(zero)
        == echo_reply_for(ones)
        == bytes.fromhex("00000800f7ff0000")
    )


@pytest.mark.parametrize(
    "icmp_type", [ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED]
)
def test_echo_reply_for__rejects_anything_but_an_echo_request(icmp_type):
    with pytest.raises(
        ValueError, match=r"^icmpv4: echo_reply_for needs an echo request"
    ):
        echo_reply_for(Icmpv4Message(icmp_type, 0, 0, bytes(4), b""))


def test_icmpv4__ping_frame_answered_through_every_layer_matches_scapy():
    eth, ip_packet = decode_ethernet(PING_FRAME)
    ip, icmp_message = decode_ipv4(ip_packet)
    reply = echo_reply_for(decode_icmpv4(icmp_message))
    reply_ip = IPv4Header(
        0, 0, ip.identification, 0, 0, 64, IPPROTO_ICMP, 0, ip.dst, ip.src
    )

    frame = encode_ethernet(
        EthernetHeader(eth.src, eth.dst, ETHERTYPE_IPV4), encode_ipv4(reply_ip, reply)
    )

    assert frame == bytes(
        Ether(dst="52:54:00:12:34:56", src="52:55:0a:00:02:02")
        / IP(src="10.0.2.2", dst="10.0.2.15", id=0x1C46, ttl=64)
        / ICMP(type=0, id=7, seq=1)
        / DATA
    )


def test_icmpv4__random_garbage_decodes_or_raises_decode_error():
    for data in garbage(792, 3000, 40):
        decodes_or_raises_decode_error(decode_icmpv4, data)


def test_icmpv4__mutated_messages_decode_or_raise_decode_error():
    for data in mutations(7920, 3000, ECHO_REQUEST):
        decodes_or_raises_decode_error(decode_icmpv4, data)

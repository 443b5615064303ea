import random

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from nicemu.wire.checksum import internet_checksum
from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import decode_ethernet
from nicemu.wire.ipv4 import IPPROTO_TCP, decode_ipv4
from nicemu.wire.pseudo import ipv4_pseudo_sum, ipv6_pseudo_sum
from nicemu.wire.tcp import (
    ACK,
    CWR,
    ECE,
    FIN,
    NO_TCP_OPTIONS,
    PSH,
    RST,
    SYN,
    TCP_COMPILED,
    TCP_SCHEMA,
    URG,
    TcpHeader,
    TcpOptions,
    decode_tcp,
    decode_tcp_options,
    encode_tcp,
    encode_tcp_options,
)

from .common import common, decodes_or_raises_decode_error, garbage, mutations

GUEST_IP = bytes([10, 0, 2, 15])
GATEWAY_IP = bytes([10, 0, 2, 2])
PSEUDO = ipv4_pseudo_sum(GUEST_IP, GATEWAY_IP, IPPROTO_TCP)
GUEST_IP6 = bytes.fromhex("fe80000000000000505400fffe123456")
GATEWAY_IP6 = bytes.fromhex("fe800000000000000000000000000002")
PSEUDO6 = ipv6_pseudo_sum(GUEST_IP6, GATEWAY_IP6, IPPROTO_TCP)

# The options a Linux SYN carries: MSS 1460, SACK-permitted, timestamps
# (TSval 123456, TSecr 0), NOP, window scale 7.
SYN_OPTIONS = bytes.fromhex("020405b4 0402080a 0001e240 00000000 01030307")
# By hand: 10.0.2.15:40000 -> 10.0.2.2:80, SYN, seq 0x12345678, window
# 64240, data offset 10, checksum 0x4d80 (summed separately, word by word,
# with the pseudo-header).
SYN_SEGMENT = (
    bytes.fromhex("9c40 0050 12345678 00000000 a002 faf0 4d80 0000") + SYN_OPTIONS
)
SYN_DECODED = TcpHeader(
    src_port=40000,
    dst_port=80,
    seq=0x12345678,
    ack=0,
    data_offset=10,
    flags=SYN,
    window=64240,
    checksum=0x4D80,
    urgent=0,
    options=SYN_OPTIONS,
)
SYN_DECODED_OPTIONS = TcpOptions(
    mss=1460, window_scale=7, sack_permitted=True, timestamp=(123456, 0)
)
REQUEST = b"GET / HTTP/1.0\r\n\r\n"
# By hand: the guest's request, PSH+ACK, with NOP, NOP, timestamps (TSval
# 0x1e2a4, TSecr 0xc0ffee), checksum 0xfa9a (summed as above).
DATA_OPTIONS = bytes.fromhex("0101080a 0001e2a4 00c0ffee")
DATA_SEGMENT = (
    bytes.fromhex("9c40 0050 12345679 abcdef01 8018 01f6 fa9a 0000")
    + DATA_OPTIONS
    + REQUEST
)
DATA_DECODED_OPTIONS = TcpOptions(timestamp=(0x1E2A4, 0xC0FFEE))


def scapy_ip() -> IP:
    return IP(src="10.0.2.15", dst="10.0.2.2")


def scapy_ip6() -> IPv6:
    return IPv6(src="fe80::5054:ff:fe12:3456", dst="fe80::2")


def schema_fields(segment: bytes) -> dict:
    header_len = (segment[12] >> 4) * 4
    return {
        "src_port": 40000,
        "dst_port": 80,
        "seq": int.from_bytes(segment[4:8], "big"),
        "ack": int.from_bytes(segment[8:12], "big"),
        "offset_flags": int.from_bytes(segment[12:14], "big"),
        "window": int.from_bytes(segment[14:16], "big"),
        "checksum": int.from_bytes(segment[16:18], "big"),
        "urgent": 0,
        "options": segment[20:header_len],
    }


@pytest.mark.parametrize(
    "header",
    [
        SYN_SEGMENT,
        DATA_SEGMENT[:32],
        bytes.fromhex("9c40 0050 12345679 abcdef01 5010 01f6 0000 0000"),
    ],
)
def test_tcp_schema__header_with_and_without_options(header):
    common(TCP_SCHEMA, TCP_COMPILED, header, schema_fields(header))


def test_tcp__flag_constants_are_the_control_bits_in_order():
    assert [FIN, SYN, RST, PSH, ACK, URG, ECE, CWR] == [1 << n for n in range(8)]


def test_tcp__golden_segments_agree_with_scapy():
    syn = TCP(
        sport=40000,
        dport=80,
        seq=0x12345678,
        flags="S",
        window=64240,
        options=[
            ("MSS", 1460),
            ("SAckOK", b""),
            ("Timestamp", (123456, 0)),
            ("NOP", None),
            ("WScale", 7),
        ],
    )
    data = TCP(
        sport=40000,
        dport=80,
        seq=0x12345679,
        ack=0xABCDEF01,
        flags="PA",
        window=502,
        options=[("NOP", None), ("NOP", None), ("Timestamp", (0x1E2A4, 0xC0FFEE))],
    )

    assert bytes(scapy_ip() / syn)[20:] == SYN_SEGMENT
    assert bytes(scapy_ip() / data / REQUEST)[20:] == DATA_SEGMENT


def test_tcp__decodes_golden_syn_and_its_options():
    header, options, payload = decode_tcp(SYN_SEGMENT, PSEUDO)

    assert header == SYN_DECODED
    assert (header.data_offset, header.header_len) == (10, 40)
    assert options == SYN_DECODED_OPTIONS
    assert len(payload) == 0


def test_tcp__decodes_golden_data_segment():
    header, options, payload = decode_tcp(DATA_SEGMENT, PSEUDO)

    assert (header.seq, header.ack, header.flags, header.window) == (
        0x12345679,
        0xABCDEF01,
        PSH | ACK,
        502,
    )
    assert header.options == DATA_OPTIONS
    assert options == DATA_DECODED_OPTIONS
    assert bytes(payload) == REQUEST


def test_tcp__scapy_frame_decodes_through_every_layer():
    frame = bytes(
        Ether(dst="52:55:0a:00:02:02", src="52:54:00:12:34:56")
        / scapy_ip()
        / TCP(sport=1025, dport=21, seq=7, ack=9, flags="FA", window=1, urgptr=3)
    )

    _, packet = decode_ethernet(frame)
    ip, segment = decode_ipv4(packet)
    header, options, payload = decode_tcp(
        segment, ipv4_pseudo_sum(ip.src, ip.dst, ip.protocol)
    )

    assert header == TcpHeader(
        1025, 21, 7, 9, 5, FIN | ACK, 1, Ether(frame)[TCP].chksum, 3
    )
    assert options is NO_TCP_OPTIONS
    assert len(payload) == 0


def test_tcp__decodes_scapy_segment_over_ipv6():
    segment = bytes(
        scapy_ip6() / TCP(sport=80, dport=40000, flags="SA", options=[("MSS", 1440)])
    )[40:]

    header, options, _ = decode_tcp(segment, PSEUDO6)

    assert (header.flags, options) == (SYN | ACK, TcpOptions(mss=1440))


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_tcp__decodes_any_buffer_type(convert):
    _, options, payload = decode_tcp(convert(DATA_SEGMENT), PSEUDO)

    assert options == DATA_DECODED_OPTIONS
    assert bytes(payload) == REQUEST


def test_tcp__payload_is_a_view_into_the_segment_not_a_copy():
    _, _, payload = decode_tcp(DATA_SEGMENT, PSEUDO)

    assert isinstance(payload, memoryview)
    assert payload.obj is DATA_SEGMENT


def with_checksum(segment: bytes | bytearray, pseudo_header_sum=PSEUDO) -> bytes:
    fixed = bytearray(segment)
    fixed[16:18] = b"\x00\x00"
    fixed[16:18] = internet_checksum(
        fixed, initial=pseudo_header_sum + len(fixed)
    ).to_bytes(2, "big")
    return bytes(fixed)


def segment_with_options(options: bytes, flags: int = ACK) -> bytes:
    header = bytearray.fromhex("9c40 0050 00000001 00000002 0000 0100 0000 0000")
    header[12:14] = ((20 + len(options)) << 10 | flags).to_bytes(2, "big")
    return with_checksum(header + options)


def test_tcp__keeps_the_reserved_bits_in_flags():
    segment = bytearray(DATA_SEGMENT)
    segment[12] |= 0x0F

    header, _, _ = decode_tcp(with_checksum(segment), PSEUDO)

    assert header.flags == 0xF00 | PSH | ACK
    assert header.data_offset == 8


def test_tcp__accepts_a_zero_checksum_that_verifies():
    # TCP has no "no checksum": 0 is a value like any other. The payload is
    # the checksum of the same segment with a zero payload, making it 0.
    zero_payload_checksum = encode_tcp(1, 2, 3, 4, ACK, 5, bytes(2), PSEUDO)[16:18]

    segment = encode_tcp(1, 2, 3, 4, ACK, 5, zero_payload_checksum, PSEUDO)

    assert segment[16:18] == b"\x00\x00"
    assert decode_tcp(segment, PSEUDO)[0].checksum == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", NO_TCP_OPTIONS),
        (b"\x01\x01\x01\x01", NO_TCP_OPTIONS),
        (b"\x00\x02\x04\x05\xb4", NO_TCP_OPTIONS),
        (b"\x02\x04\x05\xb4\x00\xff\xff\xff", TcpOptions(mss=1460)),
        (b"\x02\x04\x05\xb4\x02\x04\x02\x18", TcpOptions(mss=536)),
        (b"\x1e\x06abcd\x03\x03\x0e\x00", TcpOptions(window_scale=14)),
        (b"\xfe\x02\x01\x03\x03\xff", TcpOptions(window_scale=255)),
        (b"\x04\x02\x01\x01", TcpOptions(sack_permitted=True)),
        (
            bytes.fromhex("0101 0512 00000001 00000002 fffffff0 00000010"),
            TcpOptions(sack_blocks=((1, 2), (0xFFFFFFF0, 0x10))),
        ),
        (SYN_OPTIONS, SYN_DECODED_OPTIONS),
    ],
    ids=[
        "none",
        "nops",
        "eol_ends_the_list",
        "bytes_after_eol_ignored",
        "later_duplicate_counts",
        "unknown_kind_skipped",
        "unknown_two_byte_kind_skipped",
        "sack_permitted",
        "sack_blocks",
        "linux_syn",
    ],
)
def test_tcp_options__decode(raw, expected):
    assert decode_tcp_options(raw) == expected
    assert decode_tcp_options(memoryview(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"\x02",
        b"\x01\x01\x01\x08",
        b"\x02\x00\x05\xb4",
        b"\x02\x01\x05\xb4",
        b"\xfe\x00",
        b"\xfe\x01\x00\x00",
        b"\x08\x0a\x00\x00",
        b"\x01\xfe\x05\x00\x00",
        b"\x02\x03\x05\x00",
        b"\x02\x05\x05\xb4\x00",
        b"\x03\x04\x07\x00",
        b"\x04\x03\x00\x00",
        b"\x08\x08" + bytes(6),
        b"\x05\x02\x00\x00",
        b"\x05\x0b" + bytes(9),
    ],
    ids=[
        "no_length_byte",
        "no_length_byte_after_nops",
        "length_0",
        "length_1",
        "unknown_kind_length_0",
        "unknown_kind_length_1",
        "past_the_end",
        "unknown_kind_past_the_end",
        "mss_length_3",
        "mss_length_5",
        "window_scale_length_4",
        "sack_permitted_length_3",
        "timestamp_length_8",
        "sack_without_blocks",
        "sack_with_part_of_a_block",
    ],
)
def test_tcp_options__rejects_malformed_lists(raw):
    with pytest.raises(DecodeError) as info:
        decode_tcp_options(raw)

    assert (info.value.layer, info.value.reason) == ("tcp", "bad_options")


def test_tcp__rejects_malformed_options_after_the_checksum():
    segment = segment_with_options(b"\x02\x04\x05\xb4\x08\x0a\x00\x00")

    assert_rejected(segment, "bad_options")


def assert_rejected(data, reason: str, pseudo_header_sum=PSEUDO) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_tcp(data, pseudo_header_sum)
    assert (info.value.layer, info.value.reason) == ("tcp", reason)
    return info.value


def test_tcp__rejects_bad_checksum_naming_the_expected_one():
    segment = bytearray(DATA_SEGMENT)
    segment[16:18] = b"\xab\xcd"

    error = assert_rejected(segment, "bad_checksum")

    assert str(error) == "tcp: bad_checksum (checksum 0xabcd, expected 0xfa9a)"


def test_tcp__rejects_a_changed_payload_byte_by_checksum():
    segment = bytearray(DATA_SEGMENT)
    segment[-3] ^= 0x01

    assert_rejected(segment, "bad_checksum")


def test_tcp__rejects_a_segment_checked_against_another_pseudo_header():
    assert_rejected(DATA_SEGMENT, "bad_checksum", PSEUDO6)


@pytest.mark.parametrize("data_offset", range(5))
def test_tcp__rejects_data_offset_below_five(data_offset):
    segment = bytearray(DATA_SEGMENT)
    segment[12] = data_offset << 4

    assert_rejected(with_checksum(segment), "bad_data_offset")


def test_tcp__rejects_data_offset_beyond_the_segment():
    segment = bytearray(SYN_SEGMENT)
    segment[12] = 11 << 4

    assert_rejected(with_checksum(segment), "bad_data_offset")


@pytest.mark.parametrize("length", range(len(DATA_SEGMENT)))
def test_tcp__rejects_every_truncated_prefix(length):
    # Past the header the checksum catches it: TCP has no length of its own.
    if length < 20:
        expected = "truncated"
    elif length < 32:
        expected = "bad_data_offset"
    else:
        expected = "bad_checksum"

    assert_rejected(DATA_SEGMENT[:length], expected)


LINUX_TIMESTAMP = (0x01020304, 0x05060708)


@pytest.mark.parametrize(
    ("options", "raw"),
    [
        (NO_TCP_OPTIONS, ""),
        (TcpOptions(mss=1460), "020405b4"),
        (SYN_DECODED_OPTIONS, SYN_OPTIONS.hex()),
        (
            TcpOptions(mss=1460, sack_permitted=True, window_scale=7),
            "020405b4 01010402 01030307",
        ),
        (TcpOptions(timestamp=LINUX_TIMESTAMP), "0101080a 01020304 05060708"),
        (TcpOptions(window_scale=0), "01030300"),
        (
            TcpOptions(timestamp=LINUX_TIMESTAMP, sack_blocks=((1, 2),)),
            "0101080a 01020304 05060708 0101050a 00000001 00000002",
        ),
        (
            TcpOptions(sack_blocks=((1, 2), (3, 4), (5, 6), (7, 8))),
            "01010522" + "".join(f"{n:08x}" for n in range(1, 9)),
        ),
    ],
    ids=[
        "none",
        "mss",
        "linux_syn",
        "linux_syn_ack_without_timestamps",
        "timestamps",
        "window_scale",
        "timestamps_and_sack",
        "four_sack_blocks",
    ],
)
def test_tcp_options__encode_lays_out_like_linux(options, raw):
    encoded = encode_tcp_options(options)

    assert encoded == bytes.fromhex(raw)
    assert len(encoded) % 4 == 0
    assert decode_tcp_options(encoded) == options


def test_tcp_options__encode_and_decode_round_trip_random_options():
    rng = random.Random(7323)
    for _ in range(2000):
        options = TcpOptions(
            mss=rng.choice([None, rng.randrange(0x10000)]),
            window_scale=rng.choice([None, rng.randrange(15)]),
            sack_permitted=rng.random() < 0.5,
            sack_blocks=tuple(
                (rng.getrandbits(32), rng.getrandbits(32))
                for _ in range(rng.randrange(3))
            ),
            timestamp=rng.choice([None, (rng.getrandbits(32), rng.getrandbits(32))]),
        )
        try:
            encoded = encode_tcp_options(options)
        except ValueError:
            continue

        assert decode_tcp_options(encoded) == options


@pytest.mark.parametrize(
    "options",
    [
        TcpOptions(timestamp=LINUX_TIMESTAMP, sack_blocks=((1, 2),) * 4),
        TcpOptions(
            mss=1460,
            window_scale=7,
            timestamp=LINUX_TIMESTAMP,
            sack_blocks=((1, 2),) * 3,
        ),
        TcpOptions(sack_blocks=((1, 2),) * 5),
        TcpOptions(mss=0x10000),
        TcpOptions(mss=-1),
        TcpOptions(window_scale=256),
        TcpOptions(timestamp=(1 << 32, 0)),
        TcpOptions(sack_blocks=((0, -1),)),
    ],
)
def test_tcp_options__encode_rejects_what_does_not_fit_with_value_error(options):
    with pytest.raises(ValueError, match=r"^tcp: "):
        encode_tcp_options(options)


@pytest.mark.parametrize(
    ("options", "scapy_options"),
    [
        (NO_TCP_OPTIONS, []),
        (
            SYN_DECODED_OPTIONS,
            [
                ("MSS", 1460),
                ("SAckOK", b""),
                ("Timestamp", (123456, 0)),
                ("NOP", None),
                ("WScale", 7),
            ],
        ),
        (
            TcpOptions(timestamp=LINUX_TIMESTAMP, sack_blocks=((10, 20), (30, 40))),
            [
                ("NOP", None),
                ("NOP", None),
                ("Timestamp", LINUX_TIMESTAMP),
                ("NOP", None),
                ("NOP", None),
                ("SAck", (10, 20, 30, 40)),
            ],
        ),
    ],
    ids=["none", "linux_syn", "timestamps_and_sack"],
)
@pytest.mark.parametrize("payload", [b"", REQUEST, b"odd", bytes(range(256)) * 5])
def test_tcp__encode_matches_scapy_over_ipv4_and_ipv6(options, scapy_options, payload):
    args = (40000, 80, 0xFFFFFFFF, 0x80000000, PSH | ACK | ECE, 0xFFFF, payload)
    scapy_tcp = (
        TCP(
            sport=40000,
            dport=80,
            seq=0xFFFFFFFF,
            ack=0x80000000,
            flags="PAE",
            window=0xFFFF,
            options=scapy_options,
        )
        / payload
    )

    assert encode_tcp(*args, PSEUDO, options) == bytes(scapy_ip() / scapy_tcp)[20:]
    assert encode_tcp(*args, PSEUDO6, options) == bytes(scapy_ip6() / scapy_tcp)[40:]


def test_tcp__encode_packs_the_header_as_tcp_schema_builds_it():
    # encode_tcp packs with struct for speed; the schema is the reference.
    rng = random.Random(9294)
    for _ in range(500):
        fields = {
            "src_port": rng.getrandbits(16),
            "dst_port": rng.getrandbits(16),
            "seq": rng.getrandbits(32),
            "ack": rng.getrandbits(32),
            "window": rng.getrandbits(16),
            "urgent": rng.getrandbits(16),
        }
        flags = rng.getrandbits(12)
        options = TcpOptions(timestamp=(rng.getrandbits(32), rng.getrandbits(32)))

        segment = encode_tcp(
            fields["src_port"],
            fields["dst_port"],
            fields["seq"],
            fields["ack"],
            flags,
            fields["window"],
            b"",
            PSEUDO,
            options,
            fields["urgent"],
        )

        assert segment == TCP_COMPILED.build(
            fields
            | {
                "offset_flags": 8 << 12 | flags,
                "checksum": int.from_bytes(segment[16:18], "big"),
                "options": encode_tcp_options(options),
            }
        )


def test_tcp__encode_sets_urgent_pointer_and_reserved_bits():
    segment = encode_tcp(1, 2, 3, 4, 0x0F00 | URG | ACK, 5, b"!", PSEUDO, urgent=1)

    header, _, payload = decode_tcp(segment, PSEUDO)

    assert (header.flags, header.urgent, header.data_offset) == (0xF30, 1, 5)
    assert bytes(payload) == b"!"


@pytest.mark.parametrize(
    ("segment", "options"),
    [(SYN_SEGMENT, SYN_DECODED_OPTIONS), (DATA_SEGMENT, DATA_DECODED_OPTIONS)],
)
def test_tcp__round_trips_exact_bytes(segment, options):
    header, decoded_options, payload = decode_tcp(segment, PSEUDO)

    assert decoded_options == options
    assert (
        encode_tcp(
            header.src_port,
            header.dst_port,
            header.seq,
            header.ack,
            header.flags,
            header.window,
            payload,
            PSEUDO,
            decoded_options,
            header.urgent,
        )
        == segment
    )


@pytest.mark.parametrize("payload", [bytearray(REQUEST), memoryview(REQUEST)])
def test_tcp__encode_accepts_buffer_payloads(payload):
    segment = encode_tcp(
        40000,
        80,
        0x12345679,
        0xABCDEF01,
        PSH | ACK,
        502,
        payload,
        PSEUDO,
        DATA_DECODED_OPTIONS,
    )

    assert segment == DATA_SEGMENT


@pytest.mark.parametrize(
    "fields",
    [
        {"src_port": 0x10000},
        {"dst_port": -1},
        {"seq": 1 << 32},
        {"ack": -1},
        {"flags": 0x1000},
        {"flags": -1},
        {"window": 0x10000},
        {"urgent": 0x10000},
        {"options": TcpOptions(mss=1 << 16)},
    ],
)
def test_tcp__encode_rejects_bad_fields_with_value_error(fields):
    arguments = {
        "src_port": 1,
        "dst_port": 2,
        "seq": 3,
        "ack": 4,
        "flags": ACK,
        "window": 5,
        "payload": b"",
        "pseudo_header_sum": PSEUDO,
    } | fields

    with pytest.raises(ValueError, match=r"^tcp: "):
        encode_tcp(**arguments)


def test_tcp__random_garbage_decodes_or_raises_decode_error():
    for data in garbage(9293, 3000, 80):
        decodes_or_raises_decode_error(lambda d: decode_tcp(d, PSEUDO), data)


def test_tcp__random_segments_with_valid_checksums_decode_or_raise_decode_error():
    # Garbage rarely passes the checksum; these always do, so the data offset
    # and the options take arbitrary values past it.
    rng = random.Random(92930)
    outcomes = set()
    for _ in range(3000):
        segment = bytearray(rng.randbytes(rng.randrange(20, 80)))
        segment[12] = rng.randrange(16) << 4 | segment[12] & 0x0F
        if rng.random() < 0.5:
            # Options of small kinds, with lengths near the right ones.
            options = bytes(
                rng.choice([0, 1, 2, 3, 4, 5, 8, 0xFE, rng.randrange(12)])
                for _ in range(rng.randrange(41))
            )
            segment = segment[:20] + options
            segment[12] = (5 + len(options) // 4) << 4
        outcomes.add(
            decodes_or_raises_decode_error(
                lambda d: decode_tcp(d, PSEUDO), with_checksum(segment)
            )
        )

    assert outcomes == {True, False}


def test_tcp__mutated_segments_decode_or_raise_decode_error():
    for segment in (SYN_SEGMENT, DATA_SEGMENT):
        outcomes = {
            decodes_or_raises_decode_error(lambda d: decode_tcp(d, PSEUDO), data)
            for data in mutations(92931, 3000, segment)
        }

        assert False in outcomes


def test_tcp_options__random_option_bytes_decode_or_raise_decode_error():
    rng = random.Random(7324)
    outcomes = set()
    for _ in range(3000):
        raw = bytes(
            rng.choice([0, 1, 2, 3, 4, 5, 8, rng.randrange(256), rng.randrange(12)])
            for _ in range(rng.randrange(41))
        )
        outcomes.add(decodes_or_raises_decode_error(decode_tcp_options, raw))

    assert outcomes == {True, False}

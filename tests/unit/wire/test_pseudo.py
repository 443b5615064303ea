import random

import pytest
from scapy.layers.inet import IP, in4_chksum
from scapy.layers.inet6 import IPv6, in6_chksum

from nicemu.wire.checksum import internet_checksum
from nicemu.wire.pseudo import ipv4_pseudo_sum, ipv6_pseudo_sum, pseudo_checksum_ok
from tests.unit.wire.test_checksum import reference_checksum

GUEST_IP = bytes([10, 0, 2, 15])
GATEWAY_IP = bytes([10, 0, 2, 2])
GUEST_IP6 = bytes.fromhex("fe80000000000000505400fffe123456")
GATEWAY_IP6 = bytes.fromhex("fe800000000000000000000000000002")


def test_ipv4_pseudo_sum__checksums_like_the_pseudo_header_bytes():
    rng = random.Random(768)
    for _ in range(300):
        src, dst = rng.randbytes(4), rng.randbytes(4)
        protocol = rng.randrange(256)
        data = rng.randbytes(rng.randrange(0, 100))
        pseudo_header = src + dst + bytes((0, protocol)) + len(data).to_bytes(2, "big")

        assert internet_checksum(
            data, initial=ipv4_pseudo_sum(src, dst, protocol, len(data))
        ) == reference_checksum(pseudo_header + data)


def test_ipv6_pseudo_sum__checksums_like_the_pseudo_header_bytes():
    rng = random.Random(8200)
    for _ in range(300):
        src, dst = rng.randbytes(16), rng.randbytes(16)
        next_header = rng.randrange(256)
        data = rng.randbytes(rng.randrange(0, 100))
        pseudo_header = (
            src + dst + len(data).to_bytes(4, "big") + bytes((0, 0, 0, next_header))
        )

        assert internet_checksum(
            data, initial=ipv6_pseudo_sum(src, dst, next_header, len(data))
        ) == reference_checksum(pseudo_header + data)


def test_pseudo_sums__agree_with_scapy():
    data = b"some transport bytes, odd length"

    assert internet_checksum(
        data, initial=ipv4_pseudo_sum(GUEST_IP, GATEWAY_IP, 17, len(data))
    ) == in4_chksum(17, IP(src="10.0.2.15", dst="10.0.2.2"), data)
    assert internet_checksum(
        data, initial=ipv6_pseudo_sum(GUEST_IP6, GATEWAY_IP6, 58, len(data))
    ) == in6_chksum(58, IPv6(src="fe80::5054:ff:fe12:3456", dst="fe80::2"), data)


def test_pseudo_sums__without_length_add_up_to_the_sum_with_it():
    # The transport codecs take the sum without the length and add it.
    assert ipv4_pseudo_sum(GUEST_IP, GATEWAY_IP, 6) + 1500 == ipv4_pseudo_sum(
        GUEST_IP, GATEWAY_IP, 6, 1500
    )
    assert ipv6_pseudo_sum(GUEST_IP6, GATEWAY_IP6, 6) + 70000 == ipv6_pseudo_sum(
        GUEST_IP6, GATEWAY_IP6, 6, 70000
    )


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_pseudo_sums__accept_any_buffer_type(convert):
    assert ipv4_pseudo_sum(
        convert(GUEST_IP), convert(GATEWAY_IP), 6
    ) == ipv4_pseudo_sum(GUEST_IP, GATEWAY_IP, 6)
    assert ipv6_pseudo_sum(
        convert(GUEST_IP6), convert(GATEWAY_IP6), 6
    ) == ipv6_pseudo_sum(GUEST_IP6, GATEWAY_IP6, 6)


@pytest.mark.parametrize(
    ("src", "dst", "protocol", "length"),
    [
        (GUEST_IP[:3], GATEWAY_IP, 6, 0),
        (GUEST_IP, GATEWAY_IP6, 6, 0),
        (GUEST_IP, GATEWAY_IP, 256, 0),
        (GUEST_IP, GATEWAY_IP, -1, 0),
        (GUEST_IP, GATEWAY_IP, 6, 0x10000),
        (GUEST_IP, GATEWAY_IP, 6, -1),
    ],
)
def test_ipv4_pseudo_sum__rejects_bad_fields_with_value_error(
    src, dst, protocol, length
):
    with pytest.raises(ValueError, match=r"^ipv4: "):
        ipv4_pseudo_sum(src, dst, protocol, length)


@pytest.mark.parametrize(
    ("src", "dst", "next_header", "length"),
    [
        (GUEST_IP6[:15], GATEWAY_IP6, 6, 0),
        (GUEST_IP6, GATEWAY_IP, 6, 0),
        (GUEST_IP6, GATEWAY_IP6, 256, 0),
        (GUEST_IP6, GATEWAY_IP6, 6, 1 << 32),
        (GUEST_IP6, GATEWAY_IP6, 6, -1),
    ],
)
def test_ipv6_pseudo_sum__rejects_bad_fields_with_value_error(
    src, dst, next_header, length
):
    with pytest.raises(ValueError, match=r"^ipv6: "):
        ipv6_pseudo_sum(src, dst, next_header, length)


def test_pseudo_checksum_ok__accepts_data_carrying_its_checksum():
    rng = random.Random(81)
    for _ in range(200):
        data = bytearray(rng.randbytes(rng.randrange(8, 80)))
        data[6:8] = b"\x00\x00"
        pseudo_sum = ipv4_pseudo_sum(GUEST_IP, GATEWAY_IP, 17, len(data))
        data[6:8] = internet_checksum(data, initial=pseudo_sum).to_bytes(2, "big")

        assert pseudo_checksum_ok(data, pseudo_sum)
        assert pseudo_checksum_ok(memoryview(data), pseudo_sum)


def test_pseudo_checksum_ok__rejects_a_changed_byte_or_another_pseudo_header():
    data = bytearray(b"\x12\x34\x56\x78\x00\x0a\x00\x00\x9a\xbc")
    pseudo_sum = ipv4_pseudo_sum(GUEST_IP, GATEWAY_IP, 17, len(data))
    data[6:8] = internet_checksum(data, initial=pseudo_sum).to_bytes(2, "big")
    assert pseudo_checksum_ok(data, pseudo_sum)

    assert not pseudo_checksum_ok(
        data, ipv4_pseudo_sum(GUEST_IP, GUEST_IP, 17, len(data))
    )
    data[9] ^= 0x01
    assert not pseudo_checksum_ok(data, pseudo_sum)


def test_pseudo_checksum_ok__accepts_either_zero_when_the_rest_sums_to_ffff():
    assert pseudo_checksum_ok(b"\x00\x00", 0xFFFF)
    assert pseudo_checksum_ok(b"\xff\xff", 0xFFFF)
    assert not pseudo_checksum_ok(b"", 0)

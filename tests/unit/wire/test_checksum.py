import random

import pytest
from scapy.utils import checksum as scapy_checksum

from nicemu.wire.checksum import checksum_ok, internet_checksum


def reference_checksum(data: bytes) -> int:
    """RFC 1071, word by word with end-around carry: the slow, obvious way."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_checksum__rfc1071_example():
    # RFC 1071 section 3: these bytes sum to 0xddf2.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF


def test_checksum__known_ipv4_header():
    header = bytes.fromhex("45000073 00004000 40110000 c0a80001 c0a800c7")

    assert internet_checksum(header) == 0xB861


def test_checksum__odd_length_pads_with_a_zero_byte():
    assert internet_checksum(b"\x01") == 0xFEFF
    assert internet_checksum(b"\x12\x34\x56") == internet_checksum(b"\x12\x34\x56\x00")


def test_checksum__all_zero_and_empty_data_give_ffff():
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(bytes(20)) == 0xFFFF


def test_checksum__data_summing_to_ffff_gives_zero():
    assert internet_checksum(b"\xff\xff") == 0
    assert internet_checksum(b"\x12\x34\xed\xcb") == 0


@pytest.mark.parametrize("length", range(0, 70))
def test_checksum__matches_reference_for_every_small_length(length):
    rng = random.Random(length)
    for _ in range(20):
        data = rng.randbytes(length)
        assert internet_checksum(data) == reference_checksum(data)


def test_checksum__matches_scapy_on_random_data():
    rng = random.Random(1071)
    for _ in range(500):
        data = rng.randbytes(rng.randrange(1, 1600))
        assert internet_checksum(data) == scapy_checksum(data)


def test_checksum__accepts_bytearray_and_memoryview():
    data = bytes.fromhex("0001f203f4f5f6f7aa")
    expected = internet_checksum(data)

    assert internet_checksum(bytearray(data)) == expected
    assert internet_checksum(memoryview(b"xx" + data)[2:]) == expected


def test_checksum__initial_carries_the_sum_of_an_even_prefix():
    rng = random.Random(5)
    for _ in range(200):
        prefix = rng.randbytes(2 * rng.randrange(0, 20))
        data = rng.randbytes(rng.randrange(0, 50))
        words = sum(
            int.from_bytes(prefix[i : i + 2], "big") for i in range(0, len(prefix), 2)
        )

        assert internet_checksum(data, initial=int.from_bytes(prefix, "big")) == (
            reference_checksum(prefix + data)
        )
        assert internet_checksum(data, initial=words) == reference_checksum(
            prefix + data
        )


def test_checksum_ok__accepts_data_carrying_its_checksum():
    rng = random.Random(7)
    for _ in range(200):
        data = bytearray(rng.randbytes(2 * rng.randrange(2, 40) + rng.randrange(2)))
        data[0:2] = b"\x00\x00"
        data[0:2] = internet_checksum(data).to_bytes(2, "big")

        assert checksum_ok(data)
        assert checksum_ok(memoryview(data))


def test_checksum_ok__rejects_a_changed_byte():
    header = bytearray.fromhex("45000073 00004000 4011b861 c0a80001 c0a800c7")
    assert checksum_ok(header)

    header[8] ^= 0x01

    assert not checksum_ok(header)


def test_checksum_ok__rejects_all_zero_data():
    # It sums to +0, not to 0xffff: its checksum would have been 0xffff.
    assert not checksum_ok(bytes(20))
    assert not checksum_ok(b"")


def test_checksum_ok__accepts_either_zero_when_the_rest_sums_to_ffff():
    assert checksum_ok(b"\xff\xff\x00\x00")
    assert checksum_ok(b"\xff\xff\xff\xff")

import pytest
from scapy.layers.inet import IP, defragment

from nicemu.protocols.ipv4.fragmentation import fragment
from nicemu.wire.ipv4 import IPv4Header, encode_ipv4

HEADER = IPv4Header(tos=0, total_length=0, identification=42, flags=0, fragment_offset=0, ttl=64, protocol=17,
                    checksum=0, src=bytes([10, 0, 2, 2]), dst=bytes([10, 0, 2, 15]))


def test_fragment__a_datagram_that_fits_is_sent_whole():
    assert fragment(HEADER, b"x" * 1480, 1500) == [encode_ipv4(HEADER, b"x" * 1480)]


@pytest.mark.parametrize("size, mtu", [(1481, 1500), (4000, 1500), (65000, 1500), (3000, 576)])
def test_fragment__pieces_fit_the_mtu_on_8_byte_boundaries_and_reassemble_to_the_original(size, mtu):
    payload = bytes(i % 251 for i in range(size))
    packets = fragment(HEADER, payload, mtu)
    parsed = [IP(p) for p in packets]
    assert all(len(p) <= mtu for p in packets)
    assert all(len(p[IP].payload) % 8 == 0 for p in parsed[:-1])
    assert [p.flags.MF for p in parsed] == [1] * (len(parsed) - 1) + [0]
    assert {p.id for p in parsed} == {42}
    (whole,) = defragment(parsed)
    assert bytes(IP(bytes(whole)).payload) == payload


def test_fragment__refuses_a_datagram_with_dont_fragment_set():
    from dataclasses import replace

    with pytest.raises(ValueError, match="DF"):
        fragment(replace(HEADER, flags=0x2), bytes(2000), 1500)

import pytest

from nicemu.protocols.ipv4.reassembly import Reassembler

KEY = (bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2]), 17, 1)
HEADER = bytes(20)


def other(n):
    return (bytes([10, 0, 2, n]), KEY[1], KEY[2], KEY[3])


def test_reassembly__in_order_fragments_give_the_whole_payload():
    r = Reassembler()
    assert r.add(KEY, 0, True, b"a" * 8, HEADER, 0.0) is None
    assert r.add(KEY, 8, False, b"b" * 3, HEADER, 0.0) == b"a" * 8 + b"bbb"
    assert len(r) == 0 and r.held == 0


def test_reassembly__the_last_fragment_first_still_completes():
    r = Reassembler()
    assert r.add(KEY, 16, False, b"c", HEADER, 0.0) is None
    assert r.add(KEY, 8, True, b"b" * 8, HEADER, 0.0) is None
    assert r.add(KEY, 0, True, b"a" * 8, HEADER, 0.0) == b"a" * 8 + b"b" * 8 + b"c"


def test_reassembly__an_exact_duplicate_is_ignored():
    r = Reassembler()
    r.add(KEY, 0, True, b"a" * 8, HEADER, 0.0)
    assert r.add(KEY, 0, True, b"a" * 8, HEADER, 0.0) is None
    assert r.counters["duplicate_fragments"] == 1
    assert r.add(KEY, 8, False, b"z", HEADER, 0.0) == b"a" * 8 + b"z"


@pytest.mark.parametrize("second, reason", [
    ((4, False, b"x" * 8), "drop.overlap"),
    ((0, True, b"y" * 8), "drop.overlap"),
])
def test_reassembly__overlap_drops_the_datagram(second, reason):
    r = Reassembler()
    r.add(KEY, 0, True, b"a" * 8, HEADER, 0.0)
    assert r.add(KEY, *second, HEADER, 0.0) is None
    assert r.counters[reason] == 1 and len(r) == 0 and r.held == 0


def test_reassembly__two_different_ends_drop_the_datagram():
    r = Reassembler()
    r.add(KEY, 16, False, b"x", HEADER, 0.0)
    assert r.add(KEY, 24, False, b"y", HEADER, 0.0) is None
    assert r.counters["drop.conflicting_end"] == 1


def test_reassembly__a_non_final_fragment_off_an_8_byte_boundary_is_dropped():
    r = Reassembler()
    assert r.add(KEY, 0, True, b"a" * 7, HEADER, 0.0) is None
    assert r.counters["drop.bad_fragment_length"] == 1 and len(r) == 0


def test_reassembly__a_fragment_past_the_largest_datagram_is_dropped():
    r = Reassembler()
    assert r.add(KEY, 65528, False, b"a" * 8, HEADER, 0.0) is None
    assert r.counters["drop.too_long"] == 1


def test_reassembly__at_most_max_datagrams_in_progress_the_oldest_making_room():
    r = Reassembler(max_datagrams=3)
    for n in range(5):
        r.add(other(n), 0, True, b"a" * 8, HEADER, float(n))
    assert len(r) == 3 and r.counters["drop.evicted"] == 2
    assert r.add(other(0), 8, False, b"z", HEADER, 5.0) is None  # its first fragment was evicted


def test_reassembly__memory_cap_bounds_the_bytes_held():
    r = Reassembler(memory_cap=64)
    for n in range(10):
        r.add(other(n), 0, True, b"a" * 32, HEADER, float(n))
    assert r.held <= 64


def test_reassembly__expiry_drops_old_datagrams_and_reports_those_with_a_first_fragment():
    r = Reassembler(timeout=30.0)
    r.add(KEY, 0, True, b"first-fr", b"H" * 20, 0.0)
    r.add(other(9), 8, True, b"x" * 8, HEADER, 10.0)
    assert r.next_deadline() == 30.0
    (expired,) = r.expire(30.0)
    assert (expired.src, expired.first_header, expired.first_payload) == (KEY[0], b"H" * 20, b"first-fr")
    assert len(r) == 1 and r.expire(40.0) == [] and len(r) == 0
    assert r.counters["drop.timeout"] == 2

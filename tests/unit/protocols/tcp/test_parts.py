"""The engine's small parts: sequence arithmetic, segments, ISNs, the RTO estimator and the buffers."""

import pytest

from nicemu.protocols.tcp import ACK, FIN, RST, SYN, Segment, TcpOptions, reset_for
from nicemu.protocols.tcp.buffers import ReceiveBuffer, SendBuffer
from nicemu.protocols.tcp.isn import IsnGenerator
from nicemu.protocols.tcp.rto import RtoEstimator
from nicemu.protocols.tcp.sequence import serial_lt, unwrap, wrap


@pytest.mark.parametrize("value, reference, expected", [
    (5, 0xFFFF_FFF0, 0x1_0000_0005),  # just past a wrap
    (0xFFFF_FFF0, 0x1_0000_0005, 0xFFFF_FFF0),  # just before it
    (100, 90, 100),
    (80, 90, 80),
])
def test_sequence__unwrap_picks_the_number_nearest_the_reference(value, reference, expected):
    assert unwrap(value, reference) == expected
    assert wrap(expected) == value


def test_sequence__serial_comparison_survives_the_wrap():
    assert serial_lt(0xFFFF_FFFF, 1)
    assert not serial_lt(1, 0xFFFF_FFFF)
    assert not serial_lt(7, 7)


def test_segment__length_counts_syn_and_fin():
    assert Segment(1, 2, 0, 0, SYN, 0).seg_len == 1
    assert Segment(1, 2, 0, 0, FIN | ACK, 0, payload=b"abc").seg_len == 4
    assert Segment(1, 2, 0, 0, ACK, 0, payload=b"abc").seg_len == 3


def test_segment__options_length_matches_linux_layout():
    assert TcpOptions(mss=1460, window_scale=7, sack_permitted=True, timestamp=(1, 0)).length() == 20
    assert TcpOptions(timestamp=(1, 2), sack_blocks=((1, 2), (3, 4), (5, 6))).length() == 40
    assert TcpOptions().length() == 0


def test_reset_for__answers_an_ack_with_its_ack_as_sequence_number():
    reset = reset_for(Segment(1234, 80, 500, 0xDEAD_BEEF, ACK, 100, payload=b"x"))
    assert reset == Segment(80, 1234, 0xDEAD_BEEF, 0, RST, 0)


def test_reset_for__answers_a_syn_with_rst_ack_covering_it():
    reset = reset_for(Segment(1234, 80, 0xFFFF_FFFF, 0, SYN, 100))
    assert reset == Segment(80, 1234, 0, 0, RST | ACK, 0)


def test_reset_for__never_answers_a_rst():
    assert reset_for(Segment(1234, 80, 5, 0, RST, 0)) is None
    assert reset_for(Segment(1234, 80, 5, 6, RST | ACK, 0)) is None


def test_isn__same_key_tuple_and_time_give_the_same_isn():
    a, b = IsnGenerator(b"secret"), IsnGenerator(b"secret")
    args = (b"\x0a\x00\x02\x02", 80, b"\x0a\x00\x02\x0f", 40000, 12.5)
    assert a.isn(*args) == b.isn(*args)
    assert IsnGenerator(b"other").isn(*args) != a.isn(*args)
    assert a.isn(b"\x0a\x00\x02\x02", 80, b"\x0a\x00\x02\x0f", 40001, 12.5) != a.isn(*args)


def test_isn__advances_with_a_4_microsecond_clock():
    isn = IsnGenerator(b"secret")
    tuple_ = (b"\x01\x02\x03\x04", 80, b"\x05\x06\x07\x08", 40000)
    assert (isn.isn(*tuple_, 1.0) - isn.isn(*tuple_, 0.0)) & 0xFFFF_FFFF == 250_000


def test_isn__rejects_a_key_blake2s_cannot_take():
    with pytest.raises(ValueError):
        IsnGenerator(b"")
    with pytest.raises(ValueError):
        IsnGenerator(b"x" * 33)


def test_rto__first_sample_sets_srtt_and_rttvar_per_rfc6298():
    rto = RtoEstimator(initial=1.0, minimum=0.0, maximum=60.0, granularity=0.001)
    assert rto.rto == 1.0
    rto.sample(0.1)
    assert rto.srtt == 0.1 and rto.rttvar == 0.05 and rto.rto == pytest.approx(0.3)
    rto.sample(0.1)
    assert rto.rttvar == pytest.approx(0.0375) and rto.srtt == pytest.approx(0.1)
    assert rto.rto == pytest.approx(0.1 + 4 * 0.0375)


def test_rto__is_clamped_and_backs_off_to_the_maximum():
    rto = RtoEstimator(initial=1.0, minimum=0.2, maximum=3.0, granularity=0.001)
    rto.sample(0.001)
    assert rto.rto == 0.2
    for expected in (0.4, 0.8, 1.6, 3.0, 3.0):
        rto.back_off()
        assert rto.rto == pytest.approx(expected)
    rto.sample(0.001)
    assert rto.rto == 0.2


def test_send_buffer__takes_only_what_fits_and_frees_on_acknowledgment():
    buffer = SendBuffer(10, seq=100)
    assert buffer.append(b"0123456789abc") == 10
    assert buffer.space == 0 and buffer.end == 110
    assert buffer.peek(103, 4) == b"3456"
    assert buffer.acknowledge(104) == 4
    assert buffer.space == 4 and buffer.peek(104, 100) == b"456789"
    assert buffer.acknowledge(200) == 6  # an ACK past the data (the FIN) drops only what is held
    assert len(buffer) == 0 and buffer.seq == 110


def test_send_buffer__stays_correct_across_compaction():
    buffer = SendBuffer(1 << 20, seq=0)
    data = bytes(range(256)) * 1024
    buffer.append(data)
    for seq in range(0, len(data), 1000):
        buffer.acknowledge(seq)
        assert buffer.peek(seq, 10) == data[seq:seq + 10]


def test_receive_buffer__reassembles_out_of_order_and_overlapping_pieces():
    buffer = ReceiveBuffer(100, nxt=1000)
    assert buffer.add(1010, b"KLMNO") == 0
    assert buffer.add(1020, b"UVWXY") == 0
    assert buffer.add(1012, b"MNOPQRST") == 0  # overlaps one block, touches the next
    assert buffer.sack_blocks(4) == [(1010, 1025)]
    assert buffer.add(995, b"?????ABCDEFGHIJ") == 25  # starts with five bytes already taken
    assert buffer.read(100) == b"ABCDEFGHIJKLMNOPQRSTUVWXY"
    assert not buffer.has_gaps


def test_receive_buffer__reports_the_most_recently_grown_block_first():
    buffer = ReceiveBuffer(100, nxt=0)
    buffer.add(10, b"a")
    buffer.add(30, b"b")
    buffer.add(20, b"c")
    assert buffer.sack_blocks(2) == [(20, 21), (30, 31)]
    buffer.add(11, b"d")
    assert buffer.sack_blocks(3) == [(10, 12), (20, 21), (30, 31)]


def test_receive_buffer__space_is_what_reading_has_not_freed():
    buffer = ReceiveBuffer(10, nxt=0)
    buffer.add(0, b"0123456")
    assert buffer.space == 3 and buffer.readable == 7
    assert buffer.read(5) == b"01234"
    assert buffer.space == 8


def test_receive_buffer__truncate_forgets_bytes_past_the_fin():
    buffer = ReceiveBuffer(100, nxt=0)
    buffer.add(10, b"0123456789")
    buffer.truncate(15)
    assert buffer.sack_blocks(1) == [(10, 15)]
    buffer.add(0, b"x" * 10)
    assert buffer.read(100) == b"x" * 10 + b"01234"

import struct

import pytest

from nicemu.qemu.framing import MIN_FRAME, QEMU_MAX_FRAME, FramingError, StreamDeframer, frame_stream

FRAME_A = bytes(range(60))
FRAME_B = b"\xff" * 6 + b"\x52\x55\x0a\x00\x02\x02" + b"\x08\x06" + bytes(28)


def prefixed(frame: bytes) -> bytes:
    return struct.pack(">I", len(frame)) + frame


def test_frame_stream__prefixes_each_frame_with_big_endian_length():
    assert frame_stream([FRAME_A, FRAME_B]) == b"\x00\x00\x00\x3c" + FRAME_A + b"\x00\x00\x00\x2a" + FRAME_B


def test_deframer__returns_whole_frames_from_one_read():
    assert StreamDeframer().feed(prefixed(FRAME_A)) == [FRAME_A]


def test_deframer__splits_coalesced_frames_in_order():
    assert StreamDeframer().feed(prefixed(FRAME_A) + prefixed(FRAME_B) + prefixed(FRAME_A)) == [FRAME_A, FRAME_B,
                                                                                              FRAME_A]


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5, 30, 63])
def test_deframer__joins_a_frame_split_anywhere_including_inside_the_prefix(cut):
    data = prefixed(FRAME_A)
    deframer = StreamDeframer()
    assert deframer.feed(data[:cut]) == []
    assert deframer.buffered == cut
    assert deframer.feed(data[cut:]) == [FRAME_A]
    assert deframer.buffered == 0


def test_deframer__byte_by_byte_delivery_gives_the_same_frames():
    data = prefixed(FRAME_A) + prefixed(FRAME_B)
    deframer = StreamDeframer()
    frames = [frame for i in range(len(data)) for frame in deframer.feed(data[i:i + 1])]
    assert frames == [FRAME_A, FRAME_B]


def test_deframer__keeps_the_tail_of_a_read_that_ends_mid_frame():
    data = prefixed(FRAME_A) + prefixed(FRAME_B)
    deframer = StreamDeframer()
    assert deframer.feed(data[:70]) == [FRAME_A]
    assert deframer.buffered == 70 - 64
    assert deframer.feed(data[70:]) == [FRAME_B]


def test_deframer__accepts_qemus_largest_frame():
    frame = bytes(QEMU_MAX_FRAME)
    assert StreamDeframer().feed(prefixed(frame)) == [frame]


def test_deframer__rejects_a_length_above_qemus_limit():
    with pytest.raises(FramingError) as caught:
        StreamDeframer().feed(struct.pack(">I", QEMU_MAX_FRAME + 1))
    assert caught.value.reason == "oversize_frame"
    assert caught.value.length == QEMU_MAX_FRAME + 1


@pytest.mark.parametrize("length", [0, 1, MIN_FRAME - 1])
def test_deframer__rejects_a_length_shorter_than_an_ethernet_header(length):
    with pytest.raises(FramingError) as caught:
        StreamDeframer().feed(struct.pack(">I", length) + bytes(length))
    assert caught.value.reason == "runt_frame"


def test_deframer__rejects_a_bad_length_after_good_frames_in_the_same_read():
    with pytest.raises(FramingError):
        StreamDeframer().feed(prefixed(FRAME_A) + b"\xff\xff\xff\xff")

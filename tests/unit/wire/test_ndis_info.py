import struct

import pytest

from nicemu.wire.errors import DecodeError
from nicemu.wire.ndis_info import (
    ALL_STATISTICS_SUPPORTED,
    LINK_STATE_COMPILED,
    LINK_STATE_SCHEMA,
    STATISTICS_COMPILED,
    STATISTICS_FIELDS,
    STATISTICS_SCHEMA,
    LinkState,
    decode_link_state,
    decode_statistics,
    encode_link_state,
    encode_statistics,
)
from tests.unit.wire.common import common

# NDIS_LINK_STATE as ntddndis.h lays it out: header, then ULONG, ULONG, ULONG64, ULONG64, ULONG, ULONG.
LINK_STATE_BYTES = struct.pack("<BBHIIQQII", 0x80, 1, 36, 1, 2, 10**10, 10**9, 0, 0)


def test_link_state__round_trips_compiled_and_interpreted():
    obj = {"header_type": 0x80, "header_revision": 1, "header_size": 36, "media_connect_state": 1,
           "media_duplex_state": 2, "xmit_link_speed": 10**10, "rcv_link_speed": 10**9, "pause_functions": 0,
           "auto_negotiation_flags": 0}
    common(LINK_STATE_SCHEMA, LINK_STATE_COMPILED, LINK_STATE_BYTES, obj, 36)


def test_link_state__encode_and_decode_are_inverse():
    state = LinkState(1, 2, 10**10, 10**9)
    assert encode_link_state(state) == LINK_STATE_BYTES
    assert decode_link_state(LINK_STATE_BYTES) == state


def test_statistics__is_152_bytes_with_every_counter_valid():
    counters = {name: index for index, name in enumerate(STATISTICS_FIELDS)}
    data = encode_statistics(counters)
    assert data == struct.pack("<BBHI18Q", 0x80, 1, 152, ALL_STATISTICS_SUPPORTED, *range(18))
    assert decode_statistics(data) == counters
    obj = {"header_type": 0x80, "header_revision": 1, "header_size": 152,
           "supported_statistics": ALL_STATISTICS_SUPPORTED, **counters}
    common(STATISTICS_SCHEMA, STATISTICS_COMPILED, data, obj, 152)


@pytest.mark.parametrize("data", [LINK_STATE_BYTES[:20], b"\x81" + LINK_STATE_BYTES[1:]])
def test_link_state__short_or_wrong_header_is_a_decode_error(data):
    with pytest.raises(DecodeError):
        decode_link_state(data)


def test_statistics__short_buffer_is_a_decode_error():
    with pytest.raises(DecodeError):
        decode_statistics(b"\x80\x01\x98\x00")

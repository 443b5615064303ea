"""The NDIS structures some OIDs carry in their information buffer, as compiled construct schemas.

Not frames, but bytes with a layout all the same, exchanged between the
miniport and whoever asks (a protocol, the control socket).
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import Const, ConstructError, Int8ul, Int16ul, Int32ul, Int64ul, Struct

from nicemu.wire.errors import DecodeError

NDIS_OBJECT_TYPE_DEFAULT = 0x80

LINK_STATE_SCHEMA = Struct(
    "header_type" / Const(NDIS_OBJECT_TYPE_DEFAULT, Int8ul),
    "header_revision" / Const(1, Int8ul),
    "header_size" / Const(36, Int16ul),
    "media_connect_state" / Int32ul,
    "media_duplex_state" / Int32ul,
    "xmit_link_speed" / Int64ul,
    "rcv_link_speed" / Int64ul,
    "pause_functions" / Int32ul,
    "auto_negotiation_flags" / Int32ul,
)
LINK_STATE_COMPILED = LINK_STATE_SCHEMA.compile()

STATISTICS_FIELDS = (
    "if_in_discards", "if_in_errors", "if_hc_in_octets", "if_hc_in_ucast_pkts", "if_hc_in_multicast_pkts",
    "if_hc_in_broadcast_pkts", "if_hc_out_octets", "if_hc_out_ucast_pkts", "if_hc_out_multicast_pkts",
    "if_hc_out_broadcast_pkts", "if_out_errors", "if_out_discards", "if_hc_in_ucast_octets",
    "if_hc_in_multicast_octets", "if_hc_in_broadcast_octets", "if_hc_out_ucast_octets",
    "if_hc_out_multicast_octets", "if_hc_out_broadcast_octets",
)
"""NDIS_STATISTICS_INFO's counters, in order."""

STATISTICS_SCHEMA = Struct(
    "header_type" / Const(NDIS_OBJECT_TYPE_DEFAULT, Int8ul),
    "header_revision" / Const(1, Int8ul),
    "header_size" / Const(152, Int16ul),
    "supported_statistics" / Int32ul,
    *(name / Int64ul for name in STATISTICS_FIELDS),
)
STATISTICS_COMPILED = STATISTICS_SCHEMA.compile()

ALL_STATISTICS_SUPPORTED = (1 << len(STATISTICS_FIELDS)) - 1
"""A valid-bit for every counter: the adapter keeps them all."""


@dataclass(frozen=True, slots=True)
class LinkState:
    """Models NDIS_LINK_STATE, revision 1 (OID_GEN_LINK_STATE)."""

    media_connect_state: int
    media_duplex_state: int
    xmit_link_speed: int
    rcv_link_speed: int
    pause_functions: int = 0
    auto_negotiation_flags: int = 0


def encode_link_state(state: LinkState) -> bytes:
    """NDIS_LINK_STATE bytes for ``state``."""
    return LINK_STATE_COMPILED.build({name: getattr(state, name) for name in LinkState.__slots__})


def _check_length(data: bytes, needed: int, layer: str) -> None:
    # Compiled construct reads short buffers with struct and raises struct.error:
    # check the length first, as every decoder in wire/ does.
    if len(data) < needed:
        raise DecodeError(layer, "truncated", f"{len(data)} bytes, need {needed}")


def decode_link_state(data: bytes) -> LinkState:
    """Parse NDIS_LINK_STATE; a wrong header or short buffer is a DecodeError."""
    _check_length(data, 36, "ndis_link_state")
    try:
        parsed = LINK_STATE_COMPILED.parse(data)
    except ConstructError as error:
        raise DecodeError("ndis_link_state", "malformed", str(error)) from None
    return LinkState(**{name: parsed[name] for name in LinkState.__slots__})


def encode_statistics(counters: dict[str, int]) -> bytes:
    """NDIS_STATISTICS_INFO bytes with every counter of STATISTICS_FIELDS from ``counters``."""
    return STATISTICS_COMPILED.build({"supported_statistics": ALL_STATISTICS_SUPPORTED, **counters})


def decode_statistics(data: bytes) -> dict[str, int]:
    """Parse NDIS_STATISTICS_INFO into counter name → value; a bad buffer is a DecodeError."""
    _check_length(data, 152, "ndis_statistics_info")
    try:
        parsed = STATISTICS_COMPILED.parse(data)
    except ConstructError as error:
        raise DecodeError("ndis_statistics_info", "malformed", str(error)) from None
    return {name: parsed[name] for name in STATISTICS_FIELDS}

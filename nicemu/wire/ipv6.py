"""IPv6 headers and the walk over extension headers (RFC 8200).

Every check on a received header reads the raw bytes before parsing, as each
decides whether the header can be parsed at all: compiled ``construct``
parsers do not notice a short read of ``Bytes``. Jumbograms (RFC 2675) are
not supported: a payload length of 0 is an empty payload.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from construct import Bytes, Int8ub, Int16ub, Int32ub, Padding, Struct

from nicemu.wire._codec import Buffer, build, parse, require_length
from nicemu.wire.errors import DecodeError

IPPROTO_HOPOPTS = 0
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60
IPV6_HEADER_LEN = 40
IPV6_MAX_PAYLOAD_LEN = 0xFFFF
IPV6_MAX_EXTENSION_HEADERS = 16
"""How many extension headers walk_extension_headers reads before it gives
up: RFC 8200 allows each at most once (destination options twice), so more
is an attack or garbage."""
FRAGMENT_HEADER_LEN = 8

IPV6_SCHEMA = Struct(
    "version_class_flow" / Int32ub,
    "payload_length" / Int16ub,
    "next_header" / Int8ub,
    "hop_limit" / Int8ub,
    "src" / Bytes(16),
    "dst" / Bytes(16),
)
"""An IPv6 header as on the wire. ``version_class_flow`` holds the version
(4 bits), traffic class (8) and flow label (20): construct's Bitwise does not
compile, so the codec splits the word."""

IPV6_COMPILED = IPV6_SCHEMA.compile()
"""IPV6_SCHEMA compiled; what the codec runs."""

FRAGMENT_SCHEMA = Struct(
    "next_header" / Int8ub,
    Padding(1),
    "offset_flags" / Int16ub,
    "identification" / Int32ub,
)
"""The fragment header as on the wire. ``offset_flags`` holds the offset in
8-byte units (13 bits), two reserved bits and the M flag."""

FRAGMENT_COMPILED = FRAGMENT_SCHEMA.compile()
"""FRAGMENT_SCHEMA compiled; what the codec runs."""

# The extension headers the walk steps over. Any other next header ends it:
# an upper-layer protocol, "no next header", or one the stack does not know
# (AH and ESP among them), which it answers as such.
_WALKED = frozenset(
    {IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS}
)

_LAYER = "ipv6"


@dataclass(frozen=True, slots=True)
class IPv6Header:
    """An IPv6 header; the version is always 6."""

    traffic_class: int
    flow_label: int
    payload_length: int
    next_header: int
    hop_limit: int
    src: bytes
    dst: bytes


@dataclass(frozen=True, slots=True)
class FragmentHeader:
    """An IPv6 fragment header. ``offset`` counts 8-byte units and ``more``
    is the M flag; the reserved fields are ignored, as RFC 8200 says, and
    sent as zero."""

    next_header: int
    offset: int
    more: bool
    identification: int


def decode_ipv6(data: Buffer) -> tuple[IPv6Header, memoryview]:
    """Decode an IPv6 packet into its header and payload (a view, not a copy).

    The payload ends at ``payload_length``, so link-layer padding is dropped;
    it starts with the extension headers, if any (see walk_extension_headers).
    Raises DecodeError("ipv6", reason) with reason "truncated" (fewer than 40
    bytes), "bad_version" or "bad_payload_length" (beyond the data).
    """
    view = memoryview(data)
    size = len(view)
    if size < IPV6_HEADER_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {IPV6_HEADER_LEN}"
        )
    if view[0] >> 4 != 6:
        raise DecodeError(_LAYER, "bad_version", f"version {view[0] >> 4}")
    payload_length = view[4] << 8 | view[5]
    if payload_length > size - IPV6_HEADER_LEN:
        raise DecodeError(
            _LAYER,
            "bad_payload_length",
            f"payload length {payload_length}, data {size} bytes",
        )
    fields = parse(IPV6_COMPILED, view[:IPV6_HEADER_LEN])
    word = fields["version_class_flow"]
    header = IPv6Header(
        word >> 20 & 0xFF,
        word & 0xFFFFF,
        payload_length,
        fields["next_header"],
        fields["hop_limit"],
        fields["src"],
        fields["dst"],
    )
    return header, view[IPV6_HEADER_LEN : IPV6_HEADER_LEN + payload_length]


def encode_ipv6(header: IPv6Header, payload: Buffer) -> bytes:
    """Encode a header and its payload into a packet.

    ``payload_length`` is computed afresh; the header's own value is ignored.
    Raises ValueError when an address is not 16 bytes, the payload exceeds
    65535 bytes or a field does not fit its bits.
    """
    if not (0 <= header.traffic_class <= 0xFF and 0 <= header.flow_label <= 0xFFFFF):
        # They share one word with the version, so an overflow would corrupt it.
        raise ValueError(
            f"{_LAYER}: traffic_class must fit 8 bits and flow_label 20 bits,"
            f" got {header.traffic_class:#x} and {header.flow_label:#x}"
        )
    require_length(_LAYER, "src", header.src, 16)
    require_length(_LAYER, "dst", header.dst, 16)
    if len(payload) > IPV6_MAX_PAYLOAD_LEN:
        raise ValueError(
            f"{_LAYER}: payload of {len(payload)} bytes exceeds {IPV6_MAX_PAYLOAD_LEN}"
        )
    raw = build(
        IPV6_COMPILED,
        {
            "version_class_flow": 6 << 28
            | header.traffic_class << 20
            | header.flow_label,
            "payload_length": len(payload),
            "next_header": header.next_header,
            "hop_limit": header.hop_limit,
            "src": header.src,
            "dst": header.dst,
        },
        _LAYER,
    )
    return raw + payload


def walk_extension_headers(
    next_header: int, data: Buffer
) -> Iterator[tuple[int, memoryview]]:
    """Walk the extension headers at the start of ``data``, an IPv6 payload
    whose first header is ``next_header``.

    Yields (type, header) for each hop-by-hop options, routing, fragment and
    destination options header, the header whole (a view, not a copy), and
    last (protocol, rest): the next header after them and the bytes after
    them. Unpacking suits it: ``*headers, (protocol, rest) = walk_...``.
    The walk stops after a fragment header, as what follows it is only
    readable once the packet is reassembled; ``rest`` is then the fragment's
    data and ``protocol`` the fragment header's next header.

    Raises DecodeError("ipv6", reason) with reason "truncated" (the data ends
    inside a header), "misplaced_hop_by_hop" (hop-by-hop options anywhere but
    first, which RFC 8200 forbids) or "too_many_extension_headers" (more
    than IPV6_MAX_EXTENSION_HEADERS).
    """
    view = memoryview(data)
    size = len(view)
    offset = 0
    count = 0
    while next_header in _WALKED:
        if count == IPV6_MAX_EXTENSION_HEADERS:
            raise DecodeError(
                _LAYER,
                "too_many_extension_headers",
                f"more than {IPV6_MAX_EXTENSION_HEADERS}",
            )
        if next_header == IPPROTO_HOPOPTS and count:
            raise DecodeError(
                _LAYER,
                "misplaced_hop_by_hop",
                f"hop-by-hop options after {count} extension headers",
            )
        if next_header == IPPROTO_FRAGMENT:
            length = FRAGMENT_HEADER_LEN
        elif offset + 2 > size:
            length = 2  # The least it needs: the bytes that give its length.
        else:
            # In 8-byte units, not counting the first.
            length = (view[offset + 1] + 1) * 8
        if offset + length > size:
            raise DecodeError(
                _LAYER,
                "truncated",
                f"extension header {next_header} at {offset} needs {length} bytes,"
                f" {size - offset} left",
            )
        yield next_header, view[offset : offset + length]
        count += 1
        fragment = next_header == IPPROTO_FRAGMENT
        next_header = view[offset]
        offset += length
        if fragment:
            break
    yield next_header, view[offset:]


def decode_fragment_header(data: Buffer) -> FragmentHeader:
    """Decode a fragment header, as walk_extension_headers yields it (any
    bytes after the first 8 are ignored).

    Raises DecodeError("ipv6", "truncated") below 8 bytes.
    """
    view = memoryview(data)
    if len(view) < FRAGMENT_HEADER_LEN:
        raise DecodeError(
            _LAYER,
            "truncated",
            f"{len(view)} bytes, fragment header needs {FRAGMENT_HEADER_LEN}",
        )
    fields = parse(FRAGMENT_COMPILED, view[:FRAGMENT_HEADER_LEN])
    offset_flags = fields["offset_flags"]
    return FragmentHeader(
        fields["next_header"],
        offset_flags >> 3,
        bool(offset_flags & 1),
        fields["identification"],
    )


def encode_fragment_header(header: FragmentHeader) -> bytes:
    """Encode a fragment header (8 bytes).

    Raises ValueError when the offset does not fit 13 bits or another field
    its own.
    """
    if not 0 <= header.offset <= 0x1FFF:
        # It shares a word with the M flag, which an overflow would corrupt.
        raise ValueError(
            f"{_LAYER}: fragment offset must fit 13 bits, got {header.offset:#x}"
        )
    return build(
        FRAGMENT_COMPILED,
        {
            "next_header": header.next_header,
            "offset_flags": header.offset << 3 | bool(header.more),
            "identification": header.identification,
        },
        _LAYER,
    )

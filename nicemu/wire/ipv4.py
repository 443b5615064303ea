"""IPv4 headers (RFC 791).

Every check on a received header reads the raw bytes before parsing, as each
decides whether the header can be parsed at all: compiled ``construct``
parsers do not notice a short read of ``Bytes``, and read the rest of the
buffer for a negative length.
"""

from dataclasses import dataclass

from construct import Bytes, Int8ub, Int16ub, Struct, this

from nicemu.wire._codec import Buffer, build, parse, require_length
from nicemu.wire.checksum import checksum_ok, internet_checksum
from nicemu.wire.errors import DecodeError

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV4_FLAG_DF = 0x2
IPV4_FLAG_MF = 0x1
IPV4_HEADER_LEN = 20
"""Length of the header without options."""
IPV4_MAX_OPTIONS_LEN = 40

# construct's Bitwise does not compile, so the two bit-packed words are parsed
# whole and split by the codec.
IPV4_SCHEMA = Struct(
    "version_ihl" / Int8ub,
    "tos" / Int8ub,
    "total_length" / Int16ub,
    "identification" / Int16ub,
    "flags_fragment" / Int16ub,
    "ttl" / Int8ub,
    "protocol" / Int8ub,
    "checksum" / Int16ub,
    "src" / Bytes(4),
    "dst" / Bytes(4),
    "options" / Bytes((this.version_ihl & 0x0F) * 4 - IPV4_HEADER_LEN),
)
"""An IPv4 header as on the wire, options included."""

IPV4_COMPILED = IPV4_SCHEMA.compile()
"""IPV4_SCHEMA compiled; what the codec runs."""

_LAYER = "ipv4"


@dataclass(frozen=True, slots=True)
class IPv4Header:
    """An IPv4 header; the version is always 4.

    ``flags`` holds the three flag bits (IPV4_FLAG_DF, IPV4_FLAG_MF) and
    ``fragment_offset`` counts 8-byte units. ``options`` are the raw option
    bytes, padding included, a multiple of 4 bytes long.
    """

    tos: int
    total_length: int
    identification: int
    flags: int
    fragment_offset: int
    ttl: int
    protocol: int
    checksum: int
    src: bytes
    dst: bytes
    options: bytes = b""

    @property
    def ihl(self) -> int:
        """Header length in 32-bit words."""
        return 5 + len(self.options) // 4

    @property
    def header_len(self) -> int:
        """Header length in bytes."""
        return IPV4_HEADER_LEN + len(self.options)


def decode_ipv4(data: Buffer) -> tuple[IPv4Header, memoryview]:
    """Decode an IPv4 packet into its header and payload (a view, not a copy).

    The payload ends at ``total_length``, so link-layer padding is dropped.
    Options are returned raw and not interpreted. Raises DecodeError("ipv4",
    reason) with reason "truncated" (fewer than 20 or than IHL*4 bytes),
    "bad_version", "bad_ihl" (IHL below 5), "bad_total_length" (below the
    header length or beyond the data) or "bad_checksum".
    """
    view = memoryview(data)
    size = len(view)
    if size < IPV4_HEADER_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {IPV4_HEADER_LEN}"
        )
    version_ihl = view[0]
    if version_ihl >> 4 != 4:
        raise DecodeError(_LAYER, "bad_version", f"version {version_ihl >> 4}")
    header_len = (version_ihl & 0x0F) * 4
    if header_len < IPV4_HEADER_LEN:
        raise DecodeError(_LAYER, "bad_ihl", f"IHL {version_ihl & 0x0F}")
    if size < header_len:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {header_len}"
        )
    total_length = view[2] << 8 | view[3]
    if not header_len <= total_length <= size:
        raise DecodeError(
            _LAYER,
            "bad_total_length",
            f"total length {total_length}, header {header_len}, data {size} bytes",
        )
    raw_header = view[:header_len]
    if not checksum_ok(raw_header):
        expected = internet_checksum(
            bytes(raw_header[:10]) + bytes(2) + bytes(raw_header[12:])
        )
        found = view[10] << 8 | view[11]
        raise DecodeError(
            _LAYER,
            "bad_checksum",
            f"header checksum 0x{found:04x}, expected 0x{expected:04x}",
        )

    fields = parse(IPV4_COMPILED, raw_header)
    flags_fragment = fields["flags_fragment"]
    header = IPv4Header(
        fields["tos"],
        total_length,
        fields["identification"],
        flags_fragment >> 13,
        flags_fragment & 0x1FFF,
        fields["ttl"],
        fields["protocol"],
        fields["checksum"],
        fields["src"],
        fields["dst"],
        fields["options"],
    )
    return header, view[header_len:total_length]


def encode_ipv4(header: IPv4Header, payload: Buffer) -> bytes:
    """Encode a header and its payload into a packet.

    ``total_length`` and ``checksum`` are computed afresh; the header's own
    values for them are ignored. Raises ValueError when the options are not a
    multiple of 4 bytes or longer than 40, an address is not 4 bytes, the
    packet exceeds 65535 bytes, or a field does not fit its bits.
    """
    options = header.options
    if len(options) % 4 or len(options) > IPV4_MAX_OPTIONS_LEN:
        raise ValueError(
            f"{_LAYER}: options must be a multiple of 4 bytes, at most"
            f" {IPV4_MAX_OPTIONS_LEN}, got {len(options)}"
        )
    if not (0 <= header.flags <= 0x7 and 0 <= header.fragment_offset <= 0x1FFF):
        # They share one word, so an overflow would corrupt the other field.
        raise ValueError(
            f"{_LAYER}: flags must fit 3 bits and fragment_offset 13 bits,"
            f" got {header.flags:#x} and {header.fragment_offset:#x}"
        )
    require_length(_LAYER, "src", header.src, 4)
    require_length(_LAYER, "dst", header.dst, 4)
    header_len = IPV4_HEADER_LEN + len(options)
    raw = build(
        IPV4_COMPILED,
        {
            "version_ihl": 0x40 | header_len // 4,
            "tos": header.tos,
            "total_length": header_len + len(payload),
            "identification": header.identification,
            "flags_fragment": header.flags << 13 | header.fragment_offset,
            "ttl": header.ttl,
            "protocol": header.protocol,
            "checksum": 0,
            "src": header.src,
            "dst": header.dst,
            "options": options,
        },
        _LAYER,
    )
    checksum = internet_checksum(raw)
    return b"".join((raw[:10], checksum.to_bytes(2, "big"), raw[12:], payload))

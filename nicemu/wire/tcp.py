"""TCP segments (RFC 9293) and their options: MSS, window scale and
timestamps (RFC 7323), SACK (RFC 2018).

The checksum covers a pseudo-header: callers pass its sum without the length
(``ipv4_pseudo_sum(src, dst, IPPROTO_TCP)`` or ``ipv6_pseudo_sum(...)``, see
``nicemu.wire.pseudo``), which a connection can compute once, and the codec
adds the segment's length.
"""

import struct
from dataclasses import dataclass

from construct import Bytes, Int16ub, Int32ub, Struct, this

from nicemu.wire._codec import Buffer, parse
from nicemu.wire.checksum import internet_checksum
from nicemu.wire.errors import DecodeError
from nicemu.wire.pseudo import pseudo_checksum_ok

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80
TCP_HEADER_LEN = 20
"""Length of the header without options."""
TCP_MAX_OPTIONS_LEN = 40

_OPT_EOL = 0
_OPT_NOP = 1
_OPT_MSS = 2
_OPT_WINDOW_SCALE = 3
_OPT_SACK_PERMITTED = 4
_OPT_SACK = 5
_OPT_TIMESTAMP = 8
_MAX_SACK_BLOCKS = 4
"""As many as fit in 40 bytes: 2 + 4 * 8, after two NOPs."""

TCP_SCHEMA = Struct(
    "src_port" / Int16ub,
    "dst_port" / Int16ub,
    "seq" / Int32ub,
    "ack" / Int32ub,
    "offset_flags" / Int16ub,
    "window" / Int16ub,
    "checksum" / Int16ub,
    "urgent" / Int16ub,
    "options" / Bytes((this.offset_flags >> 12) * 4 - TCP_HEADER_LEN),
)
"""A TCP header as on the wire, options included. ``offset_flags`` holds the
data offset (4 bits), the reserved bits (4) and the control bits (8)."""

TCP_COMPILED = TCP_SCHEMA.compile()
"""TCP_SCHEMA compiled; what the decoder runs."""

# The encoder packs the fixed part with struct instead of TCP_COMPILED: a
# compiled build makes and fills a Container per call, about 7 us against
# 0.3 us, and every segment sent pays it. The layout is TCP_SCHEMA's, less
# the options, which the encoder appends.
_FIXED = struct.Struct(">HHIIHHHH")
_TWO_WORDS = struct.Struct(">II")

_LAYER = "tcp"


@dataclass(frozen=True, slots=True)
class TcpHeader:
    """A TCP header.

    ``flags`` holds the control bits (FIN ... CWR) and, in bits 8 to 11, the
    reserved bits, kept so that nothing the sender set is lost. ``options``
    are the raw option bytes, ``data_offset * 4 - 20`` of them, padding
    included; decode_tcp also returns them read as TcpOptions.
    """

    src_port: int
    dst_port: int
    seq: int
    ack: int
    data_offset: int
    flags: int
    window: int
    checksum: int
    urgent: int
    options: bytes = b""

    @property
    def header_len(self) -> int:
        """Header length in bytes."""
        return self.data_offset * 4


@dataclass(frozen=True, slots=True)
class TcpOptions:
    """The options of a segment that TCP acts on; each is None, False or ()
    when absent.

    ``window_scale`` is the shift count as sent: RFC 7323 caps it at 14, which
    is the connection's business, not the codec's. ``sack_blocks`` holds
    (left edge, right edge) pairs and ``timestamp`` is (TSval, TSecr).
    """

    mss: int | None = None
    window_scale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None


NO_TCP_OPTIONS = TcpOptions()
"""A segment without options: what decode_tcp returns for one, and
encode_tcp's default."""

# The only length each known option may have, but SACK, which is 2 + 8n.
_OPTION_LENGTHS = {
    _OPT_MSS: 4,
    _OPT_WINDOW_SCALE: 3,
    _OPT_SACK_PERMITTED: 2,
    _OPT_TIMESTAMP: 10,
}


def decode_tcp_options(data: Buffer) -> TcpOptions:
    """Read the option bytes of a TCP header.

    Options of unknown kinds are skipped by their length and the list ends
    at EOL. When an option appears twice, the later one counts, as in Linux.
    Raises DecodeError("tcp", "bad_options") when a multi-byte option has no
    length byte, a length below 2 or running past the end, or when an option
    of a known kind has a length its RFC does not allow.
    """
    size = len(data)
    mss = window_scale = timestamp = None
    sack_permitted = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    offset = 0
    while offset < size:
        kind = data[offset]
        if kind == _OPT_EOL:
            break
        if kind == _OPT_NOP:
            offset += 1
            continue
        if offset + 1 == size:
            raise DecodeError(
                _LAYER, "bad_options", f"option {kind} at {offset} has no length byte"
            )
        length = data[offset + 1]
        end = offset + length
        if length < 2 or end > size:
            raise DecodeError(
                _LAYER,
                "bad_options",
                f"option {kind} at {offset} has length {length},"
                f" {size - offset} bytes left",
            )
        if kind == _OPT_SACK:
            if length < 10 or (length - 2) % 8:
                raise DecodeError(
                    _LAYER, "bad_options", f"SACK option has length {length}"
                )
            sack_blocks = tuple(
                _TWO_WORDS.unpack_from(data, start)
                for start in range(offset + 2, end, 8)
            )
        elif kind in _OPTION_LENGTHS:
            if length != _OPTION_LENGTHS[kind]:
                raise DecodeError(
                    _LAYER,
                    "bad_options",
                    f"option {kind} has length {length}, needs {_OPTION_LENGTHS[kind]}",
                )
            if kind == _OPT_TIMESTAMP:
                timestamp = _TWO_WORDS.unpack_from(data, offset + 2)
            elif kind == _OPT_MSS:
                mss = data[offset + 2] << 8 | data[offset + 3]
            elif kind == _OPT_WINDOW_SCALE:
                window_scale = data[offset + 2]
            else:
                sack_permitted = True
        offset = end
    return TcpOptions(mss, window_scale, sack_permitted, sack_blocks, timestamp)


def encode_tcp_options(options: TcpOptions) -> bytes:
    """Encode options as Linux lays them out, so each is 4-byte aligned and
    no padding is needed: MSS, SACK-permitted (sharing a word with the
    timestamps when both are on), timestamps, NOP and window scale, then NOP,
    NOP and the SACK blocks.

    Raises ValueError when a value does not fit its field or the options
    need more than 40 bytes (at most 4 SACK blocks fit, fewer beside others).
    """
    parts = []
    try:
        if options.mss is not None:
            parts.append(b"\x02\x04" + options.mss.to_bytes(2, "big"))
        if options.timestamp is not None:
            parts.append(
                b"\x04\x02\x08\x0a" if options.sack_permitted else b"\x01\x01\x08\x0a"
            )
            parts.append(_TWO_WORDS.pack(*options.timestamp))
        elif options.sack_permitted:
            parts.append(b"\x01\x01\x04\x02")
        if options.window_scale is not None:
            parts.append(b"\x01\x03\x03" + options.window_scale.to_bytes(1, "big"))
        blocks = options.sack_blocks
        if blocks:
            if len(blocks) > _MAX_SACK_BLOCKS:
                raise ValueError(
                    f"{_LAYER}: at most {_MAX_SACK_BLOCKS} SACK blocks fit,"
                    f" got {len(blocks)}"
                )
            parts.append(bytes((_OPT_NOP, _OPT_NOP, _OPT_SACK, 2 + 8 * len(blocks))))
            parts.extend(_TWO_WORDS.pack(*block) for block in blocks)
    except (OverflowError, struct.error) as exc:
        raise ValueError(f"{_LAYER}: cannot encode {options!r}: {exc}") from None
    raw = b"".join(parts)
    if len(raw) > TCP_MAX_OPTIONS_LEN:
        raise ValueError(
            f"{_LAYER}: options take {len(raw)} bytes, at most"
            f" {TCP_MAX_OPTIONS_LEN} fit: {options!r}"
        )
    return raw


def decode_tcp(
    data: Buffer, pseudo_header_sum: int
) -> tuple[TcpHeader, TcpOptions, memoryview]:
    """Decode a TCP segment (the IP payload, exactly) into its header, its
    options and its payload (a view, not a copy).

    ``pseudo_header_sum`` is the pseudo-header's sum without its length; the
    checksum is always verified. Raises DecodeError("tcp", reason) with
    reason "truncated" (fewer than 20 bytes), "bad_data_offset" (below 5, or
    a header longer than the segment), "bad_checksum" or "bad_options" (see
    decode_tcp_options).
    """
    view = memoryview(data)
    size = len(view)
    if size < TCP_HEADER_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {TCP_HEADER_LEN}"
        )
    data_offset = view[12] >> 4
    header_len = data_offset * 4
    if not TCP_HEADER_LEN <= header_len <= size:
        raise DecodeError(
            _LAYER,
            "bad_data_offset",
            f"data offset {data_offset}, segment {size} bytes",
        )
    if not pseudo_checksum_ok(view, pseudo_header_sum + size):
        found = view[16] << 8 | view[17]
        expected = internet_checksum(
            view[18:],
            initial=pseudo_header_sum + size + int.from_bytes(view[:16], "big"),
        )
        raise DecodeError(
            _LAYER, "bad_checksum", f"checksum 0x{found:04x}, expected 0x{expected:04x}"
        )
    fields = parse(TCP_COMPILED, view[:header_len])
    raw_options = fields["options"]
    header = TcpHeader(
        fields["src_port"],
        fields["dst_port"],
        fields["seq"],
        fields["ack"],
        data_offset,
        fields["offset_flags"] & 0x0FFF,
        fields["window"],
        fields["checksum"],
        fields["urgent"],
        raw_options,
    )
    options = decode_tcp_options(raw_options) if raw_options else NO_TCP_OPTIONS
    return header, options, view[header_len:]


def encode_tcp(
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    payload: Buffer,
    pseudo_header_sum: int,
    options: TcpOptions = NO_TCP_OPTIONS,
    urgent: int = 0,
) -> bytes:
    """Encode a TCP segment, computing its data offset and checksum.

    ``flags`` are the control bits (and reserved bits 8 to 11, normally 0);
    ``options`` are laid out by encode_tcp_options; ``pseudo_header_sum`` is
    the pseudo-header's sum without its length. Raises ValueError when a
    field does not fit its bits or the options do not fit 40 bytes.
    """
    raw_options = encode_tcp_options(options)
    if not 0 <= flags <= 0x0FFF:
        # They share a word with the data offset, which they would corrupt.
        raise ValueError(f"{_LAYER}: flags must fit 12 bits, got {flags:#x}")
    header_len = TCP_HEADER_LEN + len(raw_options)
    offset_flags = header_len << 10 | flags
    # The header's words are summed from its fields, so the checksum is known
    # before the one pack: 2**16 == 1 mod 0xFFFF makes a 32-bit field count
    # as its value, and the options are whole 4-byte words.
    checksum = internet_checksum(
        payload,
        initial=pseudo_header_sum
        + header_len
        + len(payload)
        + src_port
        + dst_port
        + seq
        + ack
        + offset_flags
        + window
        + urgent
        + int.from_bytes(raw_options, "big"),
    )
    try:
        fixed = _FIXED.pack(
            src_port, dst_port, seq, ack, offset_flags, window, checksum, urgent
        )
    except struct.error as exc:
        raise ValueError(f"{_LAYER}: cannot encode header: {exc}") from None
    return b"".join((fixed, raw_options, payload))

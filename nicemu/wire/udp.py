"""UDP datagrams (RFC 768), over IPv4 or IPv6.

The checksum covers a pseudo-header: callers pass its sum without the length
(``ipv4_pseudo_sum(src, dst, IPPROTO_UDP)`` or ``ipv6_pseudo_sum(...)``, see
``nicemu.wire.pseudo``) and the codec adds the datagram's length field.
"""

from dataclasses import dataclass

from construct import Int16ub, Struct

from nicemu.wire._codec import Buffer, build, parse
from nicemu.wire.checksum import internet_checksum
from nicemu.wire.errors import DecodeError
from nicemu.wire.pseudo import pseudo_checksum_ok

UDP_HEADER_LEN = 8
UDP_MAX_LEN = 0xFFFF
"""The largest datagram the 16-bit length field can describe, header included."""

UDP_SCHEMA = Struct(
    "src_port" / Int16ub,
    "dst_port" / Int16ub,
    "length" / Int16ub,
    "checksum" / Int16ub,
)
"""The UDP header as on the wire; the payload follows it."""

UDP_COMPILED = UDP_SCHEMA.compile()
"""UDP_SCHEMA compiled; what the codec runs."""

_LAYER = "udp"


@dataclass(frozen=True, slots=True)
class UdpHeader:
    """A UDP header. ``length`` counts the header and payload; a ``checksum``
    of 0 means the sender computed none (allowed over IPv4 only)."""

    src_port: int
    dst_port: int
    length: int
    checksum: int


def _checksum(
    pseudo_header_sum: int, src_port: int, dst_port: int, length: int, payload: Buffer
) -> int:
    # The length is summed twice: once in the pseudo-header, once in the header.
    checksum = internet_checksum(
        payload, initial=pseudo_header_sum + length + src_port + dst_port + length
    )
    # A computed 0 goes out as 0xFFFF, its other form, since 0 means "none".
    return checksum or 0xFFFF


def decode_udp(
    data: Buffer, pseudo_header_sum: int | None
) -> tuple[UdpHeader, memoryview]:
    """Decode a UDP datagram (the IP payload) into its header and payload (a
    view, not a copy) cut to the length field, so trailing bytes are dropped.

    The checksum is verified when ``pseudo_header_sum`` (the pseudo-header's
    sum without its length) is given and the checksum field is not 0. A 0
    checksum is accepted as "none": over IPv6, where RFC 8200 forbids it, the
    caller rejects it. Raises DecodeError("udp", reason) with reason
    "truncated" (fewer than 8 bytes), "bad_length" (the length field below 8
    or beyond the data) or "bad_checksum".
    """
    view = memoryview(data)
    size = len(view)
    if size < UDP_HEADER_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {UDP_HEADER_LEN}"
        )
    length = view[4] << 8 | view[5]
    if not UDP_HEADER_LEN <= length <= size:
        raise DecodeError(_LAYER, "bad_length", f"length {length}, data {size} bytes")
    datagram = view[:length]
    if (
        pseudo_header_sum is not None
        and (view[6] or view[7])
        and not pseudo_checksum_ok(datagram, pseudo_header_sum + length)
    ):
        found = view[6] << 8 | view[7]
        expected = _checksum(
            pseudo_header_sum,
            view[0] << 8 | view[1],
            view[2] << 8 | view[3],
            length,
            datagram[UDP_HEADER_LEN:],
        )
        raise DecodeError(
            _LAYER, "bad_checksum", f"checksum 0x{found:04x}, expected 0x{expected:04x}"
        )
    fields = parse(UDP_COMPILED, view[:UDP_HEADER_LEN])
    header = UdpHeader(
        fields["src_port"], fields["dst_port"], length, fields["checksum"]
    )
    return header, datagram[UDP_HEADER_LEN:]


def encode_udp(
    src_port: int, dst_port: int, payload: Buffer, pseudo_header_sum: int | None
) -> bytes:
    """Encode a UDP datagram, computing its length and checksum.

    ``pseudo_header_sum`` is the pseudo-header's sum without its length; None
    sends checksum 0, "none", which only IPv4 allows. Raises ValueError when
    the datagram would exceed 65535 bytes or a port does not fit 16 bits.
    """
    length = UDP_HEADER_LEN + len(payload)
    if length > UDP_MAX_LEN:
        raise ValueError(f"{_LAYER}: datagram of {length} bytes exceeds {UDP_MAX_LEN}")
    checksum = (
        0
        if pseudo_header_sum is None
        else _checksum(pseudo_header_sum, src_port, dst_port, length, payload)
    )
    header = build(
        UDP_COMPILED,
        {
            "src_port": src_port,
            "dst_port": dst_port,
            "length": length,
            "checksum": checksum,
        },
        _LAYER,
    )
    return header + payload

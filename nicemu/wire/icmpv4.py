"""ICMP for IPv4 (RFC 792): the common 8-byte header and the data after it."""

from dataclasses import dataclass

from construct import Bytes, Int8ub, Int16ub, Struct

from nicemu.wire._codec import Buffer, build, parse, require_length
from nicemu.wire.checksum import checksum_ok, internet_checksum
from nicemu.wire.errors import DecodeError

ICMP_ECHO_REPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11
ICMPV4_HEADER_LEN = 8

ICMPV4_SCHEMA = Struct(
    "type" / Int8ub,
    "code" / Int8ub,
    "checksum" / Int16ub,
    "rest" / Bytes(4),
)
"""The ICMP header as on the wire; the message data follows it."""

ICMPV4_COMPILED = ICMPV4_SCHEMA.compile()
"""ICMPV4_SCHEMA compiled; what the codec runs."""

_LAYER = "icmpv4"


@dataclass(frozen=True, slots=True)
class Icmpv4Message:
    """An ICMP message: ``rest`` is the 4 bytes after the checksum, whose
    meaning depends on the type, and ``payload`` everything after them."""

    type: int
    code: int
    checksum: int
    rest: bytes
    payload: bytes

    @property
    def identifier(self) -> int:
        """The echo identifier (first half of ``rest``)."""
        return int.from_bytes(self.rest[:2], "big")

    @property
    def sequence(self) -> int:
        """The echo sequence number (second half of ``rest``)."""
        return int.from_bytes(self.rest[2:], "big")


def decode_icmpv4(data: Buffer) -> Icmpv4Message:
    """Decode an ICMP message (the IPv4 payload, exactly).

    Raises DecodeError("icmpv4", reason) with reason "truncated" below 8 bytes
    or "bad_checksum" when the checksum over the whole message does not verify.
    """
    view = memoryview(data)
    size = len(view)
    if size < ICMPV4_HEADER_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {ICMPV4_HEADER_LEN}"
        )
    if not checksum_ok(view):
        found = view[2] << 8 | view[3]
        expected = internet_checksum(view[4:], initial=view[0] << 8 | view[1])
        raise DecodeError(
            _LAYER, "bad_checksum", f"checksum 0x{found:04x}, expected 0x{expected:04x}"
        )
    fields = parse(ICMPV4_COMPILED, view[:ICMPV4_HEADER_LEN])
    return Icmpv4Message(
        fields["type"],
        fields["code"],
        fields["checksum"],
        fields["rest"],
        bytes(view[ICMPV4_HEADER_LEN:]),
    )


def encode_icmpv4(message: Icmpv4Message) -> bytes:
    """Encode a message, computing its checksum afresh (``message.checksum``
    is ignored). Raises ValueError when ``rest`` is not 4 bytes or a field is
    out of range."""
    require_length(_LAYER, "rest", message.rest, 4)
    header = build(
        ICMPV4_COMPILED,
        {
            "type": message.type,
            "code": message.code,
            "checksum": 0,
            "rest": message.rest,
        },
        _LAYER,
    )
    checksum = internet_checksum(message.payload, initial=int.from_bytes(header, "big"))
    return b"".join(
        (header[:2], checksum.to_bytes(2, "big"), header[4:], message.payload)
    )


def echo_reply_for(request: Icmpv4Message) -> bytes:
    """Encode the echo reply to an echo request, as decoded by decode_icmpv4.

    The reply keeps the request's code (as Linux does), ``rest`` and payload.
    Its checksum is the request's, updated for the changed type word
    (RFC 1624, eqn. 3), so the payload is not summed again; this relies on the
    request's checksum being valid, which decode_icmpv4 has checked.
    Raises ValueError when the request is not an echo request.
    """
    if request.type != ICMP_ECHO_REQUEST:
        raise ValueError(
            f"{_LAYER}: echo_reply_for needs an echo request, got type {request.type}"
        )
    code = request.code
    total = (
        (~request.checksum & 0xFFFF)
        + (~(ICMP_ECHO_REQUEST << 8 | code) & 0xFFFF)
        + code
    )
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    if total == 0xFFFF:
        # A checksum of 0 is right unless every byte of the reply is zero,
        # which only a fresh sum can tell.
        return encode_icmpv4(
            Icmpv4Message(ICMP_ECHO_REPLY, code, 0, request.rest, request.payload)
        )
    head = bytes((ICMP_ECHO_REPLY, code)) + (~total & 0xFFFF).to_bytes(2, "big")
    return b"".join((head, request.rest, request.payload))

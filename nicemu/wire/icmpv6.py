"""ICMP for IPv6 (RFC 4443), Neighbor Discovery (RFC 4861) and the MLD types.

The checksum covers a pseudo-header and is mandatory: callers pass its sum
without the length (``ipv6_pseudo_sum(src, dst, IPPROTO_ICMPV6)``, see
``nicemu.wire.pseudo``) and the codec adds the message's length.

The Neighbor Discovery codec checks structure only: lengths and options.
The rest of RFC 4861's validity rules (hop limit 255, code 0, which source
addresses may carry which options) are the NDP protocol's to apply.
"""

from dataclasses import dataclass
from typing import TypeAlias

from construct import Bytes, Int8ub, Int16ub, Int32ub, Padding, Struct

from nicemu.wire._codec import Buffer, build, parse, require_length
from nicemu.wire.checksum import internet_checksum
from nicemu.wire.errors import DecodeError
from nicemu.wire.pseudo import pseudo_checksum_ok

ICMPV6_DEST_UNREACH = 1
ICMPV6_PACKET_TOO_BIG = 2
ICMPV6_TIME_EXCEEDED = 3
ICMPV6_PARAM_PROBLEM = 4
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129
ICMPV6_MLD_QUERY = 130
ICMPV6_MLD_REPORT = 131
ICMPV6_MLD_DONE = 132
ICMPV6_ROUTER_SOLICITATION = 133
ICMPV6_ROUTER_ADVERTISEMENT = 134
ICMPV6_NEIGHBOR_SOLICITATION = 135
ICMPV6_NEIGHBOR_ADVERTISEMENT = 136
ICMPV6_MLD2_REPORT = 143
MLD_TYPES = frozenset(
    {ICMPV6_MLD_QUERY, ICMPV6_MLD_REPORT, ICMPV6_MLD_DONE, ICMPV6_MLD2_REPORT}
)
"""Multicast Listener Discovery, v1 (RFC 2710) and v2 reports (RFC 3810):
recognised by type; their bodies are not decoded."""
NDP_TYPES = frozenset(
    {
        ICMPV6_ROUTER_SOLICITATION,
        ICMPV6_ROUTER_ADVERTISEMENT,
        ICMPV6_NEIGHBOR_SOLICITATION,
        ICMPV6_NEIGHBOR_ADVERTISEMENT,
    }
)
"""The Neighbor Discovery messages decode_ndp reads."""
ICMPV6_HEADER_LEN = 4
ICMPV6_MIN_LEN = 8
"""The shortest message decode_icmpv6 accepts: the header and the 4 bytes
every message defined has after it (Linux drops anything shorter)."""

ND_OPT_SOURCE_LL_ADDR = 1
ND_OPT_TARGET_LL_ADDR = 2
ND_OPT_PREFIX_INFO = 3
ND_OPT_MTU = 5
RA_FLAG_MANAGED = 0x80
RA_FLAG_OTHER = 0x40
NA_FLAG_ROUTER = 0x80
NA_FLAG_SOLICITED = 0x40
NA_FLAG_OVERRIDE = 0x20
PREFIX_FLAG_ON_LINK = 0x80
PREFIX_FLAG_AUTONOMOUS = 0x40

ICMPV6_SCHEMA = Struct(
    "type" / Int8ub,
    "code" / Int8ub,
    "checksum" / Int16ub,
)
"""The ICMPv6 header as on the wire; the message body follows it."""

ICMPV6_COMPILED = ICMPV6_SCHEMA.compile()
"""ICMPV6_SCHEMA compiled; what the codec runs."""

ROUTER_ADVERTISEMENT_SCHEMA = Struct(
    "cur_hop_limit" / Int8ub,
    "flags" / Int8ub,
    "router_lifetime" / Int16ub,
    "reachable_time" / Int32ub,
    "retrans_timer" / Int32ub,
)
"""A router advertisement's body before its options."""

ROUTER_ADVERTISEMENT_COMPILED = ROUTER_ADVERTISEMENT_SCHEMA.compile()
"""ROUTER_ADVERTISEMENT_SCHEMA compiled; what the codec runs."""

NEIGHBOR_SOLICITATION_SCHEMA = Struct(
    Padding(4),
    "target" / Bytes(16),
)
"""A neighbor solicitation's body before its options."""

NEIGHBOR_SOLICITATION_COMPILED = NEIGHBOR_SOLICITATION_SCHEMA.compile()
"""NEIGHBOR_SOLICITATION_SCHEMA compiled; what the codec runs."""

NEIGHBOR_ADVERTISEMENT_SCHEMA = Struct(
    "flags" / Int8ub,
    Padding(3),
    "target" / Bytes(16),
)
"""A neighbor advertisement's body before its options."""

NEIGHBOR_ADVERTISEMENT_COMPILED = NEIGHBOR_ADVERTISEMENT_SCHEMA.compile()
"""NEIGHBOR_ADVERTISEMENT_SCHEMA compiled; what the codec runs."""

PREFIX_INFO_SCHEMA = Struct(
    "prefix_length" / Int8ub,
    "flags" / Int8ub,
    "valid_lifetime" / Int32ub,
    "preferred_lifetime" / Int32ub,
    Padding(4),
    "prefix" / Bytes(16),
)
"""The prefix information option's data, after its type and length bytes."""

PREFIX_INFO_COMPILED = PREFIX_INFO_SCHEMA.compile()
"""PREFIX_INFO_SCHEMA compiled; what the codec runs."""

MTU_OPTION_SCHEMA = Struct(
    Padding(2),
    "mtu" / Int32ub,
)
"""The MTU option's data, after its type and length bytes."""

MTU_OPTION_COMPILED = MTU_OPTION_SCHEMA.compile()
"""MTU_OPTION_SCHEMA compiled; what the codec runs."""

_ROUTER_SOLICITATION_LEN = 4
"""A router solicitation's body before its options: reserved bytes only."""
_ROUTER_ADVERTISEMENT_LEN = 12
_NEIGHBOR_MESSAGE_LEN = 20
_OPTION_UNIT = 8
# The only length, in 8-byte units, that these options may have.
_OPTION_UNITS = {ND_OPT_PREFIX_INFO: 4, ND_OPT_MTU: 1}

_LAYER = "icmpv6"


@dataclass(frozen=True, slots=True)
class Icmpv6Message:
    """An ICMPv6 message: ``body`` is everything after the checksum, whose
    meaning depends on the type."""

    type: int
    code: int
    checksum: int
    body: bytes

    @property
    def identifier(self) -> int:
        """The echo identifier (the body's first two bytes)."""
        return int.from_bytes(self.body[:2], "big")

    @property
    def sequence(self) -> int:
        """The echo sequence number (the body's next two bytes)."""
        return int.from_bytes(self.body[2:4], "big")


@dataclass(frozen=True, slots=True)
class PrefixInformation:
    """A prefix information option. ``flags`` holds L (PREFIX_FLAG_ON_LINK),
    A (PREFIX_FLAG_AUTONOMOUS) and the bits after them; lifetimes are in
    seconds, 0xFFFFFFFF meaning infinity."""

    prefix_length: int
    flags: int
    valid_lifetime: int
    preferred_lifetime: int
    prefix: bytes


@dataclass(frozen=True, slots=True)
class NdpOptions:
    """The options of a Neighbor Discovery message; each is None or () when
    absent.

    Link-layer addresses are the option's data whole: 6 bytes on Ethernet.
    ``other`` keeps every option of another type (RDNSS, nonce...) as
    (type, data), data being what follows the type and length bytes. When
    a link-layer address or MTU option appears twice, the first counts, as
    in Linux.
    """

    source_link_layer_address: bytes | None = None
    target_link_layer_address: bytes | None = None
    mtu: int | None = None
    prefixes: tuple[PrefixInformation, ...] = ()
    other: tuple[tuple[int, bytes], ...] = ()


NO_NDP_OPTIONS = NdpOptions()
"""A Neighbor Discovery message without options."""


@dataclass(frozen=True, slots=True)
class RouterSolicitation:
    """A router solicitation (type 133)."""

    options: NdpOptions = NO_NDP_OPTIONS


@dataclass(frozen=True, slots=True)
class RouterAdvertisement:
    """A router advertisement (type 134). ``flags`` holds M
    (RA_FLAG_MANAGED), O (RA_FLAG_OTHER) and the bits after them; the router
    lifetime is in seconds, the reachable time and retrans timer in ms."""

    cur_hop_limit: int
    flags: int
    router_lifetime: int
    reachable_time: int
    retrans_timer: int
    options: NdpOptions = NO_NDP_OPTIONS


@dataclass(frozen=True, slots=True)
class NeighborSolicitation:
    """A neighbor solicitation (type 135) for ``target``."""

    target: bytes
    options: NdpOptions = NO_NDP_OPTIONS


@dataclass(frozen=True, slots=True)
class NeighborAdvertisement:
    """A neighbor advertisement (type 136) for ``target``. ``flags`` is the
    first byte after the checksum: R (NA_FLAG_ROUTER), S (NA_FLAG_SOLICITED),
    O (NA_FLAG_OVERRIDE) and five reserved bits."""

    flags: int
    target: bytes
    options: NdpOptions = NO_NDP_OPTIONS


NdpMessage: TypeAlias = (
    RouterSolicitation
    | RouterAdvertisement
    | NeighborSolicitation
    | NeighborAdvertisement
)
"""What decode_ndp returns and encode_ndp takes."""


def decode_icmpv6(data: Buffer, pseudo_header_sum: int) -> Icmpv6Message:
    """Decode an ICMPv6 message (the upper-layer data of the IPv6 packet,
    exactly).

    ``pseudo_header_sum`` is the pseudo-header's sum without its length.
    Raises DecodeError("icmpv6", reason) with reason "truncated" (fewer than
    ICMPV6_MIN_LEN bytes) or "bad_checksum".
    """
    view = memoryview(data)
    size = len(view)
    if size < ICMPV6_MIN_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, a message needs {ICMPV6_MIN_LEN}"
        )
    if not pseudo_checksum_ok(view, pseudo_header_sum + size):
        found = view[2] << 8 | view[3]
        expected = internet_checksum(
            view[ICMPV6_HEADER_LEN:],
            initial=pseudo_header_sum + size + (view[0] << 8 | view[1]),
        )
        raise DecodeError(
            _LAYER, "bad_checksum", f"checksum 0x{found:04x}, expected 0x{expected:04x}"
        )
    fields = parse(ICMPV6_COMPILED, view[:ICMPV6_HEADER_LEN])
    return Icmpv6Message(
        fields["type"],
        fields["code"],
        fields["checksum"],
        bytes(view[ICMPV6_HEADER_LEN:]),
    )


def encode_icmpv6(message: Icmpv6Message, pseudo_header_sum: int) -> bytes:
    """Encode a message, computing its checksum afresh (``message.checksum``
    is ignored); ``pseudo_header_sum`` is the pseudo-header's sum without its
    length. Raises ValueError when the type or code does not fit 8 bits."""
    body = message.body
    checksum = internet_checksum(
        body,
        initial=pseudo_header_sum
        + ICMPV6_HEADER_LEN
        + len(body)
        + (message.type << 8 | message.code),
    )
    header = build(
        ICMPV6_COMPILED,
        {"type": message.type, "code": message.code, "checksum": checksum},
        _LAYER,
    )
    return header + body


def echo_request(identifier: int, sequence: int, data: Buffer = b"") -> Icmpv6Message:
    """Make an echo request, for encode_icmpv6 (which fills the checksum).

    Raises ValueError when the identifier or sequence does not fit 16 bits.
    """
    try:
        head = identifier.to_bytes(2, "big") + sequence.to_bytes(2, "big")
    except OverflowError as exc:
        raise ValueError(f"{_LAYER}: cannot encode echo request: {exc}") from None
    return Icmpv6Message(ICMPV6_ECHO_REQUEST, 0, 0, head + data)


def echo_reply_for(request: Icmpv6Message, pseudo_header_sum: int) -> bytes:
    """Encode the echo reply to an echo request, as decoded by decode_icmpv6.

    The reply keeps the request's code (as Linux does) and body. Its
    pseudo-header may differ from the request's (a request to a multicast
    address is answered from a unicast one), so ``pseudo_header_sum`` is the
    reply's, without its length. Raises ValueError when the request is not
    an echo request.
    """
    if request.type != ICMPV6_ECHO_REQUEST:
        raise ValueError(
            f"{_LAYER}: echo_reply_for needs an echo request, got type {request.type}"
        )
    return encode_icmpv6(
        Icmpv6Message(ICMPV6_ECHO_REPLY, request.code, 0, request.body),
        pseudo_header_sum,
    )


def _decode_options(view: memoryview) -> NdpOptions:
    source = target = mtu = None
    prefixes = []
    other = []
    size = len(view)
    offset = 0
    while offset < size:
        if offset + 2 > size:
            raise DecodeError(
                _LAYER, "bad_option_length", f"option at {offset} has no length byte"
            )
        kind = view[offset]
        units = view[offset + 1]
        end = offset + units * _OPTION_UNIT
        if not units or end > size:
            raise DecodeError(
                _LAYER,
                "bad_option_length",
                f"option {kind} at {offset} has length {units},"
                f" {size - offset} bytes left",
            )
        if kind in _OPTION_UNITS and units != _OPTION_UNITS[kind]:
            raise DecodeError(
                _LAYER,
                "bad_option_length",
                f"option {kind} has length {units}, needs {_OPTION_UNITS[kind]}",
            )
        data = view[offset + 2 : end]
        # A repeated address or MTU is ignored, as Linux ignores it.
        if kind == ND_OPT_SOURCE_LL_ADDR:
            if source is None:
                source = bytes(data)
        elif kind == ND_OPT_TARGET_LL_ADDR:
            if target is None:
                target = bytes(data)
        elif kind == ND_OPT_MTU:
            if mtu is None:
                mtu = parse(MTU_OPTION_COMPILED, data)["mtu"]
        elif kind == ND_OPT_PREFIX_INFO:
            fields = parse(PREFIX_INFO_COMPILED, data)
            prefixes.append(
                PrefixInformation(
                    fields["prefix_length"],
                    fields["flags"],
                    fields["valid_lifetime"],
                    fields["preferred_lifetime"],
                    fields["prefix"],
                )
            )
        else:
            other.append((kind, bytes(data)))
        offset = end
    return NdpOptions(source, target, mtu, tuple(prefixes), tuple(other))


def _option(kind: int, data: Buffer) -> bytes:
    size = 2 + len(data)
    if not 0 <= kind <= 0xFF or size % _OPTION_UNIT or size > 0xFF * _OPTION_UNIT:
        raise ValueError(
            f"{_LAYER}: option {kind} must have a type of 8 bits and data that"
            f" fills whole 8-byte units with its type and length bytes, up to"
            f" 255 of them; got {len(data)} bytes of data"
        )
    return bytes((kind, size // _OPTION_UNIT)) + data


def _encode_options(options: NdpOptions) -> bytes:
    parts = []
    if options.source_link_layer_address is not None:
        parts.append(_option(ND_OPT_SOURCE_LL_ADDR, options.source_link_layer_address))
    if options.target_link_layer_address is not None:
        parts.append(_option(ND_OPT_TARGET_LL_ADDR, options.target_link_layer_address))
    if options.mtu is not None:
        mtu = build(MTU_OPTION_COMPILED, {"mtu": options.mtu}, _LAYER)
        parts.append(_option(ND_OPT_MTU, mtu))
    for prefix in options.prefixes:
        require_length(_LAYER, "prefix", prefix.prefix, 16)
        fields = {
            "prefix_length": prefix.prefix_length,
            "flags": prefix.flags,
            "valid_lifetime": prefix.valid_lifetime,
            "preferred_lifetime": prefix.preferred_lifetime,
            "prefix": prefix.prefix,
        }
        parts.append(
            _option(ND_OPT_PREFIX_INFO, build(PREFIX_INFO_COMPILED, fields, _LAYER))
        )
    parts.extend(_option(kind, data) for kind, data in options.other)
    return b"".join(parts)


def decode_ndp(message: Icmpv6Message) -> NdpMessage:
    """Read a Neighbor Discovery message from a decoded ICMPv6 message.

    Options of unknown types are kept in NdpOptions.other. Raises
    DecodeError("icmpv6", reason) with reason "truncated" (a body shorter
    than the message's fixed part) or "bad_option_length" (an option of
    length 0, running past the end, or a prefix information or MTU option
    of another length than RFC 4861's). Raises ValueError when the type is
    not in NDP_TYPES.
    """
    icmp_type = message.type
    if icmp_type == ICMPV6_ROUTER_SOLICITATION:
        fixed_len = _ROUTER_SOLICITATION_LEN
    elif icmp_type == ICMPV6_ROUTER_ADVERTISEMENT:
        fixed_len = _ROUTER_ADVERTISEMENT_LEN
    elif icmp_type in NDP_TYPES:
        fixed_len = _NEIGHBOR_MESSAGE_LEN
    else:
        raise ValueError(
            f"{_LAYER}: decode_ndp needs a Neighbor Discovery message,"
            f" got type {icmp_type}"
        )
    body = memoryview(message.body)
    if len(body) < fixed_len:
        raise DecodeError(
            _LAYER,
            "truncated",
            f"type {icmp_type} body of {len(body)} bytes, needs {fixed_len}",
        )
    options = _decode_options(body[fixed_len:])
    if icmp_type == ICMPV6_ROUTER_SOLICITATION:
        return RouterSolicitation(options)
    if icmp_type == ICMPV6_ROUTER_ADVERTISEMENT:
        fields = parse(ROUTER_ADVERTISEMENT_COMPILED, body[:fixed_len])
        return RouterAdvertisement(
            fields["cur_hop_limit"],
            fields["flags"],
            fields["router_lifetime"],
            fields["reachable_time"],
            fields["retrans_timer"],
            options,
        )
    if icmp_type == ICMPV6_NEIGHBOR_SOLICITATION:
        fields = parse(NEIGHBOR_SOLICITATION_COMPILED, body[:fixed_len])
        return NeighborSolicitation(fields["target"], options)
    fields = parse(NEIGHBOR_ADVERTISEMENT_COMPILED, body[:fixed_len])
    return NeighborAdvertisement(fields["flags"], fields["target"], options)


def encode_ndp(message: NdpMessage, pseudo_header_sum: int) -> bytes:
    """Encode a Neighbor Discovery message as ICMPv6 (code 0), options in
    the order source and target link-layer address, MTU, prefixes, others.

    ``pseudo_header_sum`` is the pseudo-header's sum without its length.
    Raises ValueError when a target or prefix is not 16 bytes, an option's
    data does not fill whole 8-byte units (a 6-byte MAC does) or a field
    does not fit its bits.
    """
    match message:
        case RouterSolicitation():
            icmp_type = ICMPV6_ROUTER_SOLICITATION
            fixed = bytes(_ROUTER_SOLICITATION_LEN)
        case RouterAdvertisement():
            icmp_type = ICMPV6_ROUTER_ADVERTISEMENT
            fields = {
                "cur_hop_limit": message.cur_hop_limit,
                "flags": message.flags,
                "router_lifetime": message.router_lifetime,
                "reachable_time": message.reachable_time,
                "retrans_timer": message.retrans_timer,
            }
            fixed = build(ROUTER_ADVERTISEMENT_COMPILED, fields, _LAYER)
        case NeighborSolicitation():
            icmp_type = ICMPV6_NEIGHBOR_SOLICITATION
            require_length(_LAYER, "target", message.target, 16)
            fixed = build(
                NEIGHBOR_SOLICITATION_COMPILED, {"target": message.target}, _LAYER
            )
        case NeighborAdvertisement():
            icmp_type = ICMPV6_NEIGHBOR_ADVERTISEMENT
            require_length(_LAYER, "target", message.target, 16)
            fixed = build(
                NEIGHBOR_ADVERTISEMENT_COMPILED,
                {"flags": message.flags, "target": message.target},
                _LAYER,
            )
        case _:
            raise TypeError(
                f"{_LAYER}: encode_ndp needs a Neighbor Discovery message, got"
                f" {message!r}"
            )
    body = fixed + _encode_options(message.options)
    return encode_icmpv6(Icmpv6Message(icmp_type, 0, 0, body), pseudo_header_sum)

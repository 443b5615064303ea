"""ARP packets (RFC 826), for any hardware and protocol address sizes."""

from dataclasses import dataclass

from construct import Bytes, Int8ub, Int16ub, Struct, this

from nicemu.wire._codec import Buffer, build, parse, require_length
from nicemu.wire.errors import DecodeError

ARP_REQUEST = 1
ARP_REPLY = 2
ARP_HTYPE_ETHERNET = 1
ARP_PTYPE_IPV4 = 0x0800
ARP_FIXED_LEN = 8
"""The part before the addresses, which gives their sizes."""

ARP_SCHEMA = Struct(
    "htype" / Int16ub,
    "ptype" / Int16ub,
    "hlen" / Int8ub,
    "plen" / Int8ub,
    "oper" / Int16ub,
    "sha" / Bytes(this.hlen),
    "spa" / Bytes(this.plen),
    "tha" / Bytes(this.hlen),
    "tpa" / Bytes(this.plen),
)
"""An ARP packet as on the wire."""

ARP_COMPILED = ARP_SCHEMA.compile()
"""ARP_SCHEMA compiled; what the codec runs."""

_LAYER = "arp"


@dataclass(frozen=True, slots=True)
class ArpPacket:
    """An ARP packet; addresses are ``hlen`` and ``plen`` bytes long."""

    htype: int
    ptype: int
    hlen: int
    plen: int
    oper: int
    sha: bytes
    spa: bytes
    tha: bytes
    tpa: bytes


def decode_arp(data: Buffer) -> ArpPacket:
    """Decode an ARP packet; trailing bytes (Ethernet padding) are ignored.

    Raises DecodeError("arp", reason) with reason "truncated" when the data
    ends before the addresses do, or "bad_length" when the address sizes
    contradict the types (Ethernet hardware needs hlen 6, IPv4 needs plen 4).
    """
    view = memoryview(data)
    size = len(view)
    if size < ARP_FIXED_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, fixed part needs {ARP_FIXED_LEN}"
        )
    packet_len = ARP_FIXED_LEN + 2 * (view[4] + view[5])
    if size < packet_len:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, addresses need {packet_len}"
        )

    fields = parse(ARP_COMPILED, view[:packet_len])
    packet = ArpPacket(
        fields["htype"],
        fields["ptype"],
        fields["hlen"],
        fields["plen"],
        fields["oper"],
        fields["sha"],
        fields["spa"],
        fields["tha"],
        fields["tpa"],
    )

    if packet.htype == ARP_HTYPE_ETHERNET and packet.hlen != 6:
        raise DecodeError(
            _LAYER, "bad_length", f"Ethernet hardware with hlen {packet.hlen}"
        )
    if packet.ptype == ARP_PTYPE_IPV4 and packet.plen != 4:
        raise DecodeError(
            _LAYER, "bad_length", f"IPv4 protocol with plen {packet.plen}"
        )
    return packet


def encode_arp(packet: ArpPacket) -> bytes:
    """Encode an ARP packet (no padding).

    Raises ValueError when an address does not match hlen/plen or a field is
    out of range.
    """
    require_length(_LAYER, "sha", packet.sha, packet.hlen)
    require_length(_LAYER, "spa", packet.spa, packet.plen)
    require_length(_LAYER, "tha", packet.tha, packet.hlen)
    require_length(_LAYER, "tpa", packet.tpa, packet.plen)
    return build(
        ARP_COMPILED,
        {
            "htype": packet.htype,
            "ptype": packet.ptype,
            "hlen": packet.hlen,
            "plen": packet.plen,
            "oper": packet.oper,
            "sha": packet.sha,
            "spa": packet.spa,
            "tha": packet.tha,
            "tpa": packet.tpa,
        },
        _LAYER,
    )


def arp_ipv4(oper: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> ArpPacket:
    """Make an ARP packet for IPv4 over Ethernet (htype 1, ptype 0x0800)."""
    return ArpPacket(ARP_HTYPE_ETHERNET, ARP_PTYPE_IPV4, 6, 4, oper, sha, spa, tha, tpa)

"""Ethernet II frames, with an optional 802.1Q tag, and MAC address helpers.

Frames arrive without preamble or FCS, as QEMU's socket netdevs carry them.
"""

import re
from dataclasses import dataclass

from construct import Bytes, If, Int16ub, Struct, this

from nicemu.wire._codec import Buffer, build, parse, require_length
from nicemu.wire.errors import DecodeError

ETHERNET_HEADER_LEN = 14
ETHERNET_VLAN_HEADER_LEN = 18
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100
ETHERTYPE_IPV6 = 0x86DD
BROADCAST_MAC = b"\xff" * 6

_VLAN_TAG = Struct("tci" / Int16ub, "ethertype" / Int16ub)

ETHERNET_SCHEMA = Struct(
    "dst" / Bytes(6),
    "src" / Bytes(6),
    "ethertype" / Int16ub,
    "vlan" / If(this.ethertype == ETHERTYPE_VLAN, _VLAN_TAG),
)
"""The Ethernet header as on the wire: ``ethertype`` is the TPID when tagged."""

ETHERNET_COMPILED = ETHERNET_SCHEMA.compile()
"""ETHERNET_SCHEMA compiled; what the codec runs."""

_LAYER = "ethernet"


@dataclass(frozen=True, slots=True)
class EthernetHeader:
    """An Ethernet header.

    When the frame carries an 802.1Q tag, ``ethertype`` is the inner type and
    ``vlan_tci`` the tag control information; otherwise ``vlan_tci`` is None.
    An ``ethertype`` below 0x0600 is an 802.3 length, kept as it was.
    """

    dst: bytes
    src: bytes
    ethertype: int
    vlan_tci: int | None = None

    @property
    def header_len(self) -> int:
        """Bytes the header takes on the wire: 14, or 18 when tagged."""
        return (
            ETHERNET_HEADER_LEN if self.vlan_tci is None else ETHERNET_VLAN_HEADER_LEN
        )


def decode_ethernet(frame: Buffer) -> tuple[EthernetHeader, memoryview]:
    """Decode a frame into its header and its payload (a view, not a copy).

    Raises DecodeError("ethernet", "truncated") when the frame is shorter than
    its header (14 bytes, 18 when tagged).
    """
    view = memoryview(frame)
    size = len(view)
    if size < ETHERNET_HEADER_LEN:
        raise DecodeError(
            _LAYER, "truncated", f"{size} bytes, header needs {ETHERNET_HEADER_LEN}"
        )
    tagged = view[12] == ETHERTYPE_VLAN >> 8 and view[13] == ETHERTYPE_VLAN & 0xFF
    if tagged and size < ETHERNET_VLAN_HEADER_LEN:
        raise DecodeError(
            _LAYER,
            "truncated",
            f"{size} bytes, tagged header needs {ETHERNET_VLAN_HEADER_LEN}",
        )
    fields = parse(ETHERNET_COMPILED, view[:ETHERNET_VLAN_HEADER_LEN])
    vlan = fields["vlan"]
    if vlan is None:
        header = EthernetHeader(fields["dst"], fields["src"], fields["ethertype"])
    else:
        header = EthernetHeader(
            fields["dst"], fields["src"], vlan["ethertype"], vlan["tci"]
        )
    return header, view[header.header_len :]


def encode_ethernet(header: EthernetHeader, payload: Buffer) -> bytes:
    """Encode a header and its payload into a frame (no padding, no FCS).

    Raises ValueError when an address is not 6 bytes or a field is out of range.
    """
    require_length(_LAYER, "dst", header.dst, 6)
    require_length(_LAYER, "src", header.src, 6)
    if header.vlan_tci is None:
        fields = {
            "dst": header.dst,
            "src": header.src,
            "ethertype": header.ethertype,
            "vlan": None,
        }
    else:
        fields = {
            "dst": header.dst,
            "src": header.src,
            "ethertype": ETHERTYPE_VLAN,
            "vlan": {"tci": header.vlan_tci, "ethertype": header.ethertype},
        }
    return build(ETHERNET_COMPILED, fields, _LAYER) + payload


def mac_to_str(mac: Buffer) -> str:
    """Format a MAC address as lower-case, colon-separated hex: "52:55:0a:00:02:02"."""
    return mac.hex(":")


_MAC_RE = re.compile(r"[0-9A-Fa-f]{1,2}([:-])[0-9A-Fa-f]{1,2}(?:\1[0-9A-Fa-f]{1,2}){4}")


def parse_mac(text: str) -> bytes:
    """Parse "52:55:0a:00:02:02" or "52-55-0A-00-02-02" into 6 bytes.

    Octets may have one or two hex digits; one separator is used throughout.
    Raises ValueError naming the text otherwise.
    """
    if _MAC_RE.fullmatch(text) is None:
        raise ValueError(
            f"invalid MAC address {text!r}: expected six hex octets separated by"
            " ':' or '-', like 52:55:0a:00:02:02"
        )
    return bytes(int(octet, 16) for octet in re.split("[:-]", text))


def is_multicast_mac(mac: Buffer) -> bool:
    """True for a group address (the I/G bit set), broadcast included."""
    return bool(mac[0] & 1)


def is_broadcast_mac(mac: Buffer) -> bool:
    """True for ff:ff:ff:ff:ff:ff."""
    return mac == BROADCAST_MAC

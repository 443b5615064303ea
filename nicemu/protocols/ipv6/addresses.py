"""The IPv6 addresses a host derives from its MAC and its unicast addresses (RFC 4291, RFC 2464)."""

from __future__ import annotations

import ipaddress

ALL_NODES = ipaddress.IPv6Address("ff02::1").packed
ALL_ROUTERS = ipaddress.IPv6Address("ff02::2").packed
ALL_MLDV2_ROUTERS = ipaddress.IPv6Address("ff02::16").packed
UNSPECIFIED = bytes(16)


def link_local_from_mac(mac: bytes) -> bytes:
    """fe80::/64 with the modified EUI-64 interface identifier of ``mac``."""
    identifier = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return b"\xfe\x80" + bytes(6) + identifier


def solicited_node(address: bytes) -> bytes:
    """ff02::1:ffXX:XXXX, the group a neighbour solicitation for ``address`` is sent to."""
    return ipaddress.IPv6Address("ff02::1:ff00:0").packed[:13] + address[13:]


def multicast_mac(group: bytes) -> bytes:
    """33:33 and the group's last four bytes: where an IPv6 multicast goes on Ethernet."""
    return b"\x33\x33" + group[12:]


def is_multicast(address: bytes) -> bool:
    """Whether ``address`` is in ff00::/8."""
    return address[0] == 0xFF

"""Splitting an IPv4 datagram to fit an MTU (RFC 791)."""

from __future__ import annotations

from dataclasses import replace

from nicemu.wire.ipv4 import IPV4_FLAG_MF, IPv4Header, encode_ipv4


def fragment(header: IPv4Header, payload: bytes, mtu: int) -> list[bytes]:
    """The datagram as encoded packets of at most ``mtu`` bytes each.

    Every fragment but the last carries a multiple of 8 bytes; options are
    copied only into the first, which is allowed for the options nicemu sends
    (none of them has the copy bit).
    """
    if header.header_len + len(payload) <= mtu:
        return [encode_ipv4(header, payload)]
    if header.flags & 0x2:
        raise ValueError("the datagram has DF set and does not fit the MTU")
    first_room = (mtu - header.header_len) // 8 * 8
    rest_header = replace(header, options=b"")
    rest_room = (mtu - rest_header.header_len) // 8 * 8
    packets = []
    offset = 0
    while offset < len(payload):
        this = header if offset == 0 else rest_header
        room = first_room if offset == 0 else rest_room
        chunk = payload[offset:offset + room]
        more = offset + len(chunk) < len(payload)
        flags = this.flags | (IPV4_FLAG_MF if more else 0)
        packets.append(encode_ipv4(replace(this, flags=flags, fragment_offset=offset // 8), chunk))
        offset += len(chunk)
    return packets

"""The frames the load generator sends, and the checks its replies must pass.

Built and checked with ``struct`` and a checksum of our own, not with nicemu's
codecs (which are what is being measured) nor scapy's (one of the responders):
a reply is judged by code that shares nothing with the responders.

The guest is 10.0.2.15 with MAC 52:54:00:12:34:56, as QEMU's default NIC;
nicemu's host is 10.0.2.2 with MAC 52:55:0a:00:02:02.
"""

from __future__ import annotations

import struct

KINDS = ("icmp", "arp", "udp")
"""What the load generator sends: ICMP echo requests, ARP requests, UDP datagrams to port 7."""

GUEST_MAC = bytes.fromhex("525400123456")
GUEST_IP = bytes([10, 0, 2, 15])
HOST_MAC = bytes.fromhex("52550a000202")
HOST_IP = bytes([10, 0, 2, 2])
BROADCAST_MAC = b"\xff" * 6

ECHO_ID = 0x4E4D
"""The ICMP echo identifier every request carries ("NM")."""
UDP_SOURCE_PORT = 40_000
UDP_ECHO_PORT = 7
ICMP_PAYLOAD_FILL = bytes(range(0x10, 0x40))
"""48 bytes after an 8-byte sequence stamp: 56 bytes of data, as ``ping`` sends."""
UDP_PAYLOAD_FILL = bytes(range(0x40, 0x5C))
"""28 bytes after a 4-byte sequence stamp: 32 bytes of data."""
ICMP_QUOTE_MAX = 576 - 20 - 8
"""How much of the offending datagram an ICMP error quotes at most (Linux's rule, nicemu's too)."""

_ETH = struct.Struct("!6s6sH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_ICMP_ECHO = struct.Struct("!BBHHH")
_UDP = struct.Struct("!HHHH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")


def checksum(data: bytes | memoryview) -> int:
    """The Internet checksum (RFC 1071) of ``data``: 0 when ``data`` holds a correct checksum."""
    data = bytes(data)
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4(protocol: int, identification: int, payload: bytes) -> bytes:
    header = _IP.pack(0x45, 0, 20 + len(payload), identification & 0xFFFF, 0x4000, 64, protocol, 0,
                      GUEST_IP, HOST_IP)
    return header[:10] + checksum(header).to_bytes(2, "big") + header[12:] + payload


def icmp_echo_request(seq: int) -> bytes:
    """A 98-byte echo request to 10.0.2.2, as ``ping`` sends: sequence ``seq`` mod 2**16, 56 bytes of data."""
    data = struct.pack("!Q", seq) + ICMP_PAYLOAD_FILL
    header = _ICMP_ECHO.pack(8, 0, 0, ECHO_ID, seq & 0xFFFF)
    icmp = header[:2] + checksum(header + data).to_bytes(2, "big") + header[4:] + data
    return _ETH.pack(HOST_MAC, GUEST_MAC, 0x0800) + _ipv4(1, seq, icmp)


def arp_request(seq: int = 0) -> bytes:
    """Who has 10.0.2.2? Tell 10.0.2.15: 42 bytes, broadcast. Every request is the same."""
    arp = _ARP.pack(1, 0x0800, 6, 4, 1, GUEST_MAC, GUEST_IP, bytes(6), HOST_IP)
    return _ETH.pack(BROADCAST_MAC, GUEST_MAC, 0x0806) + arp


def udp_request(seq: int) -> bytes:
    """A 74-byte UDP datagram to 10.0.2.2 port 7 (echo): 32 bytes of data, the first 4 the sequence number."""
    data = struct.pack("!I", seq & 0xFFFFFFFF) + UDP_PAYLOAD_FILL
    length = 8 + len(data)
    pseudo = GUEST_IP + HOST_IP + struct.pack("!BBH", 0, 17, length)
    header = _UDP.pack(UDP_SOURCE_PORT, UDP_ECHO_PORT, length, 0)
    sum_ = checksum(pseudo + header + data) or 0xFFFF
    udp = header[:6] + sum_.to_bytes(2, "big") + data
    return _ETH.pack(HOST_MAC, GUEST_MAC, 0x0800) + _ipv4(17, seq, udp)


REQUEST_BUILDERS = {"icmp": icmp_echo_request, "arp": arp_request, "udp": udp_request}


def _check_ipv4_to_guest(reply: bytes) -> tuple[str | None, bytes]:
    """Check the Ethernet and IPv4 headers of a reply to the guest; return (problem, IPv4 payload)."""
    if len(reply) < 14 + 20:
        return f"short frame ({len(reply)} bytes)", b""
    dst, src, ethertype = _ETH.unpack_from(reply)
    if (dst, src, ethertype) != (GUEST_MAC, HOST_MAC, 0x0800):
        return f"ethernet header {dst.hex()} {src.hex()} {ethertype:#06x}", b""
    vihl, _tos, total, _ident, _frag, _ttl, protocol, _sum, ip_src, ip_dst = _IP.unpack_from(reply, 14)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20 or total < ihl or 14 + total > len(reply):
        return f"bad IPv4 header (version/ihl {vihl:#04x}, total length {total})", b""
    if checksum(reply[14:14 + ihl]):
        return "bad IPv4 header checksum", b""
    if (protocol, ip_src, ip_dst) != (1, HOST_IP, GUEST_IP):
        return f"IPv4 protocol {protocol} from {ip_src.hex()} to {ip_dst.hex()}", b""
    return None, reply[14 + ihl:14 + total]


def check_reply(kind: str, responder: str, request: bytes, reply: bytes) -> str | None:
    """None when ``reply`` is the right answer to ``request``, else what is wrong with it.

    The wire ceiling must return the request unchanged. The others must answer:
    an ICMP echo reply with the request's identifier, sequence number and data;
    an ARP reply from 10.0.2.2 to the guest; for UDP, ICMP port unreachable
    quoting the request's datagram (whose data carries its sequence number).
    """
    if responder == "ceiling":
        return None if reply == request else "not the request echoed back"
    if kind == "arp":
        if len(reply) < 42:
            return f"short frame ({len(reply)} bytes)"
        dst, src, ethertype = _ETH.unpack_from(reply)
        if (dst, src, ethertype) != (GUEST_MAC, HOST_MAC, 0x0806):
            return f"ethernet header {dst.hex()} {src.hex()} {ethertype:#06x}"
        fields = _ARP.unpack_from(reply, 14)
        if fields != (1, 0x0800, 6, 4, 2, HOST_MAC, HOST_IP, GUEST_MAC, GUEST_IP):
            return f"not an ARP reply from 10.0.2.2 to the guest: {fields}"
        return None
    problem, icmp = _check_ipv4_to_guest(reply)
    if problem:
        return problem
    if len(icmp) < 8:
        return f"short ICMP message ({len(icmp)} bytes)"
    if checksum(icmp):
        return "bad ICMP checksum"
    icmp_type, code, _sum, rest1, rest2 = _ICMP_ECHO.unpack_from(icmp)
    if kind == "icmp":
        _, _, _, want_id, want_seq = _ICMP_ECHO.unpack_from(request, 34)
        if (icmp_type, code) != (0, 0):
            return f"ICMP type {icmp_type} code {code}, not an echo reply"
        if (rest1, rest2) != (want_id, want_seq):
            return f"echo id/seq {rest1:#x}/{rest2}, expected {want_id:#x}/{want_seq}"
        if icmp[8:] != request[42:]:
            return "echo data differs from the request's"
        return None
    if kind == "udp":
        if (icmp_type, code) != (3, 3):
            return f"ICMP type {icmp_type} code {code}, not port unreachable"
        quote = icmp[8:]
        original = request[14:]
        if len(quote) < 28 or quote != original[:min(len(original), ICMP_QUOTE_MAX)]:
            return "port unreachable does not quote the request's datagram"
        return None
    raise ValueError(f"unknown kind {kind!r}")

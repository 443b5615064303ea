"""Pseudo-header sums for the UDP, TCP and ICMPv6 checksums (RFC 768, RFC 9293,
RFC 8200 section 8.1).

A pseudo-header sum is an un-complemented partial sum, as
``internet_checksum(data, initial=...)`` takes: any non-negative int
congruent, modulo 0xFFFF, to the sum of the pseudo-header's 16-bit words.
Since 2**16 == 1 mod 0xFFFF, each field counts as its value, however wide, so
the sums are plain additions and the zero padding drops out.

The transport codecs (``udp``, ``tcp``, ``icmpv6``) take the sum *without*
the length (``length=0``, the default) and add the length themselves: only
they know it when encoding (TCP's header grows with its options), and for UDP
it is the datagram's own length field, not the size of the IP payload. A
connection can so compute its sum once.
"""

from nicemu.wire._codec import Buffer, require_length


def ipv4_pseudo_sum(src: Buffer, dst: Buffer, protocol: int, length: int = 0) -> int:
    """Return the sum of an IPv4 pseudo-header: addresses, protocol, length.

    Raises ValueError when an address is not 4 bytes, the protocol does not
    fit 8 bits or the length 16 bits.
    """
    require_length("ipv4", "src", src, 4)
    require_length("ipv4", "dst", dst, 4)
    if not (0 <= protocol <= 0xFF and 0 <= length <= 0xFFFF):
        raise ValueError(
            f"ipv4: pseudo-header protocol must fit 8 bits and length 16 bits,"
            f" got {protocol} and {length}"
        )
    return int.from_bytes(src, "big") + int.from_bytes(dst, "big") + protocol + length


def ipv6_pseudo_sum(src: Buffer, dst: Buffer, next_header: int, length: int = 0) -> int:
    """Return the sum of an IPv6 pseudo-header: addresses, length, next header.

    Raises ValueError when an address is not 16 bytes, the next header does
    not fit 8 bits or the length 32 bits.
    """
    require_length("ipv6", "src", src, 16)
    require_length("ipv6", "dst", dst, 16)
    if not (0 <= next_header <= 0xFF and 0 <= length <= 0xFFFF_FFFF):
        raise ValueError(
            f"ipv6: pseudo-header next header must fit 8 bits and length 32 bits,"
            f" got {next_header} and {length}"
        )
    return (
        int.from_bytes(src, "big") + int.from_bytes(dst, "big") + next_header + length
    )


def pseudo_checksum_ok(data: Buffer, pseudo_sum: int) -> bool:
    """Return True when ``data``, checksum field included, sums to 0xFFFF
    after the pseudo-header whose full sum (length included) is ``pseudo_sum``.

    ``checksum_ok`` with a prefix: a stored 0x0000 and 0xFFFF verify alike
    when the rest sums to 0xFFFF.
    """
    total = int.from_bytes(data, "big")
    if len(data) & 1:
        total <<= 8
    total += pseudo_sum
    return total != 0 and total % 0xFFFF == 0

"""What tcpip does with an IPv6 packet: answer NDP as a router, echo, refuse UDP, accept MLD silently.

The host is a router on its link (RFC 4861): it answers router
solicitations with an advertisement carrying the SLAAC prefix (default
fd00::/64), answers neighbour solicitations for its addresses (duplicate
address detection included), and echoes pings sent to any of its addresses
or to all-nodes. Every other packet is dropped under a counted reason.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from nicemu.protocols.ipv6.addresses import (
    ALL_MLDV2_ROUTERS,
    ALL_NODES,
    ALL_ROUTERS,
    UNSPECIFIED,
    is_multicast,
    link_local_from_mac,
    multicast_mac,
    solicited_node,
)
from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import ETHERTYPE_IPV6, EthernetHeader
from nicemu.wire.icmpv6 import (
    ICMPV6_DEST_UNREACH,
    ICMPV6_ECHO_REQUEST,
    ICMPV6_NEIGHBOR_SOLICITATION,
    ICMPV6_ROUTER_SOLICITATION,
    MLD_TYPES,
    NA_FLAG_OVERRIDE,
    NA_FLAG_ROUTER,
    NA_FLAG_SOLICITED,
    PREFIX_FLAG_AUTONOMOUS,
    PREFIX_FLAG_ON_LINK,
    Icmpv6Message,
    NdpOptions,
    NeighborAdvertisement,
    NeighborSolicitation,
    PrefixInformation,
    RouterAdvertisement,
    decode_icmpv6,
    decode_ndp,
    echo_reply_for,
    encode_icmpv6,
    encode_ndp,
)
from nicemu.wire.ipv6 import IPPROTO_ICMPV6, IPv6Header, decode_ipv6, encode_ipv6
from nicemu.wire.pseudo import ipv6_pseudo_sum
from nicemu.wire.udp import decode_udp

if TYPE_CHECKING:
    from nicemu.protocols.tcpip import Interface, TcpipProtocol

IPPROTO_UDP = 17
_NDP_HOP_LIMIT = 255
_DEFAULT_HOP_LIMIT = 64
_PORT_UNREACHABLE = 4
_MIN_MTU = 1280
_ROUTER_LIFETIME = 1800
_PREFIX_VALID = 86400
_PREFIX_PREFERRED = 14400


class Ipv6Handler:
    """tcpip's IPv6 half: its addresses, the groups it listens to, and how it answers."""

    def __init__(self, protocol: TcpipProtocol, addresses: tuple[str, ...], prefix: str) -> None:
        self.protocol = protocol
        self.addresses = frozenset(ipaddress.IPv6Address(a).packed for a in addresses)
        network = ipaddress.IPv6Network(prefix)
        self.prefix = network.network_address.packed
        self.prefix_length = network.prefixlen

    def local_addresses(self, interface: Interface) -> frozenset[bytes]:
        """Every unicast address the host answers for on ``interface``, its link-local one too."""
        return self.addresses | {link_local_from_mac(interface.mac)}

    def multicast_macs(self, mac: bytes) -> list[bytes]:
        """The Ethernet groups the adapter must pass: all-nodes, all-routers, MLDv2 routers, solicited-nodes."""
        groups = ({ALL_NODES, ALL_ROUTERS, ALL_MLDV2_ROUTERS}
                  | {solicited_node(a) for a in self.addresses | {link_local_from_mac(mac)}})
        return sorted(multicast_mac(group) for group in groups)

    def receive(self, interface: Interface, ethernet: EthernetHeader, payload: memoryview) -> None:
        """Handle one IPv6 packet from the wire."""
        protocol = self.protocol
        try:
            ip, data = decode_ipv6(payload)
        except DecodeError as error:
            protocol.drop(f"{error.layer}.{error.reason}")
            return
        local = self.local_addresses(interface)
        if not (ip.dst in local or ip.dst in (ALL_NODES, ALL_ROUTERS, ALL_MLDV2_ROUTERS)
                or any(ip.dst == solicited_node(a) for a in local)):
            protocol.drop("ipv6.not_for_us")
            return
        if ip.next_header == IPPROTO_ICMPV6:
            self._receive_icmpv6(interface, ethernet, ip, data, local)
        elif ip.next_header == IPPROTO_UDP:
            self._receive_udp(interface, ethernet, ip, data, payload)
        else:
            protocol.drop("ipv6.unsupported_next_header")

    def _receive_icmpv6(self, interface: Interface, ethernet: EthernetHeader, ip: IPv6Header, data: memoryview,
                        local: frozenset[bytes]) -> None:
        protocol = self.protocol
        try:
            message = decode_icmpv6(data, ipv6_pseudo_sum(ip.src, ip.dst, IPPROTO_ICMPV6))
        except DecodeError as error:
            protocol.drop(f"{error.layer}.{error.reason}")
            return
        if message.type == ICMPV6_ECHO_REQUEST:
            src = ip.dst if ip.dst in local else link_local_from_mac(interface.mac)
            reply = echo_reply_for(message, ipv6_pseudo_sum(src, ip.src, IPPROTO_ICMPV6))
            self._send(interface, ethernet.src, src, ip.src, IPPROTO_ICMPV6, reply)
            protocol.counters["icmpv6.echo_replied"] += 1
        elif message.type in MLD_TYPES:
            protocol.counters["icmpv6.mld_accepted"] += 1
        elif message.type in (ICMPV6_NEIGHBOR_SOLICITATION, ICMPV6_ROUTER_SOLICITATION):
            if ip.hop_limit != _NDP_HOP_LIMIT or message.code != 0:
                protocol.drop("ndp.not_from_the_link")
                return
            try:
                ndp = decode_ndp(message)
            except DecodeError as error:
                protocol.drop(f"{error.layer}.{error.reason}")
                return
            if isinstance(ndp, NeighborSolicitation):
                self._answer_solicitation(interface, ethernet, ip, ndp, local)
            else:
                self._advertise_router(interface, ethernet, ip)
        else:
            protocol.drop("icmpv6.unsupported_type")

    def _answer_solicitation(self, interface: Interface, ethernet: EthernetHeader, ip: IPv6Header,
                             ns: NeighborSolicitation, local: frozenset[bytes]) -> None:
        protocol = self.protocol
        if ns.target not in local:
            protocol.drop("ndp.target_not_ours")
            return
        flags = NA_FLAG_ROUTER | NA_FLAG_OVERRIDE
        if ip.src == UNSPECIFIED:
            # Duplicate address detection for one of ours: defend it to all nodes (RFC 4861 7.2.4).
            dst = ALL_NODES
            protocol.counters["ndp.duplicate_address_defended"] += 1
        else:
            dst = ip.src
            flags |= NA_FLAG_SOLICITED
        advert = NeighborAdvertisement(flags=flags, target=ns.target,
                                       options=NdpOptions(target_link_layer_address=interface.mac))
        body = encode_ndp(advert, ipv6_pseudo_sum(ns.target, dst, IPPROTO_ICMPV6))
        self._send(interface, ethernet.src, ns.target, dst, IPPROTO_ICMPV6, body, hop_limit=_NDP_HOP_LIMIT)
        protocol.counters["ndp.neighbor_advertised"] += 1

    def _advertise_router(self, interface: Interface, ethernet: EthernetHeader, ip: IPv6Header) -> None:
        src = link_local_from_mac(interface.mac)
        dst = ALL_NODES if ip.src == UNSPECIFIED else ip.src
        prefix = PrefixInformation(prefix_length=self.prefix_length, flags=PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
                                   valid_lifetime=_PREFIX_VALID, preferred_lifetime=_PREFIX_PREFERRED,
                                   prefix=self.prefix)
        advert = RouterAdvertisement(cur_hop_limit=_DEFAULT_HOP_LIMIT, flags=0, router_lifetime=_ROUTER_LIFETIME,
                                     reachable_time=0, retrans_timer=0,
                                     options=NdpOptions(source_link_layer_address=interface.mac, mtu=interface.mtu,
                                                        prefixes=(prefix,)))
        body = encode_ndp(advert, ipv6_pseudo_sum(src, dst, IPPROTO_ICMPV6))
        self._send(interface, ethernet.src, src, dst, IPPROTO_ICMPV6, body, hop_limit=_NDP_HOP_LIMIT)
        self.protocol.counters["ndp.router_advertised"] += 1

    def _receive_udp(self, interface: Interface, ethernet: EthernetHeader, ip: IPv6Header, data: memoryview,
                     packet: memoryview) -> None:
        protocol = self.protocol
        try:
            udp, _ = decode_udp(data, ipv6_pseudo_sum(ip.src, ip.dst, IPPROTO_UDP))
        except DecodeError as error:
            protocol.drop(f"{error.layer}.{error.reason}")
            return
        if udp.checksum == 0:
            protocol.drop("udp.zero_checksum_over_ipv6")
            return
        protocol.drop("udp.port_closed")
        if is_multicast(ip.dst) or not protocol.error_bucket.take(protocol.now):
            return
        # Destination unreachable quotes as much of the packet as fits the minimum MTU (RFC 4443 3.1).
        quote = bytes(packet[:_MIN_MTU - 40 - 8])
        body = encode_icmpv6(Icmpv6Message(ICMPV6_DEST_UNREACH, _PORT_UNREACHABLE, 0, bytes(4) + quote),
                             ipv6_pseudo_sum(ip.dst, ip.src, IPPROTO_ICMPV6))
        self._send(interface, ethernet.src, ip.dst, ip.src, IPPROTO_ICMPV6, body)
        protocol.counters["icmpv6.error_sent.1.4"] += 1

    def _send(self, interface: Interface, frame_src: bytes, src: bytes, dst: bytes, next_header: int, payload: bytes,
              *, hop_limit: int = _DEFAULT_HOP_LIMIT) -> None:
        mac = multicast_mac(dst) if is_multicast(dst) else bytes(frame_src)
        header = IPv6Header(traffic_class=0, flow_label=0, payload_length=len(payload), next_header=next_header,
                            hop_limit=hop_limit, src=src, dst=dst)
        self.protocol.transmit(interface, mac, ETHERTYPE_IPV6, encode_ipv6(header, payload))



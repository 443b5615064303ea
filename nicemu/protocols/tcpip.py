"""The tcpip protocol driver: the host's IPv4 and IPv6 identity on every adapter it binds to.

For now it answers ARP for its addresses and ICMP echo requests sent to them,
reassembles fragmented datagrams and fragments what it sends, answers UDP
(no port is open yet) with ICMP port unreachable and an unknown protocol with
protocol unreachable (both rate-limited), keeps an ARP
cache per interface, and hands IPv6 to ``nicemu.protocols.ipv6``. Everything
else is dropped with a counted reason. Bad
frames never raise out of here: each decode error becomes a drop named
``<layer>.<reason>``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass

from nicemu.ndis.drivers import ETHERNET_RANGE, BindParameters, StatusIndication
from nicemu.ndis.nbl import NetBufferList, chain, iterate
from nicemu.ndis.ndis import MiniportBlock, Ndis, OpenBlock, ReceiveFlags
from nicemu.ndis.oid import MediaConnectState, NdisOidRequest, Oid, PacketType
from nicemu.ndis.status import NdisStatus
from nicemu.protocols.arp_cache import ArpCache
from nicemu.protocols.arp_pending import PendingResolution
from nicemu.wire.arp import ARP_HTYPE_ETHERNET, ARP_REPLY, ARP_REQUEST, arp_ipv4, decode_arp, encode_arp
from nicemu.wire.errors import DecodeError
from nicemu.wire.ethernet import (
    BROADCAST_MAC,
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    EthernetHeader,
    decode_ethernet,
    encode_ethernet,
)
from nicemu.protocols.ipv4.fragmentation import fragment
from nicemu.protocols.ipv4.icmp_errors import TokenBucket, error_message, may_answer_with_error
from nicemu.protocols.ipv4.reassembly import Reassembler
from nicemu.protocols.ipv6.handler import Ipv6Handler
from nicemu.wire.icmpv4 import (
    ICMP_DEST_UNREACH,
    ICMP_ECHO_REQUEST,
    ICMP_TIME_EXCEEDED,
    decode_icmpv4,
    echo_reply_for,
)
from nicemu.wire.ipv4 import IPPROTO_ICMP, IPPROTO_UDP, IPV4_FLAG_MF, IPv4Header, decode_ipv4
from nicemu.wire.pseudo import ipv4_pseudo_sum
from nicemu.wire.udp import decode_udp

log = logging.getLogger(__name__)

_IPV4_ANY = b"\x00\x00\x00\x00"
ALL_HOSTS_MAC = bytes.fromhex("01005e000001")
"""224.0.0.1, the IPv4 all-hosts group, mapped to Ethernet (RFC 1112)."""
_DEFAULT_TTL = 64
_PROTOCOL_UNREACHABLE = 2
_PORT_UNREACHABLE = 3


@dataclass(frozen=True, slots=True)
class TcpipConfig:
    """The host's IPv4 identity: the addresses it answers for on its subnet."""

    addresses: tuple[str, ...] = ("10.0.2.2", "10.0.2.3")
    prefix_length: int = 24
    arp_cache_timeout: float = 60.0
    arp_cache_capacity: int = 1024
    reassembly_timeout: float = 30.0
    ipv6_addresses: tuple[str, ...] = ("fd00::2", "fd00::3")
    ipv6_prefix: str = "fd00::/64"

    def packed_addresses(self) -> frozenset[bytes]:
        """The addresses as 4-byte network-order values."""
        return frozenset(ipaddress.IPv4Address(a).packed for a in self.addresses)

    def broadcast(self) -> bytes:
        """The directed broadcast address of the subnet."""
        network = ipaddress.IPv4Network(f"{self.addresses[0]}/{self.prefix_length}", strict=False)
        return network.broadcast_address.packed


class Interface:
    """tcpip's binding context on one adapter: its MAC, link state and neighbours."""

    __slots__ = ("name", "binding", "mac", "mtu", "link_up", "arp_cache", "pending", "reassembler", "outbound")

    def __init__(self, parameters: BindParameters, config: TcpipConfig) -> None:
        self.name = parameters.adapter_name
        self.binding: OpenBlock | None = None
        self.mac = parameters.current_address
        self.mtu = parameters.mtu
        self.link_up = parameters.media_connect_state == MediaConnectState.CONNECTED
        self.arp_cache = ArpCache(config.arp_cache_timeout, config.arp_cache_capacity)
        self.pending = PendingResolution()
        self.reassembler = Reassembler(timeout=config.reassembly_timeout)
        # Replies made while handling one indication, sent down as one chain.
        self.outbound: list[bytes] = []


class TcpipProtocol:
    """Models the tcpip protocol driver's NDIS side (ProtocolXxx handlers)."""

    name = "tcpip"
    lower_range = frozenset({ETHERNET_RANGE})

    def __init__(self, ndis: Ndis, config: TcpipConfig | None = None) -> None:
        self.ndis = ndis
        self.config = config or TcpipConfig()
        self.addresses = self.config.packed_addresses()
        self.primary_address = ipaddress.IPv4Address(self.config.addresses[0]).packed
        # One budget for every ICMP error nicemu sends, as Linux's icmp_msgs_per_sec.
        self.error_bucket = TokenBucket()
        self.broadcasts = frozenset({b"\xff\xff\xff\xff", self.config.broadcast()})
        self.ipv6 = Ipv6Handler(self, self.config.ipv6_addresses, self.config.ipv6_prefix)
        self.interfaces: list[Interface] = []
        self.counters: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self.now = 0.0
        self._ip_identification = 0

    # Binding ------------------------------------------------------------

    def bind_adapter_ex(self, bind_context: MiniportBlock, parameters: BindParameters) -> NdisStatus:
        """Models ProtocolBindAdapterEx: open the adapter, learn its address, set its packet filter."""
        interface = Interface(parameters, self.config)
        binding = self.ndis.open_adapter_ex(self, interface, bind_context)
        interface.binding = binding
        query = NdisOidRequest.query(Oid.OID_802_3_CURRENT_ADDRESS, 6)
        if self.ndis.oid_request(binding, query) == NdisStatus.SUCCESS:
            interface.mac = bytes(query.information_buffer)
        wanted = PacketType.DIRECTED | PacketType.BROADCAST | PacketType.MULTICAST
        status = self.ndis.oid_request(binding, NdisOidRequest.set(Oid.OID_GEN_CURRENT_PACKET_FILTER,
                                                                   int(wanted).to_bytes(4, "little")))
        if status != NdisStatus.SUCCESS:
            log.warning("tcpip: %s refused packet filter %s: %s", interface.name, wanted, status.name)
        # Every IPv4 host is in the all-hosts group (RFC 1112), and an IPv6 router in all-nodes,
        # all-routers and each address's solicited-node group: the adapter must pass their frames.
        groups = b"".join([ALL_HOSTS_MAC, *self.ipv6.multicast_macs(interface.mac)])
        status = self.ndis.oid_request(binding, NdisOidRequest.set(Oid.OID_802_3_MULTICAST_LIST, groups))
        if status != NdisStatus.SUCCESS:
            log.warning("tcpip: %s refused multicast list: %s", interface.name, status.name)
        self.interfaces.append(interface)
        self.counters["bindings"] += 1
        return NdisStatus.SUCCESS

    def unbind_adapter_ex(self, binding_context: Interface) -> NdisStatus:
        """Models ProtocolUnbindAdapterEx."""
        assert binding_context.binding is not None
        self.ndis.close_adapter_ex(binding_context.binding)
        self.interfaces.remove(binding_context)
        return NdisStatus.SUCCESS

    def status_ex(self, binding_context: Interface, indication: StatusIndication) -> None:
        """Models ProtocolStatusEx: a media disconnect forgets the neighbours, as tcpip.sys does."""
        if indication.status_code != NdisStatus.LINK_STATE:
            return
        up = indication.payload == MediaConnectState.CONNECTED
        binding_context.link_up = up
        self.counters["link.up" if up else "link.down"] += 1
        if not up:
            binding_context.arp_cache.flush()

    def oid_request_complete(self, binding_context: Interface, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models ProtocolOidRequestComplete; the bind-time requests never pend, so only count it."""
        self.counters["oid.completed_late"] += 1

    # Receive --------------------------------------------------------------

    def receive_net_buffer_lists(self, binding_context: Interface, nbls: NetBufferList, port: int,
                                 count: int, flags: int) -> None:
        """Models ProtocolReceiveNetBufferLists: handle every frame, send the replies, return the NBLs."""
        interface = binding_context
        for nbl in iterate(nbls):
            for nb in nbl.net_buffers():
                self._receive_frame(interface, nb.data())
        if not flags & ReceiveFlags.RESOURCES:
            assert interface.binding is not None
            self.ndis.return_net_buffer_lists(interface.binding, nbls, 0)
        if interface.outbound:
            self._flush(interface)

    def drop(self, reason: str) -> None:
        """Count a frame dropped for ``reason`` (``<layer>.<why>``)."""
        self.drops[reason] += 1

    def _receive_frame(self, interface: Interface, frame: memoryview) -> None:
        try:
            ethernet, payload = decode_ethernet(frame)
        except DecodeError as error:
            self.drop(f"{error.layer}.{error.reason}")
            return
        if ethernet.ethertype == ETHERTYPE_ARP:
            self._receive_arp(interface, ethernet, payload)
        elif ethernet.ethertype == ETHERTYPE_IPV4:
            self._receive_ipv4(interface, ethernet, payload)
        elif ethernet.ethertype == ETHERTYPE_IPV6:
            self.ipv6.receive(interface, ethernet, payload)
        else:
            self.drop("ethernet.unsupported_ethertype")

    def _receive_arp(self, interface: Interface, ethernet: EthernetHeader, payload: memoryview) -> None:
        try:
            arp = decode_arp(payload)
        except DecodeError as error:
            self.drop(f"{error.layer}.{error.reason}")
            return
        if arp.htype != ARP_HTYPE_ETHERNET or arp.ptype != ETHERTYPE_IPV4 or arp.hlen != 6 or arp.plen != 4:
            self.drop("arp.unsupported_address_types")
            return
        cache = interface.arp_cache
        now = self.now
        if arp.spa in self.addresses:
            # Someone else claims one of our addresses (a gratuitous ARP or a reply).
            self.counters["arp.address_conflict"] += 1
            log.warning("tcpip: %s: %s claims our address %s", interface.name,
                        arp.sha.hex(":"), ipaddress.IPv4Address(arp.spa))
            return
        # RFC 826: refresh a sender we already know, whoever the packet is for.
        sender_known = arp.spa != _IPV4_ANY and arp.spa in cache
        if sender_known:
            cache.update(arp.spa, arp.sha, now)
        if arp.tpa not in self.addresses:
            self.drop("arp.target_not_ours")
            return
        if arp.spa != _IPV4_ANY and not sender_known:
            cache.update(arp.spa, arp.sha, now)
        if arp.spa in interface.pending:
            for packet in interface.pending.resolved(arp.spa):
                self.transmit(interface, arp.sha, ETHERTYPE_IPV4, packet)
            self.counters["arp.queue_flushed"] += 1
        if arp.oper == ARP_REQUEST:
            reply = arp_ipv4(ARP_REPLY, interface.mac, arp.tpa, arp.sha, arp.spa)
            self.transmit(interface, ethernet.src, ETHERTYPE_ARP, encode_arp(reply))
            self.counters["arp.requests_answered"] += 1
        elif arp.oper == ARP_REPLY:
            self.counters["arp.replies_learned"] += 1
        else:
            self.drop("arp.unknown_operation")

    def _receive_ipv4(self, interface: Interface, ethernet: EthernetHeader, payload: memoryview) -> None:
        try:
            ip, data = decode_ipv4(payload)
        except DecodeError as error:
            self.drop(f"{error.layer}.{error.reason}")
            return
        if ip.dst not in self.addresses:
            self.drop("ipv4.broadcast_ignored" if ip.dst in self.broadcasts else "ipv4.not_for_us")
            return
        packet = bytes(payload[:ip.total_length])
        if ip.flags & IPV4_FLAG_MF or ip.fragment_offset:
            key = (ip.src, ip.dst, ip.protocol, ip.identification)
            whole = interface.reassembler.add(key, ip.fragment_offset * 8, bool(ip.flags & IPV4_FLAG_MF),
                                              bytes(data), packet[:ip.header_len], self.now)
            if whole is None:
                return
            data = memoryview(whole)
            self.counters["ipv4.reassembled"] += 1
        if ip.protocol == IPPROTO_UDP:
            self._receive_udp(interface, ethernet, ip, data, packet)
            return
        if ip.protocol != IPPROTO_ICMP:
            self.drop("ipv4.unsupported_protocol")
            if may_answer_with_error(True, ip.src, ip.protocol, True, data):
                self._send_error(interface, ethernet.src, ICMP_DEST_UNREACH, _PROTOCOL_UNREACHABLE, ip.src, packet)
            return
        try:
            icmp = decode_icmpv4(data)
        except DecodeError as error:
            self.drop(f"{error.layer}.{error.reason}")
            return
        if icmp.type != ICMP_ECHO_REQUEST:
            self.drop("icmpv4.unsupported_type")
            return
        self._send_ipv4(interface, ethernet.src, ip.src, IPPROTO_ICMP, echo_reply_for(icmp), tos=ip.tos, src=ip.dst)
        self.counters["icmpv4.echo_replied"] += 1

    def _receive_udp(self, interface: Interface, ethernet: EthernetHeader, ip: IPv4Header, data: memoryview,
                     packet: bytes) -> None:
        try:
            decode_udp(data, ipv4_pseudo_sum(ip.src, ip.dst, IPPROTO_UDP))
        except DecodeError as error:
            self.drop(f"{error.layer}.{error.reason}")
            return
        # No UDP endpoint is open yet, so every port is closed: RFC 1122 4.1.3.1 says port unreachable.
        self.drop("udp.port_closed")
        if may_answer_with_error(True, ip.src, ip.protocol, True, data):
            self._send_error(interface, ethernet.src, ICMP_DEST_UNREACH, _PORT_UNREACHABLE, ip.src, packet)

    def _send_error(self, interface: Interface, frame_src: bytes | None, icmp_type: int, code: int, dst: bytes,
                    original: bytes) -> None:
        if not self.error_bucket.take(self.now):
            self.counters["icmpv4.errors_rate_limited"] += 1
            return
        self._send_ipv4(interface, frame_src, dst, IPPROTO_ICMP, error_message(icmp_type, code, original))
        self.counters[f"icmpv4.error_sent.{icmp_type}.{code}"] += 1

    def _send_ipv4(self, interface: Interface, frame_src: bytes | None, dst: bytes, protocol: int, payload: bytes,
                   *, tos: int = 0, src: bytes | None = None) -> None:
        """Send an IPv4 datagram to a neighbour on ``interface``, fragmented to its MTU.

        The neighbour's MAC comes from the ARP cache, else from the frame that
        prompted this (``frame_src``). With neither, the packets wait while an
        ARP request asks for it.
        """
        next_hop = interface.arp_cache.lookup(dst, self.now) or frame_src
        self._ip_identification = (self._ip_identification + 1) & 0xFFFF
        header = IPv4Header(tos=tos, total_length=0, identification=self._ip_identification, flags=0,
                            fragment_offset=0, ttl=_DEFAULT_TTL, protocol=protocol, checksum=0,
                            src=src or self.primary_address, dst=dst)
        packets = fragment(header, payload, interface.mtu)
        if len(packets) > 1:
            self.counters["ipv4.fragmented"] += 1
        if next_hop is None:
            for packet in packets:
                if interface.pending.queue(dst, packet, self.now):
                    self._arp_request(interface, dst)
            return
        for packet in packets:
            self.transmit(interface, next_hop, ETHERTYPE_IPV4, packet)

    def _arp_request(self, interface: Interface, target: bytes) -> None:
        request = arp_ipv4(ARP_REQUEST, interface.mac, self.primary_address, bytes(6), target)
        self.transmit(interface, BROADCAST_MAC, ETHERTYPE_ARP, encode_arp(request))
        self.counters["arp.requests_sent"] += 1

    # Timers -------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time any interface has something to do: an ARP retry, a reassembly timeout."""
        deadlines = [d for i in self.interfaces for d in (i.pending.next_deadline(), i.reassembler.next_deadline())
                     if d is not None]
        return min(deadlines, default=None)

    def handle_timers(self, now: float) -> None:
        """Do what is due at ``now``: ask again for unresolved neighbours, give up on some, expire reassemblies."""
        self.now = now
        for interface in self.interfaces:
            again, given_up = interface.pending.retries(now)
            for target in again:
                self._arp_request(interface, target)
            self.counters["arp.gave_up"] += len(given_up)
            for expired in interface.reassembler.expire(now):
                self._send_error(interface, None, ICMP_TIME_EXCEEDED, 1, expired.src,
                                 expired.first_header + expired.first_payload)
            if interface.outbound:
                self._flush(interface)

    # Send -------------------------------------------------------------------

    def transmit(self, interface: Interface, dst_mac: bytes, ethertype: int, payload: bytes) -> None:
        """Queue an Ethernet frame for ``interface``; it goes down with the others of this indication."""
        header = EthernetHeader(dst=bytes(dst_mac), src=interface.mac, ethertype=ethertype)
        interface.outbound.append(encode_ethernet(header, payload))

    def _flush(self, interface: Interface) -> None:
        frames, interface.outbound = interface.outbound, []
        head = chain([NetBufferList.from_frame(frame) for frame in frames])
        assert interface.binding is not None and head is not None
        self.ndis.send_net_buffer_lists(interface.binding, head, 0, 0)

    def send_net_buffer_lists_complete(self, binding_context: Interface, nbls: NetBufferList, flags: int) -> None:
        """Models ProtocolSendNetBufferListsComplete: count what the miniport could not send."""
        for nbl in iterate(nbls):
            if nbl.status == NdisStatus.SUCCESS:
                self.counters["send.completed"] += 1
            else:
                self.counters[f"send.failed.{nbl.status.name.lower()}"] += 1

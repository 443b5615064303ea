"""IPv6 through the whole host: NDP as a router, echo, closed UDP ports, MLD."""

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6NDOptDstLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether

GATEWAY_MAC = "52:55:0a:00:02:02"
GATEWAY_LL = "fe80::5055:aff:fe00:202"
GUEST_MAC = "52:54:00:12:34:56"
GUEST_LL = "fe80::5054:ff:fe12:3456"


@pytest.fixture
def adapter(host):
    return host.add_adapter(0.0)


def exchange(host, adapter, packet, dst_mac=GATEWAY_MAC):
    out = host.receive(adapter, [bytes(Ether(dst=dst_mac, src=GUEST_MAC) / packet)], 1.0)
    return [Ether(frame) for frame in out.get(adapter, [])]


def test_ndp__a_router_solicitation_gets_an_advertisement_with_the_slaac_prefix(host, adapter):
    (reply,) = exchange(host, adapter, IPv6(src=GUEST_LL, dst="ff02::2", hlim=255) / ICMPv6ND_RS()
                        / ICMPv6NDOptSrcLLAddr(lladdr=GUEST_MAC), dst_mac="33:33:00:00:00:02")
    assert (reply.src, reply.dst) == (GATEWAY_MAC, GUEST_MAC)
    assert (reply[IPv6].src, reply[IPv6].dst, reply[IPv6].hlim) == (GATEWAY_LL, GUEST_LL, 255)
    ra = reply[ICMPv6ND_RA]
    assert ra.routerlifetime == 1800
    prefix = reply[ICMPv6NDOptPrefixInfo]
    assert (prefix.prefix, prefix.prefixlen, prefix.L, prefix.A) == ("fd00::", 64, 1, 1)
    assert reply[ICMPv6NDOptSrcLLAddr].lladdr == GATEWAY_MAC and reply[ICMPv6NDOptMTU].mtu == 1500
    rebuilt = Ether(bytes(reply))
    del rebuilt[ICMPv6ND_RA].cksum
    assert bytes(rebuilt) == bytes(reply)  # scapy computes the same checksum


def test_ndp__a_solicitation_for_the_gateway_gets_a_solicited_router_advertisement(host, adapter):
    (reply,) = exchange(host, adapter, IPv6(src="fd00::15", dst="ff02::1:ff00:2", hlim=255)
                        / ICMPv6ND_NS(tgt="fd00::2") / ICMPv6NDOptSrcLLAddr(lladdr=GUEST_MAC),
                        dst_mac="33:33:ff:00:00:02")
    na = reply[ICMPv6ND_NA]
    assert (na.tgt, na.R, na.S, na.O) == ("fd00::2", 1, 1, 1)
    assert reply[ICMPv6NDOptDstLLAddr].lladdr == GATEWAY_MAC
    assert reply[IPv6].dst == "fd00::15"


def test_ndp__duplicate_address_detection_for_our_address_is_defended_to_all_nodes(host, adapter):
    (reply,) = exchange(host, adapter, IPv6(src="::", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fd00::2"),
                        dst_mac="33:33:ff:00:00:02")
    assert (reply.dst, reply[IPv6].dst, reply[ICMPv6ND_NA].S) == ("33:33:00:00:00:01", "ff02::1", 0)
    assert host.tcpip.counters["ndp.duplicate_address_defended"] == 1


def test_ndp__a_solicitation_not_from_the_link_is_dropped(host, adapter):
    assert exchange(host, adapter, IPv6(src="fd00::15", dst="fd00::2", hlim=64) / ICMPv6ND_NS(tgt="fd00::2")) == []
    assert host.tcpip.drops == {"ndp.not_from_the_link": 1}


def test_ndp__a_guests_own_duplicate_address_detection_goes_unanswered(host, adapter):
    assert exchange(host, adapter, IPv6(src="::", dst="ff02::1:ff00:15", hlim=255) / ICMPv6ND_NS(tgt="fd00::15"),
                    dst_mac="33:33:ff:00:00:15") == []


@pytest.mark.parametrize("dst", ["fd00::2", GATEWAY_LL, "ff02::1"])
def test_icmpv6__echo_to_any_of_our_addresses_or_all_nodes_is_answered(host, adapter, dst):
    dst_mac = "33:33:00:00:00:01" if dst == "ff02::1" else GATEWAY_MAC
    (reply,) = exchange(host, adapter, IPv6(src="fd00::15", dst=dst) / ICMPv6EchoRequest(id=7, seq=3, data=b"v6!"),
                        dst_mac=dst_mac)
    echo = reply[ICMPv6EchoReply]
    assert (echo.id, echo.seq, echo.data, reply[IPv6].dst) == (7, 3, b"v6!", "fd00::15")
    assert reply[IPv6].src == (GATEWAY_LL if dst == "ff02::1" else dst)


def test_icmpv6__a_bad_checksum_is_dropped(host, adapter):
    frame = bytearray(bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / IPv6(src="fd00::15", dst="fd00::2")
                            / ICMPv6EchoRequest(id=1, seq=1)))
    frame[-1] ^= 0xFF
    assert host.receive(adapter, [bytes(frame)], 1.0) == {}
    assert host.tcpip.drops == {"icmpv6.bad_checksum": 1}


def test_udp6__a_closed_port_gets_port_unreachable(host, adapter):
    packet = IPv6(src="fd00::15", dst="fd00::2") / UDP(sport=5000, dport=9) / b"hi"
    (reply,) = exchange(host, adapter, packet)
    error = reply[ICMPv6DestUnreach]
    assert error.code == 4 and bytes(error.payload) == bytes(packet)


def test_mld__reports_are_accepted_silently(host, adapter):
    assert exchange(host, adapter, IPv6(src=GUEST_LL, dst="ff02::16", hlim=1) / ICMPv6MLReport2(),
                    dst_mac="33:33:00:00:00:16") == []
    assert host.tcpip.drops == {} and host.tcpip.counters["icmpv6.mld_accepted"] == 1


def test_ipv6__a_packet_for_another_host_is_dropped(host, adapter):
    assert exchange(host, adapter, IPv6(src="fd00::15", dst="fd00::99") / ICMPv6EchoRequest()) == []
    assert host.tcpip.drops == {"ipv6.not_for_us": 1}

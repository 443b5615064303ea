"""The tcpip protocol driven through the whole host (miniport, NDIS, tcpip) on an in-memory wire."""

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from nicemu.miniport.adapter import DEFAULT_MAC

GATEWAY_MAC = DEFAULT_MAC.hex(":")
GUEST_MAC = "52:54:00:12:34:56"


def arp_who_has(pdst="10.0.2.2", psrc="10.0.2.15", dst="ff:ff:ff:ff:ff:ff"):
    return bytes(Ether(dst=dst, src=GUEST_MAC) / ARP(op=1, hwsrc=GUEST_MAC, psrc=psrc, pdst=pdst))


def ping(dst="10.0.2.2", seq=1, payload=b"nicemu-ping-payload", eth_dst=GATEWAY_MAC):
    return bytes(Ether(dst=eth_dst, src=GUEST_MAC) / IP(src="10.0.2.15", dst=dst, id=7)
                 / ICMP(type=8, id=0x1234, seq=seq) / payload)


@pytest.fixture
def adapter(host):
    return host.add_adapter(0.0)


def exchange(host, adapter, frames, now):
    """What the guest on ``adapter`` gets back for ``frames`` (nothing else is attached)."""
    out = host.receive(adapter, frames, now)
    assert set(out) <= {adapter}
    return out.get(adapter, [])


def test_arp__request_for_the_gateway_gets_the_exact_reply(host, adapter):
    (reply,) = exchange(host, adapter, [arp_who_has()], 1.0)
    expected = bytes(Ether(dst=GUEST_MAC, src=GATEWAY_MAC) / ARP(
        op=2, hwsrc=GATEWAY_MAC, psrc="10.0.2.2", hwdst=GUEST_MAC, pdst="10.0.2.15"))
    assert reply == expected + bytes(60 - len(expected))
    assert host.tcpip.counters["arp.requests_answered"] == 1
    assert host.tcpip.interfaces[0].arp_cache.snapshot(1.0) == {"10.0.2.15": GUEST_MAC}


def test_arp__request_for_the_dns_address_is_answered_too(host, adapter):
    (reply,) = exchange(host, adapter, [arp_who_has(pdst="10.0.2.3")], 1.0)
    assert Ether(reply)[ARP].psrc == "10.0.2.3"


def test_arp__request_for_another_host_is_dropped_with_a_reason(host, adapter):
    assert exchange(host, adapter, [arp_who_has(pdst="10.0.2.99")], 1.0) == []
    assert host.tcpip.drops == {"arp.target_not_ours": 1}
    assert len(host.tcpip.interfaces[0].arp_cache) == 0


def test_arp__probe_from_zero_address_is_answered_without_learning(host, adapter):
    (reply,) = exchange(host, adapter, [arp_who_has(psrc="0.0.0.0")], 1.0)
    assert Ether(reply)[ARP].pdst == "0.0.0.0"
    assert len(host.tcpip.interfaces[0].arp_cache) == 0


def test_arp__someone_claiming_our_address_is_a_counted_conflict(host, adapter):
    gratuitous = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=GUEST_MAC) / ARP(
        op=1, hwsrc=GUEST_MAC, psrc="10.0.2.2", pdst="10.0.2.2"))
    assert exchange(host, adapter, [gratuitous], 1.0) == []
    assert host.tcpip.counters["arp.address_conflict"] == 1


def test_arp__cache_entries_age_out(host, adapter):
    exchange(host, adapter, [arp_who_has()], 1.0)
    cache = host.tcpip.interfaces[0].arp_cache
    assert cache.lookup(bytes([10, 0, 2, 15]), 60.0) == bytes.fromhex("525400123456")
    assert cache.lookup(bytes([10, 0, 2, 15]), 61.0) is None


def test_icmp__echo_request_gets_an_echo_reply_with_the_same_id_seq_and_payload(host, adapter):
    exchange(host, adapter, [arp_who_has()], 1.0)
    (reply,) = exchange(host, adapter, [ping(seq=5)], 2.0)
    packet = Ether(reply)
    assert (packet.src, packet.dst) == (GATEWAY_MAC, GUEST_MAC)
    assert (packet[IP].src, packet[IP].dst, packet[IP].ttl) == ("10.0.2.2", "10.0.2.15", 64)
    assert (packet[ICMP].type, packet[ICMP].id, packet[ICMP].seq) == (0, 0x1234, 5)
    assert bytes(packet[ICMP].payload) == b"nicemu-ping-payload"
    # scapy recomputes both checksums; ours must already be what it computes.
    rebuilt = Ether(reply)
    del rebuilt[IP].chksum, rebuilt[ICMP].chksum
    assert bytes(rebuilt) == reply
    assert host.tcpip.counters["icmpv4.echo_replied"] == 1
    assert host.tcpip.counters["send.completed"] == 2


def test_icmp__echo_reply_goes_to_the_frame_source_when_arp_has_not_resolved_it(host, adapter):
    (reply,) = exchange(host, adapter, [ping()], 1.0)
    assert Ether(reply).dst == GUEST_MAC


def test_icmp__many_pings_in_one_read_get_replies_in_order(host, adapter):
    replies = exchange(host, adapter, [ping(seq=n) for n in range(10)], 1.0)
    assert [Ether(r)[ICMP].seq for r in replies] == list(range(10))


@pytest.mark.parametrize("frame, reason", [
    (bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC, type=0x88B5) / bytes(46)), "ethernet.unsupported_ethertype"),
    (bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / IP(src="10.0.2.15", dst="10.0.2.77") / ICMP()),
     "ipv4.not_for_us"),
    (bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=GUEST_MAC) / IP(src="10.0.2.15", dst="255.255.255.255") / ICMP()),
     "ipv4.broadcast_ignored"),
    (bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / IP(src="10.0.2.15", dst="10.0.2.2") / ICMP(type=13)),
     "icmpv4.unsupported_type"),
])
def test_receive__unhandled_frames_are_dropped_with_a_counted_reason(host, adapter, frame, reason):
    assert exchange(host, adapter, [frame], 1.0) == []
    assert host.tcpip.drops == {reason: 1}


def test_receive__bad_ipv4_checksum_is_dropped_as_such(host, adapter):
    frame = bytearray(ping())
    frame[24] ^= 0xFF
    assert exchange(host, adapter, [bytes(frame)], 1.0) == []
    assert host.tcpip.drops == {"ipv4.bad_checksum": 1}


def test_receive__bad_icmp_checksum_is_dropped_as_such(host, adapter):
    frame = bytearray(ping())
    frame[-1] ^= 0xFF
    assert exchange(host, adapter, [bytes(frame)], 1.0) == []
    assert host.tcpip.drops == {"icmpv4.bad_checksum": 1}


def test_receive__truncated_ipv4_is_dropped_and_the_next_frame_still_answered(host, adapter):
    truncated = ping()[:14 + 12]
    replies = exchange(host, adapter, [truncated, ping(seq=2)], 1.0)
    assert [Ether(r)[ICMP].seq for r in replies] == [2]
    assert host.tcpip.drops == {"ipv4.truncated": 1}


def test_receive__random_garbage_never_raises(host, adapter):
    import random

    rng = random.Random(2)
    for _ in range(3000):
        head = GATEWAY_MAC if rng.random() < 0.5 else "ff:ff:ff:ff:ff:ff"
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
        ethertype = rng.choice([b"\x08\x00", b"\x08\x06", b"\x81\x00", body[:2]])
        exchange(host, adapter, [bytes.fromhex(head.replace(":", "")) + bytes(6) + ethertype + body], 1.0)
    assert sum(host.tcpip.drops.values()) > 0


def test_link_down__of_the_host_vnic_flushes_the_arp_cache(host, adapter):
    exchange(host, adapter, [arp_who_has()], 1.0)
    host.set_link(host.vnics[0], False, 2.0)
    assert len(host.tcpip.interfaces[0].arp_cache) == 0
    assert host.tcpip.counters["link.down"] == 1


def test_bind__sets_the_packet_filter_through_an_oid(host, adapter):
    from nicemu.ndis.oid import PacketType

    assert host.vnics[0].packet_filter == PacketType.DIRECTED | PacketType.BROADCAST | PacketType.MULTICAST
    assert adapter.packet_filter == PacketType.PROMISCUOUS
    assert [b["protocol"] for b in host.query_bindings()] == ["tcpip", "vswitch"]


def test_remove_adapter__keeps_its_statistics_in_the_report(host, adapter):
    exchange(host, adapter, [arp_who_has()], 1.0)
    host.remove_adapter(adapter, 2.0)
    report = host.report()
    assert report["miniport"]["rcv_broadcast_frames"] == 1
    assert report["ndis"]["miniports_halted"] == 1
    assert len(host.tcpip.interfaces) == 1 and host.vswitch.segments[0].ports == {}


def test_bind__joins_ipv4_all_hosts_and_the_ipv6_router_groups_through_the_multicast_list_oid(host, adapter):
    assert [mac.hex(":") for mac in host.vnics[0].multicast_list] == [
        "01:00:5e:00:00:01",  # 224.0.0.1
        "33:33:00:00:00:01", "33:33:00:00:00:02", "33:33:00:00:00:16",  # ff02::1, ff02::2, ff02::16
        "33:33:ff:00:00:02", "33:33:ff:00:00:03",  # solicited-node of fd00::2, fd00::3
        "33:33:ff:00:02:02",  # solicited-node of fe80::5055:aff:fe00:202
    ]


def test_ipv4__an_unknown_protocol_gets_protocol_unreachable_quoting_the_datagram(host, adapter):
    datagram = IP(src="10.0.2.15", dst="10.0.2.2", id=9, proto=99) / b"hello"
    (reply,) = exchange(host, adapter, [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / datagram)], 1.0)
    icmp = Ether(reply)[ICMP]
    assert (icmp.type, icmp.code) == (3, 2)
    assert bytes(icmp.payload) == bytes(datagram)
    assert host.tcpip.drops["ipv4.unsupported_protocol"] == 1


def test_udp__a_datagram_to_a_closed_port_gets_port_unreachable_quoting_it(host, adapter):
    datagram = IP(src="10.0.2.15", dst="10.0.2.2", id=9) / UDP(sport=5000, dport=7) / b"hello"
    (reply,) = exchange(host, adapter, [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / datagram)], 1.0)
    icmp = Ether(reply)[ICMP]
    assert (icmp.type, icmp.code) == (3, 3)
    assert bytes(icmp.payload) == bytes(datagram)
    assert host.tcpip.drops["udp.port_closed"] == 1


def test_udp__a_bad_checksum_is_dropped_without_an_answer(host, adapter):
    frame = bytearray(bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / IP(src="10.0.2.15", dst="10.0.2.2")
                            / UDP(sport=5000, dport=7) / b"hello"))
    frame[-1] ^= 0xFF
    assert exchange(host, adapter, [bytes(frame)], 1.0) == []
    assert host.tcpip.drops == {"udp.bad_checksum": 1}


def test_ipv4__icmp_errors_are_rate_limited(host, adapter):
    udp = bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / IP(src="10.0.2.15", dst="10.0.2.2") / UDP(dport=7))
    replies = exchange(host, adapter, [udp] * 60, 1.0)
    assert len(replies) == 50
    assert host.tcpip.counters["icmpv4.errors_rate_limited"] == 10
    assert len(exchange(host, adapter, [udp], 1.5)) == 1  # 50 tokens a second come back


def test_ipv4__a_4000_byte_ping_is_reassembled_and_answered_in_fragments(host, adapter):
    from scapy.layers.inet import defragment, fragment

    request = IP(src="10.0.2.15", dst="10.0.2.2", id=77) / ICMP(type=8, id=3, seq=1) / (bytes(range(256)) * 16)[:3972]
    frames = [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / piece) for piece in fragment(request, fragsize=1480)]
    replies = exchange(host, adapter, frames, 1.0)
    assert len(replies) == 3 and all(len(r) <= 1514 for r in replies)
    (whole,) = defragment([Ether(r)[IP] for r in replies])
    reply = IP(bytes(whole))
    assert (reply[ICMP].type, reply[ICMP].id, reply[ICMP].seq) == (0, 3, 1)
    assert bytes(reply[ICMP].payload) == bytes(request[ICMP].payload)
    assert host.tcpip.counters["ipv4.reassembled"] == 1 and host.tcpip.counters["ipv4.fragmented"] == 1


def test_ipv4__fragments_arriving_out_of_order_are_reassembled(host, adapter):
    from scapy.layers.inet import fragment

    request = IP(src="10.0.2.15", dst="10.0.2.2", id=78) / ICMP(type=8, id=4, seq=2) / bytes(3000)
    pieces = [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / p) for p in fragment(request, fragsize=1000)]
    replies = exchange(host, adapter, list(reversed(pieces)), 1.0)
    assert len(replies) == 3
    assert host.tcpip.counters["icmpv4.echo_replied"] == 1


def test_ipv4__overlapping_fragments_drop_the_whole_datagram(host, adapter):
    first = IP(src="10.0.2.15", dst="10.0.2.2", id=5, flags="MF", frag=0, proto=1) / bytes(16)
    overlapping = IP(src="10.0.2.15", dst="10.0.2.2", id=5, flags=0, frag=1, proto=1) / bytes(16)
    frames = [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / p) for p in (first, overlapping)]
    assert exchange(host, adapter, frames, 1.0) == []
    assert host.tcpip.interfaces[0].reassembler.counters["drop.overlap"] == 1


def test_arp__a_packet_to_an_unresolved_neighbour_waits_for_arp_and_goes_when_it_answers(host, adapter):
    first_fragment = IP(src="10.0.2.15", dst="10.0.2.2", id=6, flags="MF", proto=17) / bytes(16)
    exchange(host, adapter, [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / first_fragment)], 1.0)
    assert host.next_deadline() == 31.0
    (request,) = host.handle_timers(31.0)[adapter]
    arp = Ether(request)[ARP]
    assert (Ether(request).dst, arp.op, arp.pdst, arp.psrc) == ("ff:ff:ff:ff:ff:ff", 1, "10.0.2.15", "10.0.2.2")
    answer = bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / ARP(op=2, hwsrc=GUEST_MAC, psrc="10.0.2.15",
                                                              hwdst=GATEWAY_MAC, pdst="10.0.2.2"))
    (error,) = exchange(host, adapter, [answer], 31.5)
    icmp = Ether(error)[ICMP]
    assert (Ether(error).dst, icmp.type, icmp.code) == (GUEST_MAC, 11, 1)
    assert host.tcpip.counters["arp.queue_flushed"] == 1


def test_arp__an_unanswered_neighbour_is_asked_three_times_then_given_up(host, adapter):
    first_fragment = IP(src="10.0.2.15", dst="10.0.2.2", id=6, flags="MF", proto=17) / bytes(16)
    exchange(host, adapter, [bytes(Ether(dst=GATEWAY_MAC, src=GUEST_MAC) / first_fragment)], 1.0)
    asked = [len(host.handle_timers(t).get(adapter, [])) for t in (31.0, 32.0, 33.0, 34.0)]
    assert asked == [1, 1, 1, 0]
    assert host.tcpip.counters["arp.gave_up"] == 1 and host.next_deadline() is None

"""Many guests on one network: the virtual switch joining port adapters and the host, driven through Host."""

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from nicemu.host import Host, HostConfig
from nicemu.protocols.mac_table import MacTable

GATEWAY = "52:55:0a:00:02:02"
A, B, C = "52:54:00:00:00:0a", "52:54:00:00:00:0b", "52:54:00:00:00:0c"


def frame(dst, src, payload=b"x" * 46):
    return bytes(Ether(dst=dst, src=src, type=0x88B5) / payload)


def ping(src_mac, src_ip, dst_mac, dst_ip, seq=1):
    return bytes(Ether(dst=dst_mac, src=src_mac) / IP(src=src_ip, dst=dst_ip) / ICMP(type=8, id=1, seq=seq))


@pytest.fixture
def ports(host):
    return host.add_adapter(0.0), host.add_adapter(0.0), host.add_adapter(0.0)


def test_switch__broadcast_floods_to_every_other_port_and_the_host(host, ports):
    a, b, c = ports
    arp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=A) / ARP(op=1, hwsrc=A, psrc="10.0.2.15", pdst="10.0.2.2"))
    out = host.receive(a, [arp], 1.0)
    padded = arp + bytes(60 - len(arp))
    assert out[b] == [padded] and out[c] == [padded]
    (reply,) = out[a]
    assert Ether(reply)[ARP].op == 2 and Ether(reply).src == GATEWAY
    assert host.vswitch.query()[0]["mac_table"] == {A: "nicemu0", GATEWAY: "host"}


def test_switch__known_unicast_goes_to_its_one_port_only(host, ports):
    a, b, c = ports
    host.receive(b, [frame("ff:ff:ff:ff:ff:ff", B)], 1.0)
    out = host.receive(a, [frame(B, A)], 2.0)
    assert list(out) == [b] and out[b] == [frame(B, A)]


def test_switch__unknown_unicast_is_flooded_and_counted(host, ports):
    a, b, c = ports
    out = host.receive(a, [frame(C, A)], 1.0)
    assert set(out) == {b, c}
    assert host.vswitch.report()["unknown_unicast_flooded"] == 1


def test_switch__never_sends_a_frame_back_out_of_its_ingress_port(host, ports):
    a, b, c = ports
    host.receive(a, [frame("ff:ff:ff:ff:ff:ff", A)], 1.0)
    out = host.receive(a, [frame(A, B)], 2.0)
    assert out == {}
    assert host.vswitch.report()["drop.same_port"] == 1


def test_switch__a_mac_moving_to_another_port_is_followed(host, ports):
    a, b, c = ports
    host.receive(a, [frame("ff:ff:ff:ff:ff:ff", C)], 1.0)
    host.receive(b, [frame("ff:ff:ff:ff:ff:ff", C)], 2.0)
    out = host.receive(a, [frame(C, A)], 3.0)
    assert list(out) == [b]
    assert host.vswitch.report()["mac.moves"] == 1


def test_switch__learned_macs_age_out_and_are_flooded_again(host, ports):
    a, b, c = ports
    host.receive(b, [frame("ff:ff:ff:ff:ff:ff", B)], 1.0)
    assert list(host.receive(a, [frame(B, A)], 300.0)) == [b]
    assert set(host.receive(a, [frame(B, A)], 301.0)) == {b, c}
    assert host.vswitch.report()["mac.aged_out"] == 1


def test_switch__guests_ping_each_other_through_it(host, ports):
    a, b, c = ports
    host.receive(b, [frame("ff:ff:ff:ff:ff:ff", B)], 1.0)
    out = host.receive(a, [ping(A, "10.0.2.15", B, "10.0.2.16")], 2.0)
    assert list(out) == [b] and Ether(out[b][0])[IP].dst == "10.0.2.16"
    assert host.vswitch.query()[0]["ports"]["host"]["tx_frames"] == 1  # only B's broadcast reached the host


def test_switch__a_port_whose_link_is_down_gets_nothing(host, ports):
    a, b, c = ports
    host.set_link(b, False, 1.0)
    out = host.receive(a, [frame("ff:ff:ff:ff:ff:ff", A)], 2.0)
    assert set(out) == {c}


def test_switch__a_removed_port_is_forgotten_and_the_others_go_on(host, ports):
    a, b, c = ports
    host.receive(b, [frame("ff:ff:ff:ff:ff:ff", B)], 1.0)
    host.remove_adapter(b, 2.0)
    out = host.receive(a, [frame(B, A)], 3.0)
    assert set(out) == {c}
    assert B not in host.vswitch.query()[0]["mac_table"]


def test_switch__per_port_counters_say_what_each_port_carried(host, ports):
    a, b, c = ports
    host.receive(a, [frame("ff:ff:ff:ff:ff:ff", A), frame("ff:ff:ff:ff:ff:ff", A)], 1.0)
    counters = host.vswitch.query()[0]["ports"]
    assert counters["nicemu0"]["rx_frames"] == 2 and counters["nicemu0"]["flooded"] == 2
    assert counters["nicemu1"]["tx_frames"] == 2 and counters["nicemu2"]["tx_frames"] == 2
    assert counters["host"]["tx_frames"] == 2


def test_isolated_segments__guests_do_not_see_each_other_but_each_reaches_the_host():
    host = Host(HostConfig(isolated=True), verifier=True)
    a, b = host.add_adapter(0.0), host.add_adapter(0.0)
    arp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=A) / ARP(op=1, hwsrc=A, psrc="10.0.2.15", pdst="10.0.2.2"))
    out = host.receive(a, [arp], 1.0)
    assert list(out) == [a]
    assert len(host.vnics) == 2 and len(host.tcpip.interfaces) == 2
    host.remove_adapter(a, 2.0)
    assert len(host.vnics) == 1 and len(host.vswitch.segments) == 1
    assert Ether(host.receive(b, [arp], 3.0)[b][0])[ARP].op == 2


def test_mac_table__full_table_evicts_the_entry_nearest_expiry():
    table = MacTable(ageing=10.0, capacity=2)
    table.learn(b"\x02" * 6, "p0", 0.0)
    table.learn(b"\x04" * 6, "p1", 5.0)
    table.learn(b"\x06" * 6, "p2", 6.0)
    assert table.lookup(b"\x02" * 6, 7.0) is None
    assert table.lookup(b"\x04" * 6, 7.0) == "p1" and table.evicted == 1

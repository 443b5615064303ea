"""The namespace's real Linux stack pings nicemu through a tap and QEMU's stream netdev."""

import re


async def test_hoststack__linux_pings_the_gateway_with_no_loss_and_resolves_it_by_arp(hoststack):
    result = await hoststack.run("ping", "-c", "5", "-i", "0.2", "-W", "2", "10.0.2.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 packets transmitted, 5 received, 0% packet loss" in result.stdout
    neighbours = await hoststack.run("ip", "neigh", "show", "10.0.2.2")
    assert "lladdr 52:55:0a:00:02:02" in neighbours.stdout
    assert hoststack.server.report()["tcpip"]["icmpv4.echo_replied"] == 5


async def test_hoststack__two_thousand_back_to_back_pings_all_come_back(hoststack):
    result = await hoststack.run("ping", "-q", "-c", "2000", "-i", "0", "-W", "2", "10.0.2.2")
    assert "2000 packets transmitted, 2000 received, 0% packet loss" in result.stdout, result.stdout
    assert hoststack.server.report()["tcpip"]["icmpv4.echo_replied"] == 2000


async def test_hoststack__large_pings_up_to_the_mtu_are_answered_byte_for_byte(hoststack):
    result = await hoststack.run("ping", "-c", "3", "-s", "1472", "-M", "do", "-p", "a5", "10.0.2.2")
    assert "3 packets transmitted, 3 received, 0% packet loss" in result.stdout, result.stdout
    # iputils checks the payload of each reply against the pattern and says so when it differs.
    assert not re.search(r"wrong data", result.stdout)


async def test_hoststack__a_ping_to_an_address_nobody_has_goes_unanswered_and_is_counted(hoststack):
    result = await hoststack.run("ping", "-c", "1", "-W", "1", "10.0.2.99")
    assert result.returncode != 0
    assert hoststack.server.report()["tcpip"]["drop.arp.target_not_ours"] >= 1


async def test_hoststack__a_4000_byte_ping_is_fragmented_both_ways_and_answered(hoststack):
    result = await hoststack.run("ping", "-c", "3", "-s", "4000", "-p", "5a", "-W", "2", "10.0.2.2")
    assert "3 packets transmitted, 3 received, 0% packet loss" in result.stdout, result.stdout
    assert "4008 bytes from 10.0.2.2" in result.stdout
    tcpip = hoststack.server.report()["tcpip"]
    assert tcpip["ipv4.reassembled"] == 3 and tcpip["ipv4.fragmented"] == 3


async def test_hoststack__linux_udp_to_a_closed_port_is_refused_by_icmp_port_unreachable(hoststack):
    import sys

    probe = ("import socket\n"
             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             "s.connect(('10.0.2.2', 9999)); s.settimeout(3); s.send(b'anyone?')\n"
             "try:\n    s.recv(100)\nexcept ConnectionRefusedError:\n    print('refused')\n")
    result = await hoststack.run(sys.executable, "-c", probe)
    assert result.stdout.strip() == "refused", result.stdout + result.stderr
    assert hoststack.server.report()["tcpip"]["icmpv4.error_sent.3.3"] == 1

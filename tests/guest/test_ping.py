"""A real guest pings nicemu over every QEMU socket netdev, with virtio-net and e1000."""

import asyncio

import pytest

from nicemu.host import Host
from nicemu.qemu.server import NicemuServer
from nicemu.vm.machine import GuestVM
from nicemu.vm.netdev import NETDEV_KINDS, attach
from tests.guest.conftest import assert_all_pings_answered


@pytest.mark.parametrize("nic", ["virtio-net-pci", "e1000"])
@pytest.mark.parametrize("kind", list(NETDEV_KINDS))
async def test_guest__pings_nicemu_with_no_loss(kit, ping_script, tmp_path, nic, kind):
    server = NicemuServer(Host(verifier=True))
    try:
        netdev = await attach(kind, server, tmp_path)
        result = await GuestVM(kit, netdev, nic=nic, script=ping_script, timeout=90).run_script()
    finally:
        await server.close()
    assert_all_pings_answered(result)
    assert result.ready["driver"] == {"virtio-net-pci": "virtio_net", "e1000": "e1000"}[nic]
    assert result.ready["carrier"] == "1"
    report = server.report()
    assert report["tcpip"]["arp.requests_answered"] >= 1
    assert report["tcpip"]["icmpv4.echo_replied"] == 3
    assert report["transport"]["frames_out"] == report["miniport"]["xmit_ok"]
    assert report["ndis"]["sends"] == report["ndis"]["send_completes"]
    assert report["ndis"]["indications"] == report["ndis"]["returns"]


async def test_guest__a_second_guest_is_served_after_the_first_disconnects(kit, ping_script, tmp_path):
    server = NicemuServer(Host(verifier=True))
    try:
        netdev = await attach("stream", server, tmp_path)
        first = await GuestVM(kit, netdev, script=ping_script, timeout=90, name="first").run_script()
        # QEMU has exited; nicemu sees the disconnect when its event loop reads the EOF.
        async with asyncio.timeout(5):
            while any(adapter.connected for adapter in server.host.adapters):
                await asyncio.sleep(0.02)
        second = await GuestVM(kit, netdev, script=ping_script, timeout=90, name="second",
                               mac="52:54:00:12:34:57").run_script()
    finally:
        await server.close()
    assert_all_pings_answered(first)
    assert_all_pings_answered(second)
    report = server.report()
    assert report["transport"]["connections_accepted"] == 2
    # The second guest plugged into the adapter the first one left: one port, unplugged and plugged again.
    assert report["miniport"]["media_connects"] == 2 and report["miniport"]["media_disconnects"] == 2
    assert report["ndis"]["miniports_halted"] == 1  # the port, when nicemu closed
    assert report["tcpip"]["icmpv4.echo_replied"] == 6

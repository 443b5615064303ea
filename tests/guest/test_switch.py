"""Several guests on one nicemu: the virtual switch joins them to each other and to the gateway."""

import asyncio

from nicemu.host import Host
from nicemu.qemu.server import NicemuServer
from nicemu.vm.machine import GuestVM
from nicemu.vm.netdev import attach

# Both guests boot at once; each waits until the other answers before the counted pings.
WAIT_FOR = "for i in $(seq 60); do ping -c 1 -W 1 {peer} >/dev/null && break; done\n"
PINGS = "ping -c 3 -W 2 10.0.2.2 && ping -c 3 -W 2 {peer}\n"


async def test_switch__two_guests_ping_each_other_and_the_gateway(kit, tmp_path):
    server = NicemuServer(Host(verifier=True))
    scripts = {}
    for name, peer in (("a", "10.0.2.16"), ("b", "10.0.2.15")):
        scripts[name] = tmp_path / f"{name}.sh"
        scripts[name].write_text(WAIT_FOR.format(peer=peer) + PINGS.format(peer=peer))
    try:
        netdev = await attach("stream", server, tmp_path)
        a = GuestVM(kit, netdev, nic="virtio-net-pci", mac="52:54:00:00:00:0a", ip="10.0.2.15/24",
                    script=scripts["a"], timeout=120, name="a")
        b = GuestVM(kit, netdev, nic="e1000", mac="52:54:00:00:00:0b", ip="10.0.2.16/24",
                    script=scripts["b"], timeout=120, name="b")
        result_a, result_b = await asyncio.gather(a.run_script(), b.run_script())
    finally:
        await server.close()
    for result, peer in ((result_a, "10.0.2.16"), (result_b, "10.0.2.15")):
        assert result.status == 0, result.console
        assert f"--- {peer} ping statistics ---\n3 packets transmitted, 3 packets received, 0% packet loss" \
            in result.output, result.output
    report = server.report()
    assert report["vswitch"]["mac.learned"] >= 3  # both guests and the host
    assert report["tcpip"]["icmpv4.echo_replied"] == 6


async def test_switch__stopping_one_guest_does_not_disturb_the_others_ping(kit, tmp_path):
    server = NicemuServer(Host(verifier=True))
    steady = tmp_path / "steady.sh"
    steady.write_text("ping -c 40 -i 0.25 -W 2 10.0.2.2\n")
    doomed = tmp_path / "doomed.sh"
    doomed.write_text("ping -c 1000 -i 0.2 10.0.2.2\n")
    try:
        netdev = await attach("stream", server, tmp_path)
        victim = GuestVM(kit, netdev, mac="52:54:00:00:00:0b", ip="10.0.2.16/24", script=doomed, timeout=120,
                         name="victim")
        survivor = GuestVM(kit, netdev, mac="52:54:00:00:00:0a", script=steady, timeout=120, name="survivor")
        async with victim:
            running = asyncio.create_task(survivor.run_script())
            async with asyncio.timeout(60):
                while server.host.tcpip.counters["icmpv4.echo_replied"] < 20:
                    await asyncio.sleep(0.2)
            await victim.stop()
        result = await running
    finally:
        await server.close()
    assert result.status == 0, result.console
    assert "40 packets transmitted, 40 packets received, 0% packet loss" in result.output, result.output
    assert server.report()["transport"]["connections_closed"] == 2

"""A guest on QEMU's multicast socket backend, with nicemu a member of the same group."""

from nicemu.host import Host
from nicemu.qemu.endpoints import parse_dgram
from nicemu.qemu.server import NicemuServer
from nicemu.vm.machine import GuestVM
from tests.guest.conftest import assert_all_pings_answered
from tests.netns import entered_namespace


async def test_dgram_multicast__guest_pings_nicemu_and_nicemu_ignores_its_own_frames(kit, ping_script):
    with entered_namespace():
        server = NicemuServer(Host(verifier=True))
        try:
            await server.dgram(parse_dgram("udp:230.0.0.1:1234"))
            netdev = "socket,id=n0,mcast=230.0.0.1:1234,localaddr=127.0.0.1"
            result = await GuestVM(kit, netdev, script=ping_script, timeout=90).run_script()
        finally:
            await server.close()
    assert_all_pings_answered(result)
    report = server.report()
    assert report["miniport"]["rcv_discards.own_transmission"] == report["transport"]["frames_out"]

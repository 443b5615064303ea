"""Issue 3's acceptance, as a user runs it: guests on one `nicemu serve`, inspected with `nicemu ctl`."""

import asyncio
import re

from nicemu.vm.machine import GuestVM
from tests.guest.test_cli import start_serve, stop_serve
from tests.guest.test_ctl import ctl

A_MAC, B_MAC = "52:54:00:00:00:0a", "52:54:00:00:00:0b"
# Each guest waits for its peer, pings the gateway and the peer, then prints what its kernel sent and got.
SCRIPT = """for i in $(seq 60); do ping -c 1 -W 1 {peer} >/dev/null && break; done
ping -c 3 -W 2 10.0.2.2 && ping -c 3 -W 2 {peer} || exit 1
stats=/sys/class/net/$IFACE/statistics
echo "COUNTERS tx=$(cat $stats/tx_packets) rx=$(cat $stats/rx_packets)"
"""


def counters(result):
    found = re.search(r"COUNTERS tx=(\d+) rx=(\d+)", result.output)
    assert found, result.console
    return int(found[1]), int(found[2])


async def test_serve__two_guests_ping_each_other_and_ctl_stats_match_what_they_sent(kit, tmp_path):
    control = tmp_path / "control.sock"
    proc, _ = await start_serve("--listen", f"unix:{tmp_path / 'n.sock'}", "--control", f"unix:{control}")
    try:
        netdev = f"stream,id=n0,server=off,addr.type=unix,addr.path={tmp_path / 'n.sock'}"
        guests = []
        for name, mac, ip, peer in (("a", A_MAC, "10.0.2.15/24", "10.0.2.16"), ("b", B_MAC, "10.0.2.16/24",
                                                                                  "10.0.2.15")):
            script = tmp_path / f"{name}.sh"
            script.write_text(SCRIPT.format(peer=peer))
            guests.append(GuestVM(kit, netdev, mac=mac, ip=ip, script=script, timeout=120, name=name))
        results = await asyncio.gather(*(guest.run_script() for guest in guests))
        for result in results:
            assert result.status == 0, result.console
        await asyncio.sleep(0.5)
        stats = (await ctl(control, "query-stats"))["adapters"]
    finally:
        await stop_serve(proc)
    ports = [stats["nicemu0"], stats["nicemu1"]]
    guests = [counters(result) for result in results]

    def matches(port, guest):
        # The port is promiscuous: every frame the guest's kernel sent reached it (a guest may still
        # send a frame or two of IPv6 housekeeping between reading its counters and powering off).
        # Every frame the guest's kernel got came from the port, but not every frame the port sent
        # was counted by the guest: the switch floods the other guest's multicast and unknown
        # unicast, which the guest's NIC filters out before its kernel counts anything.
        guest_tx, guest_rx = guest
        return 0 <= port["rcv_ok"] - guest_tx <= 2 and port["xmit_ok"] >= guest_rx

    # The guests booted at once, so either may have taken either port.
    assert (matches(ports[0], guests[0]) and matches(ports[1], guests[1])) or \
        (matches(ports[0], guests[1]) and matches(ports[1], guests[0])), (ports, guests)


async def test_serve__a_guest_restarted_against_the_same_listener_is_a_media_disconnect_and_reconnect(
        kit, ping_script, tmp_path):
    control = tmp_path / "control.sock"
    listen = tmp_path / "n.sock"
    proc, _ = await start_serve("--listen", f"unix:{listen}", "--control", f"unix:{control}")
    try:
        netdev = f"stream,id=n0,server=off,addr.type=unix,addr.path={listen}"
        for attempt in range(2):
            result = await GuestVM(kit, netdev, script=ping_script, timeout=90, name=f"run{attempt}").run_script()
            assert result.status == 0, result.console
            for _ in range(50):
                adapters = await ctl(control, "query-adapters")
                port = next(a for a in adapters if a["role"] == "port")
                if port["media_connect_state"] == "disconnected":
                    break
                await asyncio.sleep(0.1)
        stats = (await ctl(control, "query-stats", f"adapter={port['name']}"))["adapters"][port["name"]]
    finally:
        await stop_serve(proc)
    assert [a["name"] for a in adapters if a["role"] == "port"] == ["nicemu0"]
    assert (stats["media_connects"], stats["media_disconnects"]) == (2, 2)
    assert stats["rcv_directed_frames"] >= 6

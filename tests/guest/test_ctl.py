"""``nicemu ctl`` asks a running ``nicemu serve --control`` about a real guest while it is connected."""

import asyncio
import json

from nicemu.vm.machine import GuestVM
from tests.guest.conftest import assert_all_pings_answered
from tests.guest.test_cli import NICEMU, start_serve, stop_serve

PINGED = "CTL-TEST-PINGED"
"""The guest prints this once its pings are done; it then stays connected while the test asks nicemu."""


async def ctl(control, *words):
    """Run ``nicemu ctl`` as a user would and return what it printed, parsed."""
    proc = await asyncio.create_subprocess_exec(*NICEMU, "ctl", str(control), *words,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(30):
        stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    return json.loads(stdout)


async def test_ctl__reports_what_a_connected_guest_sent(kit, ping_script, tmp_path):
    ping_script.write_text(ping_script.read_text() + f"echo {PINGED}\nsleep 5\n")
    listen, control = tmp_path / "nicemu.sock", tmp_path / "control.sock"
    pinged = asyncio.Event()

    def watch(line):
        if line.strip() == PINGED:
            pinged.set()

    proc, announced = await start_serve("--listen", f"unix:{listen}", "--control", f"unix:{control}")
    try:
        assert announced[-1] == f"nicemu: control socket on unix:{control}"
        vm = GuestVM(kit, f"stream,id=n0,server=off,addr.type=unix,addr.path={listen}", nic="e1000",
                     script=ping_script, timeout=90, on_console_line=watch)
        async with vm:
            async with asyncio.timeout(60):
                await pinged.wait()
            adapters = await ctl(control, "query-adapters")
            stats = await ctl(control, "query-stats", "adapter=nicemu0")
            rcv_ok = await ctl(control, "oid-query", "adapter=nicemu0", "oid=OID_GEN_RCV_OK")
            result = await vm.wait()
    finally:
        await stop_serve(proc)
    assert_all_pings_answered(result)

    port = next(adapter for adapter in adapters if adapter["name"] == "nicemu0")
    assert (port["mac"], port["media_connect_state"]) == ("52:55:0a:00:02:02", "connected")

    counts = stats["adapters"]["nicemu0"]
    assert list(stats["adapters"]) == ["nicemu0"]
    assert counts["rcv_directed_frames"] >= 3
    assert counts["xmit_directed_frames"] >= 3
    assert stats["layers"]["tcpip"]["icmpv4.echo_replied"] == 3
    assert stats["layers"]["transport"]["connections_accepted"] == 1

    assert rcv_ok["status"] == "SUCCESS"
    assert rcv_ok["bytes_written"] == 8
    # Asked after query-stats: the guest may have sent more since, never less.
    assert rcv_ok["value"] >= counts["rcv_ok"] >= 4
    assert rcv_ok["data"] == rcv_ok["value"].to_bytes(8, "little").hex()

"""The nicemu command as a user runs it, against real QEMU guests."""

import asyncio
import os
import re
import signal
import socket
import sys

import pytest

from nicemu.vm.machine import GuestVM
from tests.guest.conftest import assert_all_pings_answered

NICEMU = [sys.executable, "-m", "nicemu"]


async def start_serve(*options):
    """Start ``nicemu serve`` and return it once it has said it is ready, with what it said."""
    proc = await asyncio.create_subprocess_exec(*NICEMU, "serve", *options,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    announced = []
    async with asyncio.timeout(15):
        while len(announced) < len(options) // 2:
            line = (await proc.stderr.readline()).decode()
            assert line, f"nicemu serve exited early: {announced}"
            if line.startswith("nicemu: "):
                announced.append(line.strip())
    return proc, announced


async def stop_serve(proc):
    """SIGTERM, as a service manager would: nicemu exits 0 and prints its counters."""
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        _, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    return stderr.decode()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("netdev", [
    "stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}",
    "socket,id=n0,connect=127.0.0.1:{port}",
])
async def test_serve_listen__a_guest_pings_it_and_sigterm_prints_the_counters(kit, ping_script, netdev):
    proc, announced = await start_serve("--listen", "tcp:127.0.0.1:0")
    try:
        port = int(re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", announced[0])[1])
        result = await GuestVM(kit, netdev.format(port=port), nic="e1000", script=ping_script,
                               timeout=90).run_script()
    finally:
        report = await stop_serve(proc)
    assert_all_pings_answered(result)
    assert re.search(r"icmpv4\.echo_replied\s*│\s*3", report), report


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
async def test_serve_connect__reaches_qemu_as_the_server_and_outlives_it(kit, ping_script, tmp_path, transport):
    if transport == "unix":
        path = tmp_path / "qemu.sock"
        target, address = f"unix:{path}", f"addr.type=unix,addr.path={path}"
    else:
        port = free_tcp_port()
        target, address = f"tcp:127.0.0.1:{port}", f"addr.type=inet,addr.host=127.0.0.1,addr.port={port}"
    proc, _ = await start_serve("--connect", target)
    try:
        for _ in range(2):
            result = await GuestVM(kit, f"stream,id=n0,server=on,{address}", script=ping_script,
                                   timeout=90).run_script()
            assert_all_pings_answered(result)
    finally:
        report = await stop_serve(proc)
    # At least one connection per guest, each unplugged again. There may be more: a QEMU that is
    # quitting still accepts on its listening socket (the kernel's backlog) before it resets.
    connects = int(re.search(r"media_connects\s*│\s*(\d+)", report)[1])
    disconnects = int(re.search(r"media_disconnects\s*│\s*(\d+)", report)[1])
    assert connects >= 2 and connects == disconnects, report


async def test_serve_dgram__serves_the_older_socket_udp_backend(kit, ping_script):
    ours, theirs = free_udp_port(), free_udp_port()
    proc, _ = await start_serve("--dgram", f"udp:127.0.0.1:{ours}@127.0.0.1:{theirs}")
    try:
        netdev = f"socket,id=n0,udp=127.0.0.1:{ours},localaddr=127.0.0.1:{theirs}"
        result = await GuestVM(kit, netdev, script=ping_script, timeout=90).run_script()
    finally:
        await stop_serve(proc)
    assert_all_pings_answered(result)


async def test_vm_script__exits_with_the_guest_scripts_status(kit, tmp_path):
    script = tmp_path / "three.sh"
    script.write_text("ping -c 2 -W 2 10.0.2.2 && exit 3\n")
    proc = await asyncio.create_subprocess_exec(*NICEMU, "vm", "--nic", "e1000", "--script", str(script),
                                                "--report", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env={**os.environ})
    async with asyncio.timeout(120):
        stdout, stderr = await proc.communicate()
    assert proc.returncode == 3, stderr.decode()
    assert "2 packets transmitted, 2 packets received, 0% packet loss" in stdout.decode()
    assert "guest script exited 3" in stderr.decode()

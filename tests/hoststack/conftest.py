"""Tier 2: a Linux network namespace whose own kernel stack reaches nicemu.

The namespace has a tap device. A QEMU with no guest CPU (`-machine none`)
joins that tap and a `-netdev stream` to an in-process nicemu through a hub,
so real clients (ping, iperf3, curl...) run at native speed over QEMU's real
socket protocol.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nicemu.host import Host
from nicemu.qemu.endpoints import UnixAddress
from nicemu.qemu.server import NicemuServer

GUEST_IP = "10.0.2.15/24"
GATEWAY = "10.0.2.2"


@dataclass(frozen=True, slots=True)
class Completed:
    """How a command run in the namespace ended."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(slots=True)
class HostStack:
    """The namespace, and the nicemu its tap reaches."""

    namespace: str
    server: NicemuServer

    async def run(self, *argv: str, timeout: float = 60.0) -> Completed:
        """Run ``argv`` inside the namespace and wait for it, at most ``timeout`` seconds."""
        proc = await asyncio.create_subprocess_exec("ip", "netns", "exec", self.namespace, *argv,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return Completed(proc.returncode, stdout.decode(), stderr.decode())


async def _ip(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec("ip", *args, stderr=asyncio.subprocess.PIPE)
    _, stderr = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {stderr.decode().strip()}")


def _require_prerequisites() -> None:
    for tool, package in (("ip", "iproute2"), ("ping", "iputils-ping"), ("qemu-system-x86_64", "qemu-system-x86")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed ({package}; make setup installs it)")
    if os.geteuid() != 0:
        pytest.skip("the host-stack tier needs root for network namespaces and tap devices")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing: no tap devices here")


@pytest.fixture
async def hoststack(tmp_path: Path) -> AsyncIterator[HostStack]:
    """A namespace at 10.0.2.15/24 whose tap reaches an in-process nicemu; all of it removed afterwards."""
    _require_prerequisites()
    server = NicemuServer(Host(verifier=True))
    namespace = f"nicemu-hs-{uuid.uuid4().hex[:8]}"
    socket_path = str(tmp_path / "nicemu.sock")
    qemu = None
    await server.listen(UnixAddress(socket_path))
    await _ip("netns", "add", namespace)
    try:
        await _ip("-n", namespace, "link", "set", "lo", "up")
        await _ip("-n", namespace, "tuntap", "add", "dev", "tap0", "mode", "tap")
        await _ip("-n", namespace, "addr", "add", GUEST_IP, "dev", "tap0")
        await _ip("-n", namespace, "link", "set", "tap0", "up")
        await _ip("-n", namespace, "route", "add", "default", "via", GATEWAY)
        # `ip netns exec` execs QEMU itself, so this PID is QEMU's.
        qemu = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", namespace, "qemu-system-x86_64", "-machine", "none", "-nodefaults",
            "-display", "none", "-no-user-config",
            "-netdev", "tap,id=t0,ifname=tap0,script=no,downscript=no",
            "-netdev", f"stream,id=s0,server=off,addr.type=unix,addr.path={socket_path}",
            "-netdev", "hubport,id=h0,hubid=0,netdev=t0",
            "-netdev", "hubport,id=h1,hubid=0,netdev=s0",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(15):
            while not server.connections:
                if qemu.returncode is not None:
                    raise RuntimeError(f"QEMU exited: {(await qemu.stderr.read()).decode().strip()}")
                await asyncio.sleep(0.05)
        yield HostStack(namespace, server)
    finally:
        if qemu is not None and qemu.returncode is None:
            qemu.kill()
            await qemu.wait()
        await _ip("netns", "del", namespace)
        await server.close()

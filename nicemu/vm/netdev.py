"""How an in-process nicemu and a QEMU it launches meet: one ``-netdev`` per transport kind."""

from __future__ import annotations

import socket
from pathlib import Path

from nicemu.qemu.endpoints import DgramEndpoint, TcpAddress, UdpAddress, UnixAddress
from nicemu.qemu.server import NicemuServer

NETDEV_KINDS = {
    "stream": "-netdev stream to a unix socket nicemu listens on",
    "stream-tcp": "-netdev stream to a TCP port nicemu listens on",
    "stream-server": "-netdev stream,server=on: QEMU listens, nicemu connects and reconnects",
    "socket": "-netdev socket,connect=: the older stream backend, over TCP",
    "dgram": "-netdev dgram between two UDP ports on 127.0.0.1",
    "dgram-unix": "-netdev dgram between two unix datagram sockets",
}
"""Every way ``nicemu vm`` can join a guest, with what it means."""


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tcp_port(where: str) -> int:
    return int(where.rsplit(":", 1)[1])


async def attach(kind: str, server: NicemuServer, workdir: Path, netdev_id: str = "n0") -> str:
    """Make ``server`` ready for a guest joining by ``kind``; return QEMU's ``-netdev`` value."""
    if kind == "stream":
        path = str(workdir / "nicemu.sock")
        await server.listen(UnixAddress(path))
        return f"stream,id={netdev_id},server=off,addr.type=unix,addr.path={path}"
    if kind == "stream-tcp":
        port = _tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
        return f"stream,id={netdev_id},server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}"
    if kind == "socket":
        port = _tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
        return f"socket,id={netdev_id},connect=127.0.0.1:{port}"
    if kind == "stream-server":
        path = str(workdir / "qemu.sock")
        server.connect(UnixAddress(path))
        return f"stream,id={netdev_id},server=on,addr.type=unix,addr.path={path}"
    if kind == "dgram":
        ours, theirs = _free_udp_port(), _free_udp_port()
        await server.dgram(DgramEndpoint(UdpAddress("127.0.0.1", ours), UdpAddress("127.0.0.1", theirs)))
        return (f"dgram,id={netdev_id},local.type=inet,local.host=127.0.0.1,local.port={theirs},"
                f"remote.type=inet,remote.host=127.0.0.1,remote.port={ours}")
    if kind == "dgram-unix":
        ours, theirs = str(workdir / "nicemu.dgram"), str(workdir / "qemu.dgram")
        await server.dgram(DgramEndpoint(UnixAddress(ours), UnixAddress(theirs)))
        return (f"dgram,id={netdev_id},local.type=unix,local.path={theirs},"
                f"remote.type=unix,remote.path={ours}")
    raise ValueError(f"unknown netdev kind {kind!r}; choose from {', '.join(NETDEV_KINDS)}")

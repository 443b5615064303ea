"""The datagram transports: QEMU's ``-netdev dgram`` and ``-netdev socket,udp=``/``mcast=``.

One datagram is one frame, with no length prefix. There is no connection, so
the one adapter is up from the start; a bad datagram is dropped and counted,
never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable

from nicemu.host import Host
from nicemu.miniport.adapter import Adapter
from nicemu.qemu.links import Links
from nicemu.qemu.endpoints import DgramEndpoint, UdpAddress, UnixAddress, remove_stale_unix_socket
from nicemu.qemu.framing import MIN_FRAME, QEMU_MAX_FRAME

log = logging.getLogger(__name__)


class DgramLink(asyncio.DatagramProtocol):
    """A datagram socket shared with QEMU: frames in from anyone, frames out to the remote."""

    def __init__(self, host: Host, links: Links, clock: Callable[[], float],
                 remote: str | tuple[str, int]) -> None:
        self.host = host
        self.links = links
        self.counters = links.counters
        self.clock = clock
        self.remote = remote
        self.transport: asyncio.DatagramTransport | None = None
        self.adapter: Adapter | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The socket is ready: the adapter comes up."""
        self.transport = transport  # type: ignore[assignment]
        self.adapter = self.host.add_adapter(self.clock())
        self.links.attach(self.adapter, self)

    def datagram_received(self, data: bytes, addr: object) -> None:
        """One frame from QEMU (or, on a multicast group, from any member)."""
        counters = self.counters
        if not MIN_FRAME <= len(data) <= QEMU_MAX_FRAME:
            counters.errors["runt_frame" if len(data) < MIN_FRAME else "oversize_frame"] += 1
            return
        counters.frames_in += 1
        counters.bytes_in += len(data)
        assert self.adapter is not None
        try:
            out = self.host.receive(self.adapter, [data], self.clock())
        except Exception:
            counters.errors["stack_exception"] += 1
            log.exception("qemu: the stack failed on a frame from %s; dropped it", addr)
            return
        self.links.deliver(out)

    def write_frames(self, frames: list[bytes]) -> None:
        """Send each frame as its own datagram to the remote."""
        assert self.transport is not None
        for frame in frames:
            self.transport.sendto(frame, self.remote)
        self.counters.frames_out += len(frames)
        self.counters.bytes_out += sum(map(len, frames))

    def error_received(self, exc: Exception) -> None:
        """A send bounced (nothing listens at the remote yet): count it, QEMU may come later."""
        self.counters.errors[f"send_{type(exc).__name__}"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket closed: the adapter goes."""
        if self.adapter is not None:
            self.links.detach(self.adapter)
            self.host.remove_adapter(self.adapter, self.clock())
            self.adapter = None


def _udp_socket(endpoint: DgramEndpoint) -> socket.socket:
    local = endpoint.local
    assert isinstance(local, UdpAddress)
    family = socket.AF_INET6 if ":" in local.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if local.is_multicast:
            if family != socket.AF_INET:
                raise OSError(f"{local.host}: only IPv4 multicast groups are supported, as in QEMU")
            # As QEMU does for mcast: several processes share the group's port,
            # and every member, on this host too, hears every frame.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("", local.port))
            membership = struct.pack("4s4s", socket.inet_aton(local.host), socket.inet_aton("0.0.0.0"))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        else:
            sock.bind((local.host, local.port))
    except BaseException:
        sock.close()
        raise
    return sock


def _unix_socket(endpoint: DgramEndpoint) -> socket.socket:
    local = endpoint.local
    assert isinstance(local, UnixAddress)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        remove_stale_unix_socket(local.path)
        sock.bind(local.path)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_dgram(host: Host, endpoint: DgramEndpoint, links: Links) -> DgramLink:
    """Open the datagram socket and serve it until its transport is closed."""
    loop = asyncio.get_running_loop()
    if isinstance(endpoint.local, UnixAddress):
        sock = _unix_socket(endpoint)
        remote: str | tuple[str, int] = endpoint.remote.path  # type: ignore[union-attr]
    else:
        sock = _udp_socket(endpoint)
        remote = (endpoint.remote.host, endpoint.remote.port)  # type: ignore[union-attr]
    _, link = await loop.create_datagram_endpoint(lambda: DgramLink(host, links, loop.time, remote), sock=sock)
    return link

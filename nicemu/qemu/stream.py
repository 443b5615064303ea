"""The stream transports: QEMU's ``-netdev stream`` and ``-netdev socket`` over TCP or unix sockets.

``serve_listen`` is the server QEMU connects to (``server=off`` /
``connect=``): every connection plugs into an adapter of the listener's pool,
and the listener goes on accepting after a guest leaves. ``serve_connect``
connects to QEMU as the server (``server=on`` / ``listen=``) and reconnects
with backoff. Either way an adapter outlives its connection: its link goes
down when QEMU leaves and up when the next one comes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from nicemu.host import Host
from nicemu.miniport.adapter import Adapter
from nicemu.qemu.links import Links
from nicemu.qemu.pool import AdapterPool
from nicemu.qemu.endpoints import TcpAddress, UnixAddress, remove_stale_unix_socket
from nicemu.qemu.framing import FramingError, StreamDeframer, frame_stream

log = logging.getLogger(__name__)

WRITE_HIGH_WATER = 256 * 1024
"""Bytes queued towards QEMU above which nicemu stops reading from it."""


class StreamLink(asyncio.Protocol):
    """One QEMU stream connection: deframe what it sends, run it through the host, frame the replies."""

    def __init__(self, host: Host, links: Links, clock: Callable[[], float], pool: AdapterPool,
                 live: set[StreamLink] | None = None) -> None:
        self.host = host
        self.links = links
        self.live = live
        self.counters = links.counters
        self.clock = clock
        self.pool = pool
        self.adapter: Adapter | None = None
        self.deframer = StreamDeframer()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Models the cable being plugged in: an adapter comes up for this connection."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.live is not None:
            self.live.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else (peer or "unix peer")
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.adapter = self.pool.acquire(self.clock())
        self.links.attach(self.adapter, self)
        log.info("qemu: connected %s as %s", self.peer, self.adapter.config.name)

    def data_received(self, data: bytes) -> None:
        """Frames (or parts of them) from QEMU."""
        counters = self.counters
        try:
            frames = self.deframer.feed(data)
        except FramingError as error:
            counters.errors[error.reason] += 1
            log.warning("qemu: %s sent a bad length prefix (%s); closing this connection", self.peer, error)
            assert self.transport is not None
            self.transport.abort()
            return
        if not frames:
            return
        counters.frames_in += len(frames)
        counters.bytes_in += sum(map(len, frames))
        assert self.adapter is not None
        try:
            out = self.host.receive(self.adapter, frames, self.clock())
        except Exception:
            # A bug in the stack must not take this guest's connection, or any
            # other guest's, down with it: count it, say where, go on.
            counters.errors["stack_exception"] += 1
            log.exception("qemu: the stack failed on %d frame(s) from %s; dropped them", len(frames), self.peer)
            return
        self.links.deliver(out)

    def write_frames(self, frames: list[bytes]) -> None:
        """Send frames to QEMU in one write."""
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self.counters.frames_out += len(frames)
        self.counters.bytes_out += sum(map(len, frames))
        self.transport.write(frame_stream(frames))

    def pause_writing(self) -> None:
        """QEMU is not draining what we send: stop reading what it sends until it does."""
        self.counters.read_pauses += 1
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """QEMU caught up: read again."""
        assert self.transport is not None
        self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        """Models the cable being pulled: the adapter loses its link and waits in its pool for the next QEMU."""
        self.counters.connections_closed += 1
        if self.live is not None:
            self.live.discard(self)
        if self.deframer.buffered:
            self.counters.errors["partial_frame_at_close"] += 1
        assert self.adapter is not None
        self.links.detach(self.adapter)
        self.pool.release(self.adapter, self.clock())
        reason = f": {exc}" if exc else ""
        log.info("qemu: %s disconnected from %s%s", self.peer, self.adapter.config.name, reason)
        if not self.closed.done():
            self.closed.set_result(None)


async def serve_listen(host: Host, address: TcpAddress | UnixAddress, links: Links, pool: AdapterPool,
                       live: set[StreamLink]) -> asyncio.Server:
    """Listen for QEMU connections; each plugs into an adapter of ``pool`` for as long as it lasts.

    ``live`` holds the open connections, so the caller can end them: closing
    the server alone stops only new ones.
    """
    loop = asyncio.get_running_loop()

    def factory() -> StreamLink:
        links.counters.connections_accepted += 1
        return StreamLink(host, links, loop.time, pool, live)

    if isinstance(address, UnixAddress):
        remove_stale_unix_socket(address.path)
        return await loop.create_unix_server(factory, address.path)
    return await loop.create_server(factory, address.host, address.port, reuse_address=True)


async def serve_connect(host: Host, address: TcpAddress | UnixAddress, links: Links, pool: AdapterPool, *,
                        initial_backoff: float = 0.1, max_backoff: float = 5.0) -> None:
    """Connect to QEMU as the stream server, for ever: reconnect with exponential backoff when it goes.

    The pool's one adapter serves every connection in turn; its link is up
    only while connected, so protocols see the outage as a media disconnect.
    """
    loop = asyncio.get_running_loop()
    counters = links.counters
    backoff = initial_backoff
    waiting_logged = False
    link: StreamLink | None = None
    try:
        while True:
            counters.connect_attempts += 1
            try:
                if isinstance(address, UnixAddress):
                    _, link = await loop.create_unix_connection(
                        lambda: StreamLink(host, links, loop.time, pool), address.path)
                else:
                    _, link = await loop.create_connection(
                        lambda: StreamLink(host, links, loop.time, pool), address.host, address.port)
            except OSError as error:
                if not waiting_logged:
                    log.info("qemu: waiting for QEMU at %s (%s); retrying with backoff", address, error.strerror)
                    waiting_logged = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            counters.connections_accepted += 1
            waiting_logged = False
            backoff = initial_backoff
            await link.closed
    finally:
        if link is not None and link.transport is not None:
            link.transport.abort()

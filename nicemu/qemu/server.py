"""One nicemu host served on any number of QEMU endpoints at once, and stopped cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from nicemu.host import Host
from nicemu.qemu.counters import TransportCounters
from nicemu.qemu.dgram import DgramLink, serve_dgram
from nicemu.qemu.links import Links
from nicemu.qemu.pool import AdapterPool
from nicemu.qemu.endpoints import DgramEndpoint, TcpAddress, UnixAddress
from nicemu.qemu.stream import StreamLink, serve_connect, serve_listen

log = logging.getLogger(__name__)


class NicemuServer:
    """The I/O edge around a ``Host``: listeners, outgoing connections and datagram sockets."""

    def __init__(self, host: Host | None = None) -> None:
        self.host = host or Host()
        self.counters = TransportCounters()
        self.links = Links(self.counters)
        self.links.after_delivery = self._schedule_timers
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._dgram_links: list[DgramLink] = []
        self._streams: set[StreamLink] = set()
        self._unix_paths: list[str] = []
        self._pools: list[AdapterPool] = []
        self._control_clients: set[asyncio.StreamWriter] = set()

    async def listen(self, address: TcpAddress | UnixAddress) -> str:
        """Accept QEMU stream connections at ``address``; returns where it listens (with the real port)."""
        pool = AdapterPool(self.host)
        server = await serve_listen(self.host, address, self.links, pool, self._streams)
        self._pools.append(pool)
        self._servers.append(server)
        if isinstance(address, UnixAddress):
            self._unix_paths.append(address.path)
            where = str(address)
        else:
            host, port = server.sockets[0].getsockname()[:2]
            where = str(TcpAddress(host, port))
        log.info("nicemu: listening on %s", where)
        return where

    def connect(self, address: TcpAddress | UnixAddress) -> None:
        """Keep a connection to QEMU's stream server at ``address``, reconnecting when it drops."""
        pool = AdapterPool(self.host)
        self._pools.append(pool)
        task = asyncio.create_task(serve_connect(self.host, address, self.links, pool), name=f"connect {address}")
        self._tasks.append(task)

    async def dgram(self, endpoint: DgramEndpoint) -> None:
        """Exchange frames with QEMU as datagrams on ``endpoint``."""
        self._dgram_links.append(await serve_dgram(self.host, endpoint, self.links))
        if isinstance(endpoint.local, UnixAddress):
            self._unix_paths.append(endpoint.local.path)
        log.info("nicemu: datagrams on %s", endpoint)

    async def control(self, path: str) -> None:
        """Answer control commands (``nicemu ctl``) on a unix socket at ``path`` only this user may connect to."""
        # Imported here: the control commands import this module.
        from nicemu.control.server import serve_control

        self._servers.append(await serve_control(self, path, live=self._control_clients))
        self._unix_paths.append(path)
        log.info("nicemu: control socket on unix:%s", path)

    def _schedule_timers(self) -> None:
        """Wake up when the stack next has something to do on its own, as aioquic's edge does."""
        deadline = self.host.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = None if deadline is None else asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        try:
            out = self.host.handle_timers(asyncio.get_running_loop().time())
        except Exception:
            self.counters.errors["stack_exception"] += 1
            log.exception("nicemu: the stack failed handling its timers")
            out = {}
        self.links.deliver(out)

    @property
    def connections(self) -> frozenset[StreamLink]:
        """The stream connections open now (accepted ones; outgoing ones live in their tasks)."""
        return frozenset(self._streams)

    def report(self) -> dict[str, dict[str, int]]:
        """Counters per layer, transport first."""
        return {"transport": self.counters.as_dict(), **self.host.report()}

    async def close(self) -> None:
        """Stop accepting, drop every connection and socket, remove the socket files made."""
        self.links.after_delivery = None
        if self._timer is not None:
            self._timer.cancel()
        for server in self._servers:
            server.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in self._dgram_links:
            if link.transport is not None:
                link.transport.close()
        for link in list(self._streams):
            if link.transport is not None:
                link.transport.abort()
        for writer in list(self._control_clients):
            writer.close()
        for server in self._servers:
            await server.wait_closed()
        # Let the aborted transports run connection_lost before their adapters halt.
        await asyncio.sleep(0)
        now = asyncio.get_running_loop().time()
        for pool in self._pools:
            pool.close(now)
        for path in self._unix_paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

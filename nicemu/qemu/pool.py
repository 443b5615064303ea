"""The adapters of one endpoint, kept across QEMU connections like the ports of a switch.

A guest that disconnects unplugs its cable: its adapter's link goes down and
the adapter stays, statistics and all, for the next QEMU to plug into. So a
guest restarted against the same endpoint shows up as a media disconnect and
reconnect, and there are never more adapters than guests connected at once.
"""

from __future__ import annotations

from nicemu.host import Host
from nicemu.miniport.adapter import Adapter


class AdapterPool:
    """Adapters of one listener (or one outgoing connection), connected or waiting for a QEMU."""

    __slots__ = ("host", "adapters")

    def __init__(self, host: Host) -> None:
        self.host = host
        self.adapters: list[Adapter] = []

    def acquire(self, now: float) -> Adapter:
        """An adapter for a QEMU that just connected: a waiting one reconnected, or a new one."""
        for adapter in self.adapters:
            if not adapter.connected:
                self.host.set_link(adapter, True, now)
                return adapter
        adapter = self.host.add_adapter(now)
        self.adapters.append(adapter)
        return adapter

    def release(self, adapter: Adapter, now: float) -> None:
        """Its QEMU went away: the link goes down, the adapter waits for the next."""
        self.host.set_link(adapter, False, now)

    def close(self, now: float) -> None:
        """nicemu is stopping: halt every adapter of the pool."""
        for adapter in self.adapters:
            self.host.remove_adapter(adapter, now)
        self.adapters.clear()

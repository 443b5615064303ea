"""Which transport link carries each adapter's frames.

A frame one guest sends can be switched to another guest's port, so the link
that read it is not always the one that must write the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from nicemu.miniport.adapter import Adapter
from nicemu.qemu.counters import TransportCounters


class FrameWriter(Protocol):
    """A transport link that can send frames to its QEMU."""

    def write_frames(self, frames: list[bytes]) -> None:
        """Send ``frames`` to QEMU."""


class Links:
    """Adapter → the link currently carrying it."""

    __slots__ = ("_by_adapter", "counters", "after_delivery")

    def __init__(self, counters: TransportCounters) -> None:
        self._by_adapter: dict[Adapter, FrameWriter] = {}
        self.counters = counters
        # Called after every delivery: the stack may have a new deadline for its timers.
        self.after_delivery: Callable[[], None] | None = None

    def attach(self, adapter: Adapter, link: FrameWriter) -> None:
        """``link`` now carries ``adapter``'s frames."""
        self._by_adapter[adapter] = link

    def detach(self, adapter: Adapter) -> None:
        """``adapter`` has no link any more (its QEMU is gone or reconnecting)."""
        self._by_adapter.pop(adapter, None)

    def deliver(self, out: dict[Adapter, list[bytes]]) -> None:
        """Write each adapter's frames on its link; frames for an adapter without one are counted and dropped."""
        for adapter, frames in out.items():
            link = self._by_adapter.get(adapter)
            if link is None:
                self.counters.errors["no_link_for_adapter"] += len(frames)
            else:
                link.write_frames(frames)
        if self.after_delivery is not None:
            self.after_delivery()

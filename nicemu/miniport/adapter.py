"""The adapter one QEMU connection is: its configuration and its state (netvmini's MP_ADAPTER)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nicemu.miniport.statistics import MiniportStatistics
from nicemu.ndis.drivers import ETHERNET_RANGE
from nicemu.ndis.oid import MediaConnectState, PacketType

if TYPE_CHECKING:
    from nicemu.ndis.ndis import MiniportBlock, Ndis

DEFAULT_MAC = bytes.fromhex("52550a000202")
"""The MAC QEMU's user networking gives its gateway, so guests see a familiar neighbour."""

ETHERNET_MIN_FRAME = 60
"""Shortest frame on the wire without the FCS; hardware pads shorter ones."""


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """What the user chooses about an adapter."""

    name: str = "nicemu0"
    mac: bytes = DEFAULT_MAC
    mtu: int = 1500
    max_multicast_list_size: int = 32
    transmit_queue_limit: int = 4096
    receive_buffers: int = 1024
    upper_range: str = ETHERNET_RANGE

    def __post_init__(self) -> None:
        if len(self.mac) != 6:
            raise ValueError(f"adapter {self.name}: a MAC address has 6 bytes, not {len(self.mac)}")
        if self.mac[0] & 1:
            raise ValueError(f"adapter {self.name}: {self.mac.hex(':')} is a multicast address")
        if not 68 <= self.mtu <= 65521:
            raise ValueError(f"adapter {self.name}: MTU {self.mtu} is outside 68..65521")

    @property
    def max_frame_size(self) -> int:
        """Longest frame accepted or sent: MTU, Ethernet header and one 802.1Q tag."""
        return self.mtu + 18


class Adapter:
    """Models the miniport adapter context: MAC, MTU, link, packet filter, queues, statistics.

    The transport at the edge calls ``receive_frames`` with what QEMU sent and
    takes what the stack sends with ``take_transmitted``. Everything in
    between is synchronous.
    """

    __slots__ = ("config", "ndis", "block", "current_address", "packet_filter", "multicast_list",
                 "media_connect_state", "statistics", "transmit_queue", "receives_outstanding", "running",
                 "pause_pending")

    def __init__(self, config: AdapterConfig, ndis: Ndis, block: MiniportBlock) -> None:
        self.config = config
        self.ndis = ndis
        self.block = block
        self.current_address = config.mac
        # NDIS starts an adapter with an empty filter: nothing is indicated until
        # a protocol asks for it through OID_GEN_CURRENT_PACKET_FILTER.
        self.packet_filter = PacketType.NONE
        self.multicast_list: list[bytes] = []
        self.media_connect_state = MediaConnectState.DISCONNECTED
        self.statistics = MiniportStatistics()
        self.transmit_queue: deque[bytes] = deque()
        self.receives_outstanding = 0
        # Set by MiniportRestart, cleared by MiniportPause: a paused adapter
        # neither indicates nor sends.
        self.running = False
        self.pause_pending = False

    @property
    def connected(self) -> bool:
        """Whether the medium (the QEMU connection) is up."""
        return self.media_connect_state == MediaConnectState.CONNECTED

    def take_transmitted(self) -> list[bytes]:
        """Hand the transport every frame queued for the wire, oldest first."""
        queue = self.transmit_queue
        frames = list(queue)
        queue.clear()
        return frames

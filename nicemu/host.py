"""The assembled sans-IO stack: NDIS, the miniport driver, and tcpip bound to every adapter.

This is what the I/O edge drives. It adds an adapter per QEMU connection,
feeds it frames with the time they arrived, and takes the frames to send
back. Nothing here reads a clock or touches a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nicemu.miniport import ctrlpath, datapath
from nicemu.miniport.adapter import DEFAULT_MAC, Adapter, AdapterConfig
from nicemu.miniport.driver import VirtualMiniport
from nicemu.ndis.ndis import MiniportBlock, Ndis
from nicemu.protocols.tcpip import TcpipConfig, TcpipProtocol


@dataclass(frozen=True, slots=True)
class HostConfig:
    """What the user chooses about the host nicemu plays."""

    mac: bytes = DEFAULT_MAC
    mtu: int = 1500
    tcpip: TcpipConfig = field(default_factory=TcpipConfig)


class Host:
    """The network host a guest sees at the far end of its NIC."""

    def __init__(self, config: HostConfig | None = None, *, verifier: bool = False) -> None:
        self.config = config or HostConfig()
        self.ndis = Ndis(verifier=verifier)
        self.miniport = self.ndis.m_register_miniport_driver(VirtualMiniport(self.ndis))
        self.tcpip = TcpipProtocol(self.ndis, self.config.tcpip)
        self.ndis.register_protocol_driver(self.tcpip)
        self.adapters: list[Adapter] = []
        self.halted_statistics: list[dict[str, int]] = []
        self._serial = 0

    def add_adapter(self, now: float, *, connected: bool = True) -> Adapter:
        """A QEMU connection appeared: start an adapter for it, its link up unless told otherwise."""
        self.advance(now)
        name = f"nicemu{self._serial}"
        self._serial += 1
        config = AdapterConfig(name=name, mac=self.config.mac, mtu=self.config.mtu)
        block: MiniportBlock = self.ndis.initialize_adapter(self.miniport, name, config)
        adapter: Adapter = block.adapter_context
        self.adapters.append(adapter)
        if connected:
            ctrlpath.indicate_link_state(adapter, True)
        return adapter

    def remove_adapter(self, adapter: Adapter, now: float) -> None:
        """The QEMU connection is gone for good: halt its adapter, keeping its statistics for the report."""
        self.advance(now)
        ctrlpath.indicate_link_state(adapter, False)
        self.ndis.halt_adapter(adapter.block)
        self.adapters.remove(adapter)
        self.halted_statistics.append(adapter.statistics.as_dict())

    def set_link(self, adapter: Adapter, connected: bool, now: float) -> None:
        """The medium came up or went down (a reconnecting transport), the adapter staying."""
        self.advance(now)
        ctrlpath.indicate_link_state(adapter, connected)

    def receive(self, adapter: Adapter, frames: list[bytes], now: float) -> list[bytes]:
        """Frames arrived from QEMU at ``now``: run them up the stack and return the frames to send back."""
        self.advance(now)
        datapath.receive_frames(adapter, frames)
        return adapter.take_transmitted()

    def advance(self, now: float) -> None:
        """Tell the stack the time."""
        self.tcpip.now = now

    def report(self) -> dict[str, dict[str, int]]:
        """Counters per layer below the transport: miniport (every adapter, live and halted), NDIS, tcpip."""
        miniport: dict[str, int] = {}
        for stats in [*self.halted_statistics, *(a.statistics.as_dict() for a in self.adapters)]:
            for key, value in stats.items():
                miniport[key] = miniport.get(key, 0) + value
        ndis = {name: getattr(self.ndis.counters, name) for name in self.ndis.counters.__slots__}
        tcpip = dict(sorted(self.tcpip.counters.items()))
        tcpip.update({f"drop.{reason}": n for reason, n in sorted(self.tcpip.drops.items())})
        return {"miniport": miniport, "ndis": ndis, "tcpip": tcpip}

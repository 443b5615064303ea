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
from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.status import NdisStatus
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

    def adapter(self, name: str) -> Adapter:
        """The live adapter called ``name``; KeyError names the ones there are."""
        for adapter in self.adapters:
            if adapter.config.name == name:
                return adapter
        raise KeyError(f"no adapter {name!r}; there are: {', '.join(a.config.name for a in self.adapters) or 'none'}")

    def query_adapters(self) -> list[dict[str, object]]:
        """Every live adapter: name, MAC, MTU, link, packet filter and multicast list."""
        return [{
            "name": a.config.name,
            "mac": a.current_address.hex(":"),
            "mtu": a.config.mtu,
            "media_connect_state": a.media_connect_state.name.lower(),
            "packet_filter": [flag.name.lower() for flag in type(a.packet_filter) if flag & a.packet_filter],
            "multicast_list": [mac.hex(":") for mac in a.multicast_list],
        } for a in self.adapters]

    def query_bindings(self) -> list[dict[str, object]]:
        """Every open binding of a protocol to an adapter."""
        return [{"protocol": o.protocol.name, "adapter": block.name, "state": o.state.value}
                for block in self.ndis.miniports for o in block.opens]

    def query_stats(self, name: str | None = None) -> dict[str, dict[str, int]]:
        """Statistics per live adapter (or only ``name``'s), as the miniport keeps them."""
        adapters = self.adapters if name is None else [self.adapter(name)]
        return {a.config.name: a.statistics.as_dict() for a in adapters}

    def oid_request(self, name: str, request: NdisOidRequest) -> NdisStatus:
        """Query or set an OID on adapter ``name``, as an administration tool does through WMI."""
        return self.ndis.wmi_oid_request(self.adapter(name).block, request)

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

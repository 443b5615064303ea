"""The assembled sans-IO stack: NDIS, the miniport driver, the virtual switch and tcpip.

This is what the I/O edge drives. Every QEMU connection gets a *port*
adapter, which the virtual switch binds to. The host nicemu plays sits
behind the switch on its own virtual NIC, where tcpip binds. With shared
segments (the default) every guest is on one network with the host and the
others. With isolated segments each guest gets a network of its own, with a
host vNIC of its own.

The edge feeds a port adapter frames with the time they arrived, and gets
back the frames every port adapter must now send. Nothing here reads a clock
or touches a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nicemu.miniport import ctrlpath, datapath
from nicemu.miniport.adapter import DEFAULT_MAC, Adapter, AdapterConfig
from nicemu.miniport.driver import VirtualMiniport
from nicemu.ndis.ndis import Ndis
from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.status import NdisStatus
from nicemu.protocols.tcpip import TcpipConfig, TcpipProtocol
from nicemu.protocols.vswitch import PORT_RANGE, Segment, VirtualSwitch


@dataclass(frozen=True, slots=True)
class HostConfig:
    """What the user chooses about the host nicemu plays and the network it is on."""

    mac: bytes = DEFAULT_MAC
    mtu: int = 1500
    tcpip: TcpipConfig = field(default_factory=TcpipConfig)
    isolated: bool = False
    mac_ageing: float = 300.0


class Host:
    """The network a guest sees at the far end of its NIC: a switch, other guests, and nicemu's host."""

    def __init__(self, config: HostConfig | None = None, *, verifier: bool = False) -> None:
        self.config = config or HostConfig()
        self.ndis = Ndis(verifier=verifier)
        self.miniport = self.ndis.m_register_miniport_driver(VirtualMiniport(self.ndis))
        self.tcpip = TcpipProtocol(self.ndis, self.config.tcpip)
        self.ndis.register_protocol_driver(self.tcpip)
        self.vswitch = VirtualSwitch(self.ndis, ageing=self.config.mac_ageing)
        self.ndis.register_protocol_driver(self.vswitch)
        self.adapters: list[Adapter] = []
        self.vnics: list[Adapter] = []
        self.halted_statistics: list[dict[str, int]] = []
        self._segment_of: dict[str, Segment] = {}
        self._serial = 0
        self._shared = None if self.config.isolated else self._new_segment()

    def _new_segment(self) -> Segment:
        name = f"vnic{len(self.vswitch.segments)}"
        config = AdapterConfig(name=name, mac=self.config.mac, mtu=self.config.mtu)
        vnic: Adapter = self.ndis.initialize_adapter(self.miniport, name, config).adapter_context
        ctrlpath.indicate_link_state(vnic, True)
        self.vnics.append(vnic)
        return self.vswitch.add_segment(f"segment{len(self.vswitch.segments)}", vnic)

    def add_adapter(self, now: float, *, connected: bool = True) -> Adapter:
        """A QEMU connection appeared: start a port adapter for it, its link up unless told otherwise."""
        self.advance(now)
        segment = self._shared or self._new_segment()
        name = f"nicemu{self._serial}"
        self._serial += 1
        self.vswitch.expect_port(name, segment)
        # The port's own address is the host's, so that its own transmissions
        # heard back on a multicast socket are recognised and dropped.
        config = AdapterConfig(name=name, mac=self.config.mac, mtu=self.config.mtu, upper_range=PORT_RANGE)
        adapter: Adapter = self.ndis.initialize_adapter(self.miniport, name, config).adapter_context
        self.adapters.append(adapter)
        self._segment_of[name] = segment
        if connected:
            ctrlpath.indicate_link_state(adapter, True)
        return adapter

    def remove_adapter(self, adapter: Adapter, now: float) -> None:
        """The QEMU connection is gone for good: halt its adapter, keeping its statistics for the report.

        An isolated segment goes with its only port, host vNIC and all.
        """
        self.advance(now)
        ctrlpath.indicate_link_state(adapter, False)
        self.ndis.halt_adapter(adapter.block)
        self.adapters.remove(adapter)
        self.halted_statistics.append(adapter.statistics.as_dict())
        segment = self._segment_of.pop(adapter.config.name)
        if segment is not self._shared:
            self.ndis.halt_adapter(segment.host.block)
            self.vnics.remove(segment.host)
            self.vswitch.segments.remove(segment)

    def set_link(self, adapter: Adapter, connected: bool, now: float) -> None:
        """The medium came up or went down (a reconnecting transport), the adapter staying."""
        self.advance(now)
        ctrlpath.indicate_link_state(adapter, connected)

    def receive(self, adapter: Adapter, frames: list[bytes], now: float) -> dict[Adapter, list[bytes]]:
        """Frames arrived from QEMU on ``adapter`` at ``now``: switch them, and return what each port must send."""
        self.advance(now)
        datapath.receive_frames(adapter, frames)
        return self._outbound()

    def _outbound(self) -> dict[Adapter, list[bytes]]:
        out: dict[Adapter, list[bytes]] = {}
        for port in self.adapters:
            if port.transmit_queue:
                out[port] = port.take_transmitted()
        return out

    def advance(self, now: float) -> None:
        """Tell the stack the time."""
        self.tcpip.now = now
        self.vswitch.now = now

    def next_deadline(self) -> float | None:
        """When the stack next has something to do on its own (a retry, a timeout), if ever."""
        return self.tcpip.next_deadline()

    def handle_timers(self, now: float) -> dict[Adapter, list[bytes]]:
        """Do what is due at ``now`` and return what each port must send as a result."""
        self.advance(now)
        self.tcpip.handle_timers(now)
        for segment in self.vswitch.segments:
            self.vswitch.forward_host_frames(segment)
        return self._outbound()

    # Inspection -----------------------------------------------------------------------

    def adapter(self, name: str) -> Adapter:
        """The live adapter (port or host vNIC) called ``name``; KeyError names the ones there are."""
        for adapter in [*self.adapters, *self.vnics]:
            if adapter.config.name == name:
                return adapter
        names = ", ".join(a.config.name for a in [*self.adapters, *self.vnics]) or "none"
        raise KeyError(f"no adapter {name!r}; there are: {names}")

    def query_adapters(self) -> list[dict[str, object]]:
        """Every live adapter: role, name, MAC, MTU, link, packet filter and multicast list."""
        return [{
            "name": a.config.name,
            "role": "port" if a.config.upper_range == PORT_RANGE else "host-vnic",
            "mac": a.current_address.hex(":"),
            "mtu": a.config.mtu,
            "media_connect_state": a.media_connect_state.name.lower(),
            "packet_filter": [flag.name.lower() for flag in type(a.packet_filter) if flag & a.packet_filter],
            "multicast_list": [mac.hex(":") for mac in a.multicast_list],
        } for a in [*self.adapters, *self.vnics]]

    def query_bindings(self) -> list[dict[str, object]]:
        """Every open binding of a protocol to an adapter."""
        return [{"protocol": o.protocol.name, "adapter": block.name, "state": o.state.value}
                for block in self.ndis.miniports for o in block.opens]

    def query_stats(self, name: str | None = None) -> dict[str, dict[str, int]]:
        """Statistics per live adapter (or only ``name``'s), as the miniport keeps them."""
        adapters = [*self.adapters, *self.vnics] if name is None else [self.adapter(name)]
        return {a.config.name: a.statistics.as_dict() for a in adapters}

    def query_filters(self) -> list[dict[str, object]]:
        """Every adapter's filter stack, from the module nearest the miniport up, with each module's state."""
        return [{
            "adapter": block.name,
            "filters": [{
                "name": module.driver.name,
                "altitude": module.driver.altitude,
                "state": module.state.value,
                **({"counters": dict(sorted(module.context.counters.items()))}
                   if hasattr(module.context, "counters") else {}),
            } for module in block.filters],
        } for block in self.ndis.miniports]

    def query_switch(self) -> list[dict[str, object]]:
        """Every segment: its ports with their counters, and its MAC table."""
        return self.vswitch.query()

    def oid_request(self, name: str, request: NdisOidRequest) -> NdisStatus:
        """Query or set an OID on adapter ``name``, as an administration tool does through WMI."""
        return self.ndis.wmi_oid_request(self.adapter(name).block, request)

    def report(self) -> dict[str, dict[str, int]]:
        """Counters per layer below the transport: the QEMU-facing miniports (live and halted), NDIS, switch, tcpip."""
        miniport: dict[str, int] = {}
        for stats in [*self.halted_statistics, *(a.statistics.as_dict() for a in self.adapters)]:
            for key, value in stats.items():
                miniport[key] = miniport.get(key, 0) + value
        ndis = {name: getattr(self.ndis.counters, name) for name in self.ndis.counters.__slots__}
        tcpip = dict(sorted(self.tcpip.counters.items()))
        tcpip.update({f"drop.{reason}": n for reason, n in sorted(self.tcpip.drops.items())})
        return {"miniport": miniport, "ndis": ndis, "vswitch": self.vswitch.report(), "tcpip": tcpip}

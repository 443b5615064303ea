"""The virtual switch: a learning Ethernet switch joining every QEMU-facing adapter to the host.

Modelled on Hyper-V's vmswitch, which is a protocol driver bound to the
adapters it switches between, and the wire of the host's own virtual NIC.
Each QEMU connection's adapter is a *port*: the switch binds to it (its
upper range is ``PORT_RANGE``, which only this protocol's lower range
matches) and puts it in promiscuous mode. Each *segment* is one broadcast
domain: its ports, the host's vNIC on it (where tcpip binds) and a MAC table.

Frames are forwarded as a learning switch does: the source MAC is learned
against the ingress port, broadcast, multicast and unknown unicast are
flooded to every other port of the segment, and known unicast goes to its
one port. Nothing is ever sent back out of the port it came in on.
"""

from __future__ import annotations

from collections import Counter

from nicemu.miniport import datapath
from nicemu.miniport.adapter import Adapter
from nicemu.ndis.drivers import BindParameters, StatusIndication
from nicemu.ndis.nbl import NetBufferList, chain, iterate
from nicemu.ndis.ndis import MiniportBlock, Ndis, OpenBlock, ReceiveFlags
from nicemu.ndis.oid import MediaConnectState, NdisOidRequest, Oid, PacketType
from nicemu.ndis.status import NdisStatus
from nicemu.protocols.mac_table import MacTable

PORT_RANGE = "nicemuport"
"""The upper range of QEMU-facing adapters: only the switch binds to them."""

HOST_PORT = "host"
"""The name of the port behind which the host's vNIC sits on every segment."""

_MAX_HOST_ROUNDS = 16
"""How many times one input may bounce between the host and the switch before the rest is dropped."""


class Port:
    """One switch port: a bound QEMU-facing adapter, or the host's vNIC."""

    __slots__ = ("name", "binding", "segment", "link_up", "counters", "outbound")

    def __init__(self, name: str, segment: Segment, binding: OpenBlock | None, link_up: bool) -> None:
        self.name = name
        self.binding = binding
        self.segment = segment
        self.link_up = link_up
        self.counters: Counter[str] = Counter()
        self.outbound: list[bytes] = []


class Segment:
    """One broadcast domain: its ports, the host's vNIC, and what the switch learned."""

    __slots__ = ("name", "ports", "host", "host_port", "table")

    def __init__(self, name: str, host: Adapter, table: MacTable) -> None:
        self.name = name
        self.ports: dict[str, Port] = {}
        self.host = host
        self.host_port = Port(HOST_PORT, self, None, True)
        self.table = table


class VirtualSwitch:
    """Models the switch's protocol driver: binds to every port adapter and forwards between them."""

    name = "vswitch"
    lower_range = frozenset({PORT_RANGE})

    def __init__(self, ndis: Ndis, *, ageing: float = 300.0, capacity: int = 4096) -> None:
        self.ndis = ndis
        self.ageing = ageing
        self.capacity = capacity
        self.segments: list[Segment] = []
        self.counters: Counter[str] = Counter()
        self.now = 0.0
        self._expected: dict[str, Segment] = {}

    def add_segment(self, name: str, host: Adapter) -> Segment:
        """A new broadcast domain with the host's vNIC ``host`` on it."""
        segment = Segment(name, host, MacTable(self.ageing, self.capacity))
        self.segments.append(segment)
        return segment

    def expect_port(self, adapter_name: str, segment: Segment) -> None:
        """Say which segment the adapter about to arrive belongs to."""
        self._expected[adapter_name] = segment

    # Binding --------------------------------------------------------------------

    def bind_adapter_ex(self, bind_context: MiniportBlock, parameters: BindParameters) -> NdisStatus:
        """Models ProtocolBindAdapterEx: the adapter becomes a promiscuous port of its segment."""
        segment = self._expected.pop(parameters.adapter_name, None)
        if segment is None:
            return NdisStatus.NOT_SUPPORTED
        port = Port(parameters.adapter_name, segment, None,
                    parameters.media_connect_state == MediaConnectState.CONNECTED)
        port.binding = self.ndis.open_adapter_ex(self, port, bind_context)
        everything = int(PacketType.PROMISCUOUS).to_bytes(4, "little")
        self.ndis.oid_request(port.binding, NdisOidRequest.set(Oid.OID_GEN_CURRENT_PACKET_FILTER, everything))
        segment.ports[port.name] = port
        self.counters["ports.added"] += 1
        return NdisStatus.SUCCESS

    def unbind_adapter_ex(self, binding_context: Port) -> NdisStatus:
        """Models ProtocolUnbindAdapterEx: the port leaves, and so does what was learned behind it."""
        port = binding_context
        assert port.binding is not None
        self.ndis.close_adapter_ex(port.binding)
        del port.segment.ports[port.name]
        port.segment.table.forget_port(port.name)
        self.counters["ports.removed"] += 1
        return NdisStatus.SUCCESS

    def status_ex(self, binding_context: Port, indication: StatusIndication) -> None:
        """Models ProtocolStatusEx: a port whose link is down gets nothing and is forgotten in the table."""
        if indication.status_code != NdisStatus.LINK_STATE:
            return
        port = binding_context
        port.link_up = indication.payload == MediaConnectState.CONNECTED
        self.counters["link.up" if port.link_up else "link.down"] += 1
        if not port.link_up:
            port.segment.table.forget_port(port.name)

    def oid_request_complete(self, binding_context: Port, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models ProtocolOidRequestComplete; the bind-time filter set never pends, so only count it."""
        self.counters["oid.completed_late"] += 1

    # Forwarding -------------------------------------------------------------------

    def receive_net_buffer_lists(self, binding_context: Port, nbls: NetBufferList, port_number: int,
                                 count: int, flags: int) -> None:
        """Models ProtocolReceiveNetBufferLists: switch every frame, return the NBLs, send what was switched."""
        port = binding_context
        for nbl in iterate(nbls):
            for nb in nbl.net_buffers():
                # A copy: the frame outlives the NBL, which goes back to its miniport below.
                self._forward(port, bytes(nb.data()))
        if not flags & ReceiveFlags.RESOURCES:
            assert port.binding is not None
            self.ndis.return_net_buffer_lists(port.binding, nbls, 0)
        self._flush(port.segment)

    def _forward(self, ingress: Port, frame: bytes) -> None:
        segment = ingress.segment
        ingress.counters["rx_frames"] += 1
        src = frame[6:12]
        dst = frame[0:6]
        if not src[0] & 1:
            segment.table.learn(src, ingress.name, self.now)
        if dst[0] & 1:
            self._flood(segment, ingress, frame)
            return
        if dst == segment.host.current_address:
            target: Port | None = segment.host_port
        else:
            name = segment.table.lookup(dst, self.now)
            if name is None:
                ingress.counters["unknown_unicast_flooded"] += 1
                self._flood(segment, ingress, frame)
                return
            target = segment.host_port if name == HOST_PORT else segment.ports.get(name)
        if target is None or target is ingress:
            ingress.counters["drop.same_port" if target is ingress else "drop.port_gone"] += 1
            return
        if not target.link_up:
            target.counters["drop.link_down"] += 1
            return
        target.outbound.append(frame)

    def _flood(self, segment: Segment, ingress: Port, frame: bytes) -> None:
        ingress.counters["flooded"] += 1
        for port in segment.ports.values():
            if port is not ingress and port.link_up:
                port.outbound.append(frame)
        if ingress is not segment.host_port:
            segment.host_port.outbound.append(frame)

    def _flush(self, segment: Segment) -> None:
        host_port = segment.host_port
        for _ in range(_MAX_HOST_ROUNDS):
            if not host_port.outbound:
                break
            frames, host_port.outbound = host_port.outbound, []
            host_port.counters["tx_frames"] += len(frames)
            # The switch is the host vNIC's wire: what it forwards there, the vNIC receives.
            datapath.receive_frames(segment.host, frames)
            for frame in segment.host.take_transmitted():
                self._forward(host_port, frame)
        else:
            host_port.counters["drop.host_loop"] += len(host_port.outbound)
            host_port.outbound = []
        for port in segment.ports.values():
            if port.outbound:
                frames, port.outbound = port.outbound, []
                port.counters["tx_frames"] += len(frames)
                assert port.binding is not None
                head = chain([NetBufferList.from_frame(frame) for frame in frames])
                assert head is not None
                self.ndis.send_net_buffer_lists(port.binding, head, 0, 0)

    def forward_host_frames(self, segment: Segment) -> None:
        """Forward what the host's vNIC queued on its own, not in reply to a frame (timers)."""
        frames = segment.host.take_transmitted()
        if frames:
            for frame in frames:
                self._forward(segment.host_port, frame)
            self._flush(segment)

    def send_net_buffer_lists_complete(self, binding_context: Port, nbls: NetBufferList, flags: int) -> None:
        """Models ProtocolSendNetBufferListsComplete: count what a port could not take."""
        for nbl in iterate(nbls):
            if nbl.status != NdisStatus.SUCCESS:
                binding_context.counters[f"send_failed.{nbl.status.name.lower()}"] += 1

    # Reports --------------------------------------------------------------------

    def report(self) -> dict[str, int]:
        """Totals over every segment and port, flat, for the per-layer report."""
        out: Counter[str] = Counter(self.counters)
        for segment in self.segments:
            table = segment.table
            out["mac.learned"] += table.learned
            out["mac.moves"] += table.moves
            out["mac.aged_out"] += table.aged_out
            out["mac.evicted"] += table.evicted
            for port in [*segment.ports.values(), segment.host_port]:
                out.update(port.counters)
        return dict(sorted(out.items()))

    def query(self) -> list[dict[str, object]]:
        """Every segment with its ports, their counters and the MAC table."""
        return [{
            "segment": segment.name,
            "host_vnic": segment.host.config.name,
            "ports": {port.name: {"link_up": port.link_up, **dict(sorted(port.counters.items()))}
                      for port in [*segment.ports.values(), segment.host_port]},
            "mac_table": segment.table.snapshot(self.now),
        } for segment in self.segments]

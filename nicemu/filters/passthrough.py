"""A filter that passes everything on and counts it: the model for capture, trace, lint and fault filters."""

from __future__ import annotations

from collections import Counter

from nicemu.ndis.drivers import FilterAttachParameters, StatusIndication
from nicemu.ndis.nbl import NetBufferList, iterate
from nicemu.ndis.ndis import FilterModule, Ndis
from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.status import NdisStatus


class PassThroughModule:
    """One pass-through filter's context on one adapter: its handle and its counts."""

    __slots__ = ("handle", "counters")

    def __init__(self, handle: FilterModule) -> None:
        self.handle = handle
        self.counters: Counter[str] = Counter()


class PassThroughFilter:
    """Models a lightweight filter with every handler, each passing the call on unchanged."""

    def __init__(self, ndis: Ndis, name: str = "passthrough", altitude: int = 1000) -> None:
        self.ndis = ndis
        self.name = name
        self.altitude = altitude
        self.modules: list[PassThroughModule] = []

    def attach(self, module: FilterModule, parameters: FilterAttachParameters) -> NdisStatus:
        """Models FilterAttach."""
        context = PassThroughModule(module)
        self.modules.append(context)
        return self.ndis.f_set_attributes(module, context)

    def detach(self, context: PassThroughModule) -> None:
        """Models FilterDetach."""
        self.modules.remove(context)

    def pause(self, context: PassThroughModule) -> NdisStatus:
        """Models FilterPause: it holds no NBL of its own, so it is paused at once."""
        context.counters["pauses"] += 1
        return NdisStatus.SUCCESS

    def restart(self, context: PassThroughModule) -> NdisStatus:
        """Models FilterRestart."""
        context.counters["restarts"] += 1
        return NdisStatus.SUCCESS

    def send_net_buffer_lists(self, context: PassThroughModule, nbls: NetBufferList, port: int, flags: int) -> None:
        """Models FilterSendNetBufferLists."""
        context.counters["sends"] += sum(1 for _ in iterate(nbls))
        self.ndis.f_send_net_buffer_lists(context.handle, nbls, port, flags)

    def send_net_buffer_lists_complete(self, context: PassThroughModule, nbls: NetBufferList, flags: int) -> None:
        """Models FilterSendNetBufferListsComplete."""
        context.counters["send_completes"] += sum(1 for _ in iterate(nbls))
        self.ndis.f_send_net_buffer_lists_complete(context.handle, nbls, flags)

    def receive_net_buffer_lists(self, context: PassThroughModule, nbls: NetBufferList, port: int, count: int,
                                 flags: int) -> None:
        """Models FilterReceiveNetBufferLists."""
        context.counters["receives"] += count
        self.ndis.f_indicate_receive_net_buffer_lists(context.handle, nbls, port, count, flags)

    def return_net_buffer_lists(self, context: PassThroughModule, nbls: NetBufferList, flags: int) -> None:
        """Models FilterReturnNetBufferLists."""
        context.counters["returns"] += sum(1 for _ in iterate(nbls))
        self.ndis.f_return_net_buffer_lists(context.handle, nbls, flags)

    def oid_request(self, context: PassThroughModule, request: NdisOidRequest) -> NdisStatus:
        """Models FilterOidRequest."""
        context.counters["oid_requests"] += 1
        return self.ndis.f_oid_request(context.handle, request)

    def oid_request_complete(self, context: PassThroughModule, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models FilterOidRequestComplete."""
        context.counters["oid_completes"] += 1
        self.ndis.f_oid_request_complete(context.handle, request, status)

    def status(self, context: PassThroughModule, indication: StatusIndication) -> None:
        """Models FilterStatus."""
        context.counters["statuses"] += 1
        self.ndis.f_indicate_status(context.handle, indication)

"""Recording drivers: they do what NDIS asks and remember every call, for the NDIS unit tests."""

from __future__ import annotations

from nicemu.ndis.drivers import MiniportAttributes
from nicemu.ndis.nbl import NetBufferList, iterate
from nicemu.ndis.ndis import ReceiveFlags
from nicemu.ndis.oid import MediaConnectState
from nicemu.ndis.status import NdisStatus


class RecordingMiniport:
    """A miniport that keeps what it is sent and completes it only when told."""

    name = "recording-miniport"

    def __init__(self, ndis):
        self.ndis = ndis
        self.sent: list[NetBufferList] = []
        self.returned: list[NetBufferList] = []
        self.halted = []
        self.oid_status = NdisStatus.SUCCESS
        self.pause_status = NdisStatus.SUCCESS
        self.requests = []
        self.events = []

    def initialize_ex(self, miniport, parameters):
        context = {"block": miniport, "name": miniport.name}
        attributes = MiniportAttributes(b"\x02" * 6, b"\x02" * 6, 1500, MediaConnectState.CONNECTED)
        return self.ndis.m_set_miniport_attributes(miniport, context, attributes)

    def halt_ex(self, adapter_context):
        self.halted.append(adapter_context["name"])

    def send_net_buffer_lists(self, adapter_context, nbls, port, flags):
        self.sent.extend(iterate(nbls))

    def return_net_buffer_lists(self, adapter_context, nbls, flags):
        self.returned.extend(iterate(nbls))

    def oid_request(self, adapter_context, request):
        self.requests.append(request)
        return self.oid_status

    def pause(self, adapter_context):
        self.events.append(("pause", adapter_context["name"]))
        return self.pause_status

    def restart(self, adapter_context):
        self.events.append(("restart", adapter_context["name"]))
        return NdisStatus.SUCCESS


class RecordingProtocol:
    """A protocol that binds to everything and keeps received NBLs until told to return them."""

    def __init__(self, ndis, name="recording-protocol", keep=True):
        self.ndis = ndis
        self.name = name
        self.keep = keep
        self.bindings = {}
        self.received = []
        self.completed = []
        self.statuses = []
        self.late_requests = []
        self.pnp_events = []

    def bind_adapter_ex(self, bind_context, parameters):
        binding = self.ndis.open_adapter_ex(self, parameters.adapter_name, bind_context)
        self.bindings[parameters.adapter_name] = binding
        return NdisStatus.SUCCESS

    def unbind_adapter_ex(self, binding_context):
        self.ndis.close_adapter_ex(self.bindings.pop(binding_context))
        return NdisStatus.SUCCESS

    def receive_net_buffer_lists(self, binding_context, nbls, port, count, flags):
        self.received.append((binding_context, list(iterate(nbls)), count, flags))
        if not self.keep and not flags & ReceiveFlags.RESOURCES:
            self.ndis.return_net_buffer_lists(self.bindings[binding_context], nbls)

    def send_net_buffer_lists_complete(self, binding_context, nbls, flags):
        self.completed.extend((binding_context, nbl, nbl.status) for nbl in iterate(nbls))

    def status_ex(self, binding_context, indication):
        self.statuses.append((binding_context, indication))

    def oid_request_complete(self, binding_context, request, status):
        self.late_requests.append((binding_context, request, status))

    def net_pnp_event(self, binding_context, event):
        self.pnp_events.append((binding_context, event))

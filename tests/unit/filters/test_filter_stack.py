"""Filter modules between miniport and protocols: order, bypass of missing handlers, attach and detach."""

import pytest

from nicemu.filters.passthrough import PassThroughFilter
from nicemu.ndis.drivers import StatusIndication
from nicemu.ndis.nbl import NetBufferList, chain
from nicemu.ndis.ndis import NdisVerifierError
from nicemu.ndis.oid import NdisOidRequest, Oid
from nicemu.ndis.states import FilterState, MiniportState
from nicemu.ndis.status import NdisStatus
from tests.unit.ndis.drivers import RecordingProtocol


class ReceiveOnly:
    """A filter with one data handler: NDIS must bypass it on every other path."""

    def __init__(self, ndis, log, name="receive-only", altitude=500):
        self.ndis, self.log, self.name, self.altitude = ndis, log, name, altitude

    def attach(self, module, parameters):
        return self.ndis.f_set_attributes(module, module)

    def receive_net_buffer_lists(self, handle, nbls, port, count, flags):
        self.log.append(self.name)
        self.ndis.f_indicate_receive_net_buffer_lists(handle, nbls, port, count, flags)


class Originator:
    """A filter that sends frames of its own and keeps their completions."""

    name, altitude = "originator", 700

    def __init__(self, ndis):
        self.ndis = ndis
        self.completed = []

    def attach(self, module, parameters):
        self.handle = module
        return self.ndis.f_set_attributes(module, self)

    def send_net_buffer_lists_complete(self, context, nbls, flags):
        mine = [n for n in _walk(nbls) if n.source_handle is self.handle]
        others = [n for n in _walk(nbls) if n.source_handle is not self.handle]
        self.completed += mine
        if others:
            self.ndis.f_send_net_buffer_lists_complete(self.handle, chain(others), flags)


def _walk(nbls):
    from nicemu.ndis.nbl import iterate

    return list(iterate(nbls))


def test_filters__stack_by_altitude_whatever_the_registration_order(ndis, miniport):
    log = []
    ndis.f_register_filter_driver(ReceiveOnly(ndis, log, "high", 900))
    ndis.f_register_filter_driver(ReceiveOnly(ndis, log, "low", 100))
    ndis.f_register_filter_driver(ReceiveOnly(ndis, log, "middle", 500))
    ndis.register_protocol_driver(RecordingProtocol(ndis, keep=False))
    block = ndis.initialize_adapter(miniport, "a0")
    assert [m.driver.name for m in block.filters] == ["low", "middle", "high"]
    ndis.m_indicate_receive_net_buffer_lists(block, NetBufferList.from_frame(bytes(60), block), 0, 1)
    assert log == ["low", "middle", "high"]


def test_filters__pass_through_sees_every_path_and_changes_nothing(ndis, miniport):
    passthrough = ndis.f_register_filter_driver(PassThroughFilter(ndis))
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis, keep=False))
    block = ndis.initialize_adapter(miniport, "a0")
    binding = protocol.bindings["a0"]
    sent = NetBufferList.from_frame(b"s" * 60)
    ndis.send_net_buffer_lists(binding, sent)
    ndis.m_send_net_buffer_lists_complete(block, sent)
    received = NetBufferList.from_frame(b"r" * 60, block)
    ndis.m_indicate_receive_net_buffer_lists(block, received, 0, 1)
    ndis.m_indicate_status_ex(block, StatusIndication(NdisStatus.LINK_STATE, "up"))
    request = NdisOidRequest.query(Oid.OID_GEN_LINK_SPEED, 4)
    ndis.oid_request(binding, request)
    (module,) = passthrough.modules
    assert dict(module.counters) == {"restarts": 1, "sends": 1, "send_completes": 1, "receives": 1, "returns": 1,
                                     "statuses": 1, "oid_requests": 1}
    assert miniport.sent == [sent] and miniport.returned == [received] and miniport.requests == [request]
    assert protocol.completed == [("a0", sent, NdisStatus.SUCCESS)]
    assert protocol.statuses[-1][1].payload == "up"


def test_filters__a_missing_handler_means_the_module_is_bypassed_on_that_path(ndis, miniport):
    ndis.f_register_filter_driver(ReceiveOnly(ndis, []))
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis, keep=False))
    block = ndis.initialize_adapter(miniport, "a0")
    sent = NetBufferList.from_frame(bytes(60))
    ndis.send_net_buffer_lists(protocol.bindings["a0"], sent)
    ndis.m_send_net_buffer_lists_complete(block, sent)
    assert miniport.sent == [sent]
    assert protocol.completed == [("a0", sent, NdisStatus.SUCCESS)]


def test_filters__a_pended_oid_completes_up_through_the_filters_to_the_binding(ndis, miniport):
    passthrough = ndis.f_register_filter_driver(PassThroughFilter(ndis))
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    miniport.oid_status = NdisStatus.PENDING
    request = NdisOidRequest.query(Oid.OID_GEN_LINK_SPEED, 4)
    assert ndis.oid_request(protocol.bindings["a0"], request) == NdisStatus.PENDING
    ndis.m_oid_request_complete(block, request, NdisStatus.SUCCESS)
    assert protocol.late_requests == [("a0", request, NdisStatus.SUCCESS)]
    assert passthrough.modules[0].counters["oid_completes"] == 1


def test_filters__registering_on_a_running_adapter_pauses_attaches_and_restarts(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    passthrough = ndis.f_register_filter_driver(PassThroughFilter(ndis))
    (module,) = block.filters
    assert module.state is FilterState.RUNNING and block.state is MiniportState.RUNNING
    assert miniport.events == [("restart", "a0"), ("pause", "a0"), ("restart", "a0")]
    assert [event.value for _, event in protocol.pnp_events] == ["NetEventRestart", "NetEventPause",
                                                                 "NetEventRestart"]
    ndis.f_deregister_filter_driver(passthrough)
    assert block.filters == [] and passthrough.modules == []
    assert ndis.counters.filters_detached == 1 and block.state is MiniportState.RUNNING


def test_filters__a_filters_own_sends_complete_to_it_and_not_to_the_protocols(ndis, miniport):
    originator = ndis.f_register_filter_driver(Originator(ndis))
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    own = NetBufferList.from_frame(b"o" * 60)
    ndis.f_send_net_buffer_lists(originator.handle, own)
    theirs = NetBufferList.from_frame(b"p" * 60)
    ndis.send_net_buffer_lists(protocol.bindings["a0"], theirs)
    ndis.m_send_net_buffer_lists_complete(block, chain([own, theirs]))
    assert originator.completed == [own]
    assert protocol.completed == [("a0", theirs, NdisStatus.SUCCESS)]


def test_verifier__a_filters_completion_reaching_the_protocols_is_an_error(ndis, miniport):
    passthrough = ndis.f_register_filter_driver(PassThroughFilter(ndis))
    ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    own = NetBufferList.from_frame(b"o" * 60)
    ndis.f_send_net_buffer_lists(passthrough.modules[0].handle, own)
    with pytest.raises(NdisVerifierError, match="must keep its own completions"):
        ndis.m_send_net_buffer_lists_complete(block, own)


def test_halt__detaches_every_filter_after_unbinding(ndis, miniport):
    passthrough = ndis.f_register_filter_driver(PassThroughFilter(ndis))
    ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    ndis.halt_adapter(block)
    assert passthrough.modules == [] and block.filters == [] and block.halted



import pytest

from nicemu.ndis.drivers import StatusIndication
from nicemu.ndis.nbl import NetBufferList, chain
from nicemu.ndis.ndis import NdisVerifierError, ReceiveFlags
from nicemu.ndis.oid import NdisOidRequest, Oid
from nicemu.ndis.states import IllegalTransition
from nicemu.ndis.status import NdisStatus
from tests.unit.ndis.drivers import RecordingMiniport, RecordingProtocol


def frames(n, source_handle=None):
    """NBLs of 60-byte frames; a miniport indicating them passes its adapter handle as their source."""
    return [NetBufferList.from_frame(bytes([i]) * 60, source_handle) for i in range(n)]


def test_register_protocol__binds_to_adapters_present_and_future(ndis, miniport):
    ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    ndis.initialize_adapter(miniport, "a1")
    assert sorted(protocol.bindings) == ["a0", "a1"]
    assert ndis.counters.bindings_opened == 2


def test_initialize_adapter__refuses_an_unregistered_driver(ndis):
    with pytest.raises(ValueError, match="not registered"):
        ndis.initialize_adapter(RecordingMiniport(ndis), "a0")


def test_send__reaches_the_miniport_and_completes_to_the_sender_with_each_status(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    one = ndis.register_protocol_driver(RecordingProtocol(ndis, "one"))
    two = ndis.register_protocol_driver(RecordingProtocol(ndis, "two"))
    sent_one, sent_two = frames(2)
    ndis.send_net_buffer_lists(one.bindings["a0"], sent_one)
    ndis.send_net_buffer_lists(two.bindings["a0"], sent_two)
    assert miniport.sent == [sent_one, sent_two]
    assert sent_one.owner is block
    sent_two.status = NdisStatus.MEDIA_DISCONNECTED
    ndis.m_send_net_buffer_lists_complete(block, chain([sent_one, sent_two]))
    assert one.completed == [("a0", sent_one, NdisStatus.SUCCESS)]
    assert two.completed == [("a0", sent_two, NdisStatus.MEDIA_DISCONNECTED)]
    assert (ndis.counters.sends, ndis.counters.send_completes) == (2, 2)


def test_verifier__raises_on_a_double_send_complete(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    (nbl,) = frames(1)
    ndis.send_net_buffer_lists(protocol.bindings["a0"], nbl)
    ndis.m_send_net_buffer_lists_complete(block, nbl)
    with pytest.raises(NdisVerifierError, match="double complete"):
        ndis.m_send_net_buffer_lists_complete(block, nbl)


def test_verifier__raises_on_a_send_on_a_closed_binding(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    binding = protocol.bindings["a0"]
    ndis.halt_adapter(block)
    with pytest.raises(NdisVerifierError, match="not open"):
        ndis.send_net_buffer_lists(binding, frames(1)[0])


def test_verifier__raises_when_a_binding_closes_with_sends_in_flight(ndis, miniport):
    ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    ndis.send_net_buffer_lists(protocol.bindings["a0"], frames(1)[0])
    with pytest.raises(NdisVerifierError, match="1 sends in flight"):
        ndis.close_adapter_ex(protocol.bindings["a0"])


def test_close_adapter__of_a_running_binding_is_an_illegal_transition(ndis, miniport):
    ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    with pytest.raises(IllegalTransition, match="'close' is not allowed in state RUNNING"):
        ndis.close_adapter_ex(protocol.bindings["a0"])


def test_indicate__every_binding_sees_it_and_the_miniport_gets_it_back_after_the_last_return(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    one = ndis.register_protocol_driver(RecordingProtocol(ndis, "one"))
    two = ndis.register_protocol_driver(RecordingProtocol(ndis, "two"))
    received = frames(3, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 3)
    assert [nbls for _, nbls, _, _ in one.received] == [received]
    assert [nbls for _, nbls, _, _ in two.received] == [received]
    ndis.return_net_buffer_lists(one.bindings["a0"], chain(received))
    assert miniport.returned == []
    ndis.return_net_buffer_lists(two.bindings["a0"], chain(received[:1]))
    assert miniport.returned == received[:1]
    ndis.return_net_buffer_lists(two.bindings["a0"], chain(received[1:]))
    assert miniport.returned == received
    assert ndis.counters.returns == 6


def test_indicate__with_resources_flag_the_miniport_has_the_nbls_back_when_the_call_returns(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    received = frames(2, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 2, ReceiveFlags.RESOURCES)
    assert protocol.received[0][3] == ReceiveFlags.RESOURCES
    assert miniport.returned == []  # the miniport never lent them: it still owns them
    with pytest.raises(NdisVerifierError, match="does not hold"):
        ndis.return_net_buffer_lists(protocol.bindings["a0"], received[0])


def test_indicate__with_no_binding_goes_straight_back_to_the_miniport(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    received = frames(2, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 2)
    assert miniport.returned == received


def test_verifier__raises_on_a_return_of_an_nbl_the_binding_does_not_hold(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    received = frames(1, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 1)
    ndis.return_net_buffer_lists(protocol.bindings["a0"], received[0])
    with pytest.raises(NdisVerifierError, match="does not hold"):
        ndis.return_net_buffer_lists(protocol.bindings["a0"], received[0])


def test_status_indication__reaches_every_binding_of_the_adapter_only(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    ndis.initialize_adapter(miniport, "a1")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    indication = StatusIndication(NdisStatus.LINK_STATE, "down")
    ndis.m_indicate_status_ex(block, indication)
    assert protocol.statuses == [("a0", indication)]


def test_halt_adapter__unbinds_every_protocol_then_halts_the_miniport(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis, keep=False))
    ndis.halt_adapter(block)
    assert protocol.bindings == {}
    assert miniport.halted == ["a0"]
    assert block.halted and ndis.miniports == []
    assert ndis.counters.bindings_closed == 1


def test_oid_request__pended_request_completes_to_the_binding_that_asked(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    miniport.oid_status = NdisStatus.PENDING
    request = NdisOidRequest.query(Oid.OID_GEN_LINK_SPEED, 4)
    assert ndis.oid_request(protocol.bindings["a0"], request) == NdisStatus.PENDING
    ndis.m_oid_request_complete(block, request, NdisStatus.SUCCESS)
    assert protocol.late_requests == [("a0", request, NdisStatus.SUCCESS)]
    with pytest.raises(NdisVerifierError, match="not pending"):
        ndis.m_oid_request_complete(block, request, NdisStatus.SUCCESS)


def test_ndis_status__error_severity_matches_nt_error():
    assert NdisStatus.PAUSED.is_error
    assert not NdisStatus.SUCCESS.is_error
    assert not NdisStatus.LINK_STATE.is_error


def test_verifier__raises_when_a_miniport_indicates_an_nbl_a_protocol_still_holds(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    ndis.register_protocol_driver(RecordingProtocol(ndis, "holder"))
    received = frames(1, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 1)
    with pytest.raises(NdisVerifierError, match=r"binding\(s\) still own"):
        ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 1)

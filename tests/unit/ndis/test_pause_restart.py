
from nicemu.ndis.drivers import NetPnpEvent
from nicemu.ndis.nbl import NetBufferList, chain
from nicemu.ndis.states import BindingState, MiniportState
from nicemu.ndis.status import NdisStatus
from tests.unit.ndis.drivers import RecordingProtocol


def nbls(n, source_handle=None):
    return [NetBufferList.from_frame(bytes([i]) * 60, source_handle) for i in range(n)]


def test_initialize__ends_with_miniport_and_bindings_running(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    assert block.state is MiniportState.RUNNING
    assert protocol.bindings["a0"].state is BindingState.RUNNING
    assert protocol.pnp_events == [("a0", NetPnpEvent.RESTART)]
    assert miniport.events == [("restart", "a0")]


def test_pause__goes_top_down_and_restart_bottom_up(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    paused = []
    ndis.pause_stack(block, lambda: paused.append(True))
    assert paused == [True]
    assert protocol.bindings["a0"].state is BindingState.PAUSED and block.state is MiniportState.PAUSED
    assert protocol.pnp_events[-1] == ("a0", NetPnpEvent.PAUSE)
    ndis.restart_stack(block)
    assert protocol.bindings["a0"].state is BindingState.RUNNING and block.state is MiniportState.RUNNING


def test_pause__waits_for_sends_in_flight_and_completes_on_the_last_completion(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    sent = nbls(2)
    ndis.send_net_buffer_lists(protocol.bindings["a0"], chain(sent))
    paused = []
    ndis.pause_stack(block, lambda: paused.append(True))
    assert protocol.bindings["a0"].state is BindingState.PAUSING
    assert block.state is MiniportState.RUNNING and paused == []
    sent[0].next = None
    ndis.m_send_net_buffer_lists_complete(block, sent[0])
    assert paused == []
    ndis.m_send_net_buffer_lists_complete(block, sent[1])
    assert paused == [True] and block.state is MiniportState.PAUSED


def test_pause__waits_for_receives_held_by_a_binding(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    received = nbls(1, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 1)
    paused = []
    ndis.pause_stack(block, lambda: paused.append(True))
    assert paused == []
    ndis.return_net_buffer_lists(protocol.bindings["a0"], received[0])
    assert paused == [True]
    assert miniport.returned == received


def test_pause__a_miniport_that_pends_finishes_the_pause_with_m_pause_complete(ndis, miniport):
    block = ndis.initialize_adapter(miniport, "a0")
    miniport.pause_status = NdisStatus.PENDING
    paused = []
    ndis.pause_stack(block, lambda: paused.append(True))
    assert block.state is MiniportState.PAUSING and paused == []
    ndis.m_pause_complete(block)
    assert block.state is MiniportState.PAUSED and paused == [True]


def test_send__on_a_paused_binding_completes_at_once_with_ndis_status_paused(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    ndis.pause_stack(block)
    (nbl,) = nbls(1)
    ndis.send_net_buffer_lists(protocol.bindings["a0"], nbl)
    assert miniport.sent == []
    assert protocol.completed == [("a0", nbl, NdisStatus.PAUSED)]


def test_receive__while_a_binding_is_pausing_goes_straight_back_to_the_miniport(ndis, miniport):
    holding = ndis.register_protocol_driver(RecordingProtocol(ndis, "holding"))
    block = ndis.initialize_adapter(miniport, "a0")
    first = nbls(1, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(first), 0, 1)
    ndis.pause_stack(block)
    assert holding.bindings["a0"].state is BindingState.PAUSING
    late = nbls(1, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(late), 0, 1)
    assert [nbls for _, nbls, _, _ in holding.received] == [first]
    assert miniport.returned == late


def test_halt__with_receives_held_waits_until_they_are_returned(ndis, miniport):
    protocol = ndis.register_protocol_driver(RecordingProtocol(ndis))
    block = ndis.initialize_adapter(miniport, "a0")
    received = nbls(1, block)
    ndis.m_indicate_receive_net_buffer_lists(block, chain(received), 0, 1)
    ndis.halt_adapter(block)
    assert miniport.halted == []
    protocol.keep = False
    ndis.return_net_buffer_lists(protocol.bindings["a0"], received[0])
    assert miniport.halted == ["a0"] and block.halted
    assert protocol.bindings == {}

"""Every transition of the TCP table, reached by driving real connections through it."""

from collections.abc import Callable
from functools import partial

import pytest

from nicemu.protocols.tcp import (
    SYN,
    TRANSITIONS,
    IllegalTransition,
    Segment,
    TcpConfig,
    TcpConnection,
    TcpEndpoint,
    TcpError,
    reset_for,
)
from nicemu.protocols.tcp.states import StateMachine, TcpEvent, TcpState

from .harness import (
    CLIENT_PORT,
    SERVER_PORT,
    EndpointEnd,
    Recorder,
    Wire,
    established_pair,
    make_pair,
    reach,
    rst_from_peer,
)

S, E = TcpState, TcpEvent
LONG = 3600.0


def open_then_close_actively_and_passively(recorder: Recorder) -> None:
    client, server, wire = established_pair(recorder)
    client.close(wire.now)
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    server.close(wire.now)
    wire.run(lambda: client.state is S.CLOSED and server.state is S.CLOSED, for_seconds=LONG)
    assert client.state is S.CLOSED and server.state is S.CLOSED


def listen_then_stop(recorder: Recorder) -> None:
    endpoint = TcpEndpoint(b"key", on_transition=recorder)
    listener = endpoint.listen(SERVER_PORT)
    assert listener.state is S.LISTEN
    endpoint.stop_listening(listener, 0.0)
    assert listener.state is S.CLOSED


def open_simultaneously(recorder: Recorder) -> None:
    a = TcpConnection(CLIENT_PORT, SERVER_PORT, 1000, on_transition=recorder)
    b = TcpConnection(SERVER_PORT, CLIENT_PORT, 7000, on_transition=recorder)
    wire = Wire(a, b)
    a.connect(wire.now)
    b.connect(wire.now)
    wire.run(lambda: a.state is S.ESTABLISHED and b.state is S.ESTABLISHED)
    assert a.state is S.ESTABLISHED and b.state is S.ESTABLISHED


def close_simultaneously(recorder: Recorder) -> None:
    client, server, wire = established_pair(recorder)
    client.close(wire.now)
    server.close(wire.now)
    wire.run(lambda: client.state is S.CLOSED and server.state is S.CLOSED, for_seconds=LONG)
    assert client.state is S.CLOSED and server.state is S.CLOSED


def receive_the_fin_again_in_time_wait(recorder: Recorder) -> None:
    client, server, wire = established_pair(recorder)
    client.close(wire.now)
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    lost = []
    wire.drop = lambda sender, segment: sender == "a" and not lost and not lost.append(segment)
    server.close(wire.now)
    wire.run(lambda: server.state is S.CLOSED, for_seconds=LONG)
    assert (S.TIME_WAIT, E.RCV_FIN) in recorder.seen


def be_refused(recorder: Recorder) -> None:
    client, _ = make_pair(recorder)
    client.connect(0.0)
    (syn,) = client.take_outgoing()
    reset = reset_for(syn)
    assert reset is not None
    client.receive(Segment(reset.src_port, reset.dst_port, reset.seq, reset.ack, reset.flags, 0), 0.001)
    assert client.state is S.CLOSED


def close_in_syn_received(recorder: Recorder) -> None:
    server, _client, wire = reach(S.SYN_RECEIVED, recorder)
    server.close(wire.now)
    assert server.state is S.FIN_WAIT_1


def take_over_time_wait(recorder: Recorder) -> None:
    host = TcpEndpoint(b"key", on_transition=recorder)
    listener = host.listen(SERVER_PORT)
    old = TcpConnection(CLIENT_PORT, SERVER_PORT, 1000, on_transition=recorder)
    wire = Wire(old, EndpointEnd(host, b"\x0a\x00\x02\x02", b"\x0a\x00\x02\x0f"))
    old.connect(wire.now)
    wire.run(lambda: bool(listener.accept_queue))
    accepted = listener.accept()
    assert accepted is not None
    accepted.close(wire.now)  # the server closes first, so it is the one in TIME-WAIT
    wire.run(lambda: old.state is S.CLOSE_WAIT)
    old.close(wire.now)
    wire.run(lambda: accepted.state is S.TIME_WAIT and old.state is S.CLOSED)
    new = TcpConnection(CLIENT_PORT, SERVER_PORT, 50_000, on_transition=recorder)
    wire.a = new
    wire.advance(1.0)
    new.connect(wire.now)
    wire.run(lambda: new.state is S.ESTABLISHED)
    assert accepted.state is S.CLOSED and new.state is S.ESTABLISHED


def tear_down(state: TcpState, event: TcpEvent, recorder: Recorder) -> None:
    """Reach ``state``, then reset it from the peer, abort it, close it, or let it time out."""
    config = TcpConfig(fin_wait_2_timeout=30.0)
    connection, _, wire = reach(state, recorder, config, config)
    if event is E.RCV_RST:
        if state is S.SYN_SENT:
            connection.receive(Segment(SERVER_PORT, CLIENT_PORT, 0, connection.iss + 1, reset_for_syn_flags(), 0),
                               wire.now)
        else:
            connection.receive(rst_from_peer(connection), wire.now)
    elif event is E.ABORT:
        connection.abort(wire.now)
    elif event is E.CLOSE:
        connection.close(wire.now)
    else:
        if state in (S.ESTABLISHED, S.CLOSE_WAIT):
            connection.send(b"never acknowledged", wire.now)
        wire.run(lambda: connection.state is S.CLOSED, for_seconds=LONG)
    assert connection.state is S.CLOSED


def reset_for_syn_flags() -> int:
    reset = reset_for(Segment(CLIENT_PORT, SERVER_PORT, 1000, 0, SYN, 0))
    assert reset is not None
    return reset.flags


SCENARIOS: dict[tuple[TcpState, TcpEvent], Callable[[Recorder], None]] = {
    (S.CLOSED, E.OPEN_ACTIVE): open_then_close_actively_and_passively,
    (S.LISTEN, E.RCV_SYN): open_then_close_actively_and_passively,
    (S.SYN_SENT, E.RCV_SYN_ACK): open_then_close_actively_and_passively,
    (S.SYN_RECEIVED, E.RCV_ACK): open_then_close_actively_and_passively,
    (S.ESTABLISHED, E.CLOSE): open_then_close_actively_and_passively,
    (S.ESTABLISHED, E.RCV_FIN): open_then_close_actively_and_passively,
    (S.FIN_WAIT_1, E.RCV_ACK_OF_FIN): open_then_close_actively_and_passively,
    (S.FIN_WAIT_2, E.RCV_FIN): open_then_close_actively_and_passively,
    (S.CLOSE_WAIT, E.CLOSE): open_then_close_actively_and_passively,
    (S.LAST_ACK, E.RCV_ACK_OF_FIN): open_then_close_actively_and_passively,
    (S.TIME_WAIT, E.TIME_WAIT_EXPIRED): open_then_close_actively_and_passively,
    (S.CLOSED, E.OPEN_PASSIVE): listen_then_stop,
    (S.LISTEN, E.CLOSE): listen_then_stop,
    (S.SYN_SENT, E.RCV_SYN): open_simultaneously,
    (S.FIN_WAIT_1, E.RCV_FIN): close_simultaneously,
    (S.CLOSING, E.RCV_ACK_OF_FIN): close_simultaneously,
    (S.TIME_WAIT, E.RCV_FIN): receive_the_fin_again_in_time_wait,
    (S.SYN_RECEIVED, E.CLOSE): close_in_syn_received,
    (S.TIME_WAIT, E.REUSE): take_over_time_wait,
    (S.SYN_SENT, E.CLOSE): partial(tear_down, S.SYN_SENT, E.CLOSE),
    (S.TIME_WAIT, E.RCV_RST): partial(tear_down, S.TIME_WAIT, E.RCV_RST),
    (S.TIME_WAIT, E.ABORT): partial(tear_down, S.TIME_WAIT, E.ABORT),
    **{(state, event): partial(tear_down, state, event)
       for state in (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT,
                     S.CLOSING, S.LAST_ACK)
       for event in (E.RCV_RST, E.ABORT, E.TIMEOUT)},
}


def _name(transition: tuple[TcpState, TcpEvent]) -> str:
    return f"{transition[0].name}-{transition[1].value}"


@pytest.mark.parametrize("transition", sorted(TRANSITIONS, key=_name), ids=_name)
def test_tcp__scenario_reaches_transition(transition):
    recorder = Recorder()
    SCENARIOS[transition](recorder)  # a KeyError here: a transition without a scenario
    assert transition in recorder.seen


def test_tcp__scenarios_together_reach_exactly_the_table():
    recorder = Recorder()
    for scenario in set(SCENARIOS.values()):
        scenario(recorder)
    assert recorder.seen == set(TRANSITIONS)
    assert set(SCENARIOS) == set(TRANSITIONS)


def test_tcp__every_transition_the_connection_takes_leads_where_the_table_says():
    recorder = Recorder()
    for scenario in set(SCENARIOS.values()):
        scenario(recorder)
    for _, before, event, after in recorder.log:
        assert TRANSITIONS[(before, event)] is after


@pytest.mark.parametrize("state", list(TcpState), ids=lambda s: s.name)
def test_tcp__an_event_the_table_lacks_raises(state):
    missing = [event for event in TcpEvent if (state, event) not in TRANSITIONS]
    assert missing
    for event in missing:
        machine = StateMachine("tcp", TRANSITIONS, state)
        with pytest.raises(IllegalTransition):
            machine.fire(event)
        assert machine.state is state


def test_tcp__closing_twice_or_aborting_a_closed_connection_is_not_a_transition():
    recorder = Recorder()
    client, _server, wire = established_pair(recorder)
    client.close(wire.now)
    before = len(recorder.log)
    client.close(wire.now)
    assert len(recorder.log) == before
    client.abort(wire.now)
    client.abort(wire.now)
    assert client.state is S.CLOSED


def test_tcp__sending_after_close_raises():
    client, _server, wire = established_pair()
    client.close(wire.now)
    with pytest.raises(TcpError):
        client.send(b"late", wire.now)

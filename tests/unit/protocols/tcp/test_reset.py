"""Resets: RST validation and challenge ACKs (RFC 5961), aborts, and RSTs in every state."""

import pytest

from nicemu.protocols.tcp import ACK, RST, SYN, Closed, ConnectionReset, Segment, TcpConfig
from nicemu.protocols.tcp.states import TcpState

from .harness import established_pair, reach, rst_from_peer

S = TcpState
RESETTABLE = [S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK,
              S.TIME_WAIT]


@pytest.mark.parametrize("state", RESETTABLE, ids=lambda s: s.name)
def test_tcp__rst_at_exactly_rcv_nxt_resets_the_connection(state):
    connection, _, wire = reach(state)
    connection.take_events()
    connection.receive(rst_from_peer(connection), wire.now)
    assert connection.state is S.CLOSED
    assert connection.take_events() == [ConnectionReset(), Closed()]
    assert connection.next_deadline() is None and connection.take_outgoing() == []


@pytest.mark.parametrize("state", RESETTABLE, ids=lambda s: s.name)
def test_tcp__rst_in_the_window_but_not_at_rcv_nxt_draws_a_challenge_ack(state):
    connection, _, wire = reach(state)
    connection.take_outgoing()
    connection.receive(rst_from_peer(connection, seq_offset=100), wire.now)
    assert connection.state is state
    (challenge,) = connection.take_outgoing()
    assert challenge.flags & ACK and not challenge.flags & RST
    assert challenge.ack == connection.rcv_nxt & 0xFFFF_FFFF
    assert connection.stats["tx.challenge_acks"] == 1


def test_tcp__rst_outside_the_window_is_dropped_silently():
    client, _, wire = reach(S.ESTABLISHED)
    client.take_outgoing()
    client.receive(rst_from_peer(client, seq_offset=10_000_000), wire.now)
    client.receive(rst_from_peer(client, seq_offset=-1), wire.now)
    assert client.state is S.ESTABLISHED and client.take_outgoing() == []
    assert client.stats["rx.out_of_window"] == 2


def test_tcp__syn_on_an_established_connection_draws_a_challenge_ack():
    client, _, wire = reach(S.ESTABLISHED)
    client.take_outgoing()
    for seq in (client.rcv_nxt, client.rcv_nxt + 500):
        client.receive(Segment(client.remote_port, client.local_port, seq & 0xFFFF_FFFF, 0, SYN, 1000), wire.now)
    assert client.state is S.ESTABLISHED
    assert [s.flags for s in client.take_outgoing()] == [ACK, ACK]
    assert client.stats["tx.challenge_acks"] == 2


def test_tcp__challenge_acks_are_rate_limited_per_second():
    config = TcpConfig(challenge_ack_limit=3)
    client, _, wire = reach(S.ESTABLISHED, client_config=config)
    client.take_outgoing()
    for _ in range(10):
        client.receive(rst_from_peer(client, seq_offset=5), wire.now)
    assert len(client.take_outgoing()) == 3
    assert client.stats["tx.challenge_acks_suppressed"] == 7
    client.receive(rst_from_peer(client, seq_offset=5), wire.now + 1.0)
    assert len(client.take_outgoing()) == 1


def test_tcp__an_ack_for_data_never_sent_is_answered_and_dropped():
    client, _, wire = reach(S.ESTABLISHED)
    client.take_outgoing()
    client.receive(Segment(client.remote_port, client.local_port, client.rcv_nxt & 0xFFFF_FFFF,
                           (client.snd_max + 1000) & 0xFFFF_FFFF, ACK, 1000, payload=b"data"), wire.now)
    assert client.stats["rx.ack_of_unsent"] == 1 and client.readable == 0
    assert [s.flags for s in client.take_outgoing()] == [ACK]


def test_tcp__abort_sends_rst_and_the_peer_reports_the_reset():
    client, server, wire = established_pair()
    client.send(b"sent" * 1000, wire.now)
    wire.run()
    client.abort(wire.now)
    assert client.state is S.CLOSED and client.take_events() == [Closed()]
    wire.run(lambda: server.state is S.CLOSED)
    assert server.take_events()[-2:] == [ConnectionReset(), Closed()]
    rst = wire.segments("a")[-1]
    assert rst.flags == RST | ACK and rst.seq == client.snd_max & 0xFFFF_FFFF


def test_tcp__abort_in_syn_sent_or_time_wait_sends_nothing():
    for state in (S.SYN_SENT, S.TIME_WAIT, S.LAST_ACK, S.CLOSING):
        connection, _, wire = reach(state)
        connection.take_outgoing()
        connection.abort(wire.now)
        assert connection.state is S.CLOSED and connection.take_outgoing() == []


def test_tcp__an_ack_of_our_syn_that_is_wrong_gets_rst_in_syn_received():
    server, _, wire = reach(S.SYN_RECEIVED)
    server.take_outgoing()
    server.receive(Segment(server.remote_port, server.local_port, server.rcv_nxt & 0xFFFF_FFFF, 12345, ACK, 1000),
                   wire.now)
    assert server.take_outgoing() == [Segment(server.local_port, server.remote_port, 12345, 0, RST, 0)]
    assert server.state is S.SYN_RECEIVED

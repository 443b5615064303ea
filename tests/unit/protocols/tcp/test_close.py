"""Closing connections: FIN after data, TIME-WAIT, simultaneous close, half-close, lost FINs."""

import pytest

from nicemu.protocols.tcp import ACK, FIN, PSH, Closed, DataReceived, PeerClosed, Segment, TcpConfig, TimedOut
from nicemu.protocols.tcp.states import TcpState

from .harness import established_pair

S = TcpState


def test_tcp__active_close_sends_fin_after_the_queued_data():
    client, server, wire = established_pair()
    client.send(b"last words", wire.now)
    client.close(wire.now)
    assert client.state is S.FIN_WAIT_1
    wire.run(lambda: client.state is S.FIN_WAIT_2)
    (data,) = wire.segments("a", with_payload=True)
    (fin,) = wire.segments("a", flags=ACK | FIN)
    assert data.flags == ACK | PSH and data.payload == b"last words"
    assert fin.seq == data.seq + 10 and not fin.payload
    assert server.state is S.CLOSE_WAIT
    assert server.take_events() == [DataReceived(), PeerClosed()]
    assert server.read() == b"last words" and server.read() == b"" and server.at_eof


def test_tcp__data_and_fin_queued_together_leave_in_one_segment():
    client, server, wire = established_pair()
    wire.cut()
    client.send(b"x" * 100, wire.now)
    wire.cut()  # the first copy is lost: the retransmission carries the FIN queued since
    client.close(wire.now)
    wire.drop = None
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    retransmitted = wire.segments("a", with_payload=True)[-1]
    assert retransmitted.flags == ACK | PSH | FIN and len(retransmitted.payload) == 100


def test_tcp__time_wait_lasts_exactly_two_msl():
    config = TcpConfig(msl=5.0)
    client, server, wire = established_pair(client_config=config, server_config=config)
    client.close(wire.now)
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    server.close(wire.now)
    wire.run(lambda: client.state is S.TIME_WAIT)
    entered = wire.now
    assert client.next_deadline() == pytest.approx(entered + 10.0)
    wire.run(lambda: client.state is S.CLOSED, for_seconds=100)
    assert wire.now == pytest.approx(entered + 10.0)
    assert server.state is S.CLOSED
    assert client.take_events() == [PeerClosed(), Closed()]


def test_tcp__simultaneous_close_goes_through_closing_to_time_wait_on_both_ends():
    client, server, wire = established_pair()
    client.close(wire.now)
    server.close(wire.now)
    wire.run(lambda: client.state is S.TIME_WAIT and server.state is S.TIME_WAIT)
    assert (client.snd_una, server.snd_una) == (client.snd_max, server.snd_max)
    wire.run(for_seconds=1000)
    assert client.state is S.CLOSED and server.state is S.CLOSED


def test_tcp__a_lost_fin_is_retransmitted_after_the_rto():
    client, server, wire = established_pair()
    lost = []
    wire.drop = lambda sender, segment: bool(segment.flags & FIN) and not lost and not lost.append(segment)
    client.close(wire.now)
    closed_at = wire.now
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    fins = [s for s in wire.sent if s.segment.flags & FIN]
    assert len(fins) == 2 and fins[0].segment == lost[0]
    assert fins[1].time == pytest.approx(closed_at + client.config.min_rto)
    assert client.stats["tx.timeouts"] == 1


def test_tcp__the_peers_fin_again_in_time_wait_is_acked_and_restarts_two_msl():
    client, server, wire = established_pair()
    client.close(wire.now)
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    server.close(wire.now)
    wire.drop = lambda sender, segment: sender == "a"  # the final ACK never arrives
    wire.run(lambda: client.state is S.TIME_WAIT)
    first_deadline = client.next_deadline()
    wire.run(lambda: server.stats["tx.timeouts"] == 1)  # the FIN comes again
    wire.run(lambda: wire.sent[-1].sender == "a")
    assert wire.sent[-1].segment.flags == ACK
    assert client.state is S.TIME_WAIT and client.next_deadline() > first_deadline
    assert client.next_deadline() == pytest.approx(wire.now + 2 * client.config.msl)


def test_tcp__fin_wait_2_gives_up_on_a_silent_peer():
    config = TcpConfig(fin_wait_2_timeout=10.0)
    client, server, wire = established_pair(client_config=config)
    client.close(wire.now)
    wire.run(lambda: client.state is S.FIN_WAIT_2)
    entered = wire.now
    wire.run(lambda: client.state is S.CLOSED, for_seconds=100)
    assert wire.now == pytest.approx(entered + 10.0)
    assert client.take_events() == [TimedOut(), Closed()]
    assert server.state is S.CLOSE_WAIT


def test_tcp__a_half_closed_connection_still_receives():
    client, server, wire = established_pair()
    client.close(wire.now)
    wire.run(lambda: client.state is S.FIN_WAIT_2)
    server.send(b"x" * 100_000, wire.now)
    got = bytearray()
    wire.run(lambda: len(got) == 100_000, tick=lambda: got.extend(client.read()))
    assert got == b"x" * 100_000 and client.state is S.FIN_WAIT_2
    server.close(wire.now)
    wire.run(lambda: client.state is S.TIME_WAIT)


def test_tcp__a_fin_ahead_of_missing_data_waits_for_it():
    client, server, wire = established_pair()
    wire.cut()
    base = server.rcv_nxt
    window = client.snd_wnd
    first = Segment(client.local_port, client.remote_port, base & 0xFFFF_FFFF, server.snd_nxt & 0xFFFF_FFFF,
                    ACK, window >> 3, payload=b"abc")
    last = Segment(client.local_port, client.remote_port, (base + 3) & 0xFFFF_FFFF, server.snd_nxt & 0xFFFF_FFFF,
                   ACK | FIN, window >> 3, payload=b"def")
    server.receive(last, wire.now)
    assert server.state is S.ESTABLISHED and server.readable == 0
    server.receive(first, wire.now)
    assert server.state is S.CLOSE_WAIT and server.read() == b"abcdef" and server.at_eof
    assert server.rcv_nxt == base + 7

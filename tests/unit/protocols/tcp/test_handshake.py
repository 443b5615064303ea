"""Opening connections: active, passive and simultaneous opens, SYN retransmission, refusal."""

import pytest

from nicemu.protocols.tcp import (
    ACK,
    PSH,
    RST,
    SYN,
    Closed,
    Connected,
    ConnectionReset,
    Segment,
    TcpConfig,
    TcpConnection,
    TcpOptions,
    TimedOut,
)
from nicemu.protocols.tcp.states import TcpState

from .harness import CLIENT_ISS, CLIENT_PORT, SERVER_ISS, SERVER_PORT, Wire, established_pair, make_pair

S = TcpState


def test_tcp__active_open_sends_a_syn_offering_every_option():
    client, _ = make_pair()
    client.connect(0.0)
    (syn,) = client.take_outgoing()
    assert syn.flags == SYN and syn.seq == CLIENT_ISS and syn.window == 65535
    assert syn.options == TcpOptions(mss=1460, window_scale=3, sack_permitted=True, timestamp=(0, 0))
    assert client.state is S.SYN_SENT and client.next_deadline() == 1.0


def test_tcp__three_way_handshake_establishes_both_ends():
    client, server = make_pair()
    wire = Wire(client, server)
    client.connect(0.0)
    wire.run(lambda: server.state is S.ESTABLISHED)
    assert [s.flags for s in wire.segments("a")] == [SYN, ACK]
    assert [s.flags for s in wire.segments("b")] == [SYN | ACK]
    syn_ack = wire.segments("b")[0]
    assert syn_ack.seq == SERVER_ISS and syn_ack.ack == CLIENT_ISS + 1
    assert client.take_events() == [Connected()] and server.take_events() == [Connected()]
    assert client.state is S.ESTABLISHED and client.next_deadline() is None and server.next_deadline() is None


def test_tcp__passive_open_offers_only_what_the_syn_offered():
    _, server = make_pair()
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 77, 0, SYN, 8192), 0.0)
    (syn_ack,) = server.take_outgoing()
    assert syn_ack.flags == SYN | ACK and syn_ack.ack == 78
    assert syn_ack.options == TcpOptions(mss=1460)
    assert server.mss == 536  # the RFC 9293 default for a SYN without MSS


def test_tcp__peer_mss_and_window_scale_are_honoured():
    client, server, wire = established_pair(client_config=TcpConfig(mss=1000, receive_buffer=1 << 20))
    assert server.mss == 1000 and client.mss == 1000
    assert wire.segments("a")[0].options.window_scale == 5
    client.send(b"x" * 5000, wire.now)
    wire.run()
    # the server's segments carry at most 1000 - 12 (timestamps) bytes
    server.send(b"y" * 5000, wire.now)
    wire.run()
    assert max(len(s.payload) for s in wire.segments("b")) == 988
    assert server.snd_wnd == wire.segments("a")[-1].window << 5


def test_tcp__simultaneous_open_establishes_both_ends():
    a = TcpConnection(CLIENT_PORT, SERVER_PORT, 1000)
    b = TcpConnection(SERVER_PORT, CLIENT_PORT, 7000)
    wire = Wire(a, b)
    a.connect(0.0)
    b.connect(0.0)
    wire.run(lambda: a.state is S.ESTABLISHED and b.state is S.ESTABLISHED)
    assert a.take_events() == [Connected()] and b.take_events() == [Connected()]
    assert [s.flags for s in wire.segments("a")][:2] == [SYN, SYN | ACK]
    a.send(b"hello", wire.now)
    wire.run()
    assert b.read() == b"hello"


def test_tcp__syn_is_retransmitted_with_exponential_backoff_then_times_out():
    client, server = make_pair()
    wire = Wire(client, server)
    wire.cut()
    client.connect(0.0)
    wire.run(for_seconds=1000)
    assert [s.time for s in wire.sent] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert all(s.segment.flags == SYN and s.segment.seq == CLIENT_ISS for s in wire.sent)
    assert client.state is S.CLOSED and wire.now == 123.0  # the last RTO is capped at max_rto
    assert client.take_events() == [TimedOut(), Closed()]


def test_tcp__a_handshake_that_needed_a_retransmission_starts_with_one_segment_of_cwnd():
    client, server = make_pair()
    first = []
    wire = Wire(client, server, drop=lambda sender, segment: not first and not first.append(segment))
    client.connect(0.0)
    wire.run(lambda: client.state is S.ESTABLISHED)
    assert wire.now == pytest.approx(1.01) and client.cwnd == client.mss  # SYN again at 1 s, SYN,ACK back


def test_tcp__syn_ack_is_retransmitted_and_a_repeated_syn_gets_it_again():
    _, server = make_pair()
    syn = Segment(CLIENT_PORT, SERVER_PORT, 77, 0, SYN, 8192)
    server.receive(syn, 0.0)
    first = server.take_outgoing()
    server.receive(syn, 0.5)
    assert server.take_outgoing() == first  # the same SYN,ACK, at once
    server.handle_timer(1.0)
    assert server.take_outgoing() == first and server.stats["tx.syn_retransmits"] == 1
    assert server.next_deadline() == 3.0


def test_tcp__syn_ack_for_another_syn_is_answered_with_rst():
    client, _ = make_pair()
    client.connect(0.0)
    client.take_outgoing()
    client.receive(Segment(SERVER_PORT, CLIENT_PORT, 5, 12345, SYN | ACK, 1000), 0.01)
    assert client.take_outgoing() == [Segment(CLIENT_PORT, SERVER_PORT, 12345, 0, RST, 0)]
    assert client.state is S.SYN_SENT


def test_tcp__refused_connection_reports_reset_refused():
    client, _ = make_pair()
    client.connect(0.0)
    client.receive(Segment(SERVER_PORT, CLIENT_PORT, 0, CLIENT_ISS + 1, RST | ACK, 0), 0.01)
    assert client.state is S.CLOSED
    assert client.take_events() == [ConnectionReset(refused=True), Closed()]


def test_tcp__rst_without_ack_in_syn_sent_is_ignored():
    client, _ = make_pair()
    client.connect(0.0)
    client.receive(Segment(SERVER_PORT, CLIENT_PORT, 0, 0, RST, 0), 0.01)
    assert client.state is S.SYN_SENT and client.stats["rx.rst_without_ack_in_syn_sent"] == 1


def test_tcp__data_queued_before_the_handshake_goes_out_after_it():
    client, server = make_pair()
    wire = Wire(client, server)
    client.connect(0.0)
    assert client.send(b"early", 0.0) == 5
    wire.run()
    assert server.read() == b"early"
    assert [s.flags for s in wire.segments("a")][:2] == [SYN, ACK | PSH]  # carried by the handshake's ACK

"""The endpoint: listeners, the SYN backlog and accept queue, the connection limit, RSTs for strays."""

import pytest

from nicemu.protocols.tcp import (
    ACK,
    RST,
    SYN,
    AddressedSegment,
    Closed,
    Connected,
    ConnectionReset,
    Segment,
    TcpConfig,
    TcpEndpoint,
    TcpError,
)
from nicemu.protocols.tcp.states import TcpState

from .harness import EndpointEnd, Wire

S = TcpState
HOST = b"\x0a\x00\x02\x02"
GUEST = b"\x0a\x00\x02\x0f"
KEY = b"test key"


def syn_from(port: int, seq: int = 1000) -> Segment:
    return Segment(port, 80, seq, 0, SYN, 65535)


def hosts(config: TcpConfig | None = None, guest_config: TcpConfig | None = None) -> tuple[
        TcpEndpoint, TcpEndpoint, Wire]:
    host, guest = TcpEndpoint(KEY, config), TcpEndpoint(b"guest key", guest_config)
    return host, guest, Wire(EndpointEnd(guest, GUEST, HOST), EndpointEnd(host, HOST, GUEST))


def test_endpoint__a_listener_accepts_a_connection_and_data_flows_both_ways():
    host, guest, wire = hosts()
    listener = host.listen(80)
    client = guest.connect(GUEST, HOST, 80, wire.now)
    assert client.local_port == 49152
    wire.run(lambda: bool(listener.accept_queue))
    server = listener.accept()
    assert server is not None and listener.accept() is None
    assert (server.remote_addr, server.remote_port, server.local_addr) == (GUEST, 49152, HOST)
    assert server.take_events() == [Connected()]
    client.send(b"GET /", wire.now)
    wire.run(lambda: server.readable == 5)
    server.send(server.read()[::-1], wire.now)
    wire.run(lambda: client.readable == 5)
    assert client.read() == b"/ TEG"
    assert len(host) == 1 and len(guest) == 1


def test_endpoint__closed_connections_are_forgotten_after_time_wait():
    host, guest, wire = hosts(TcpConfig(msl=1.0), TcpConfig(msl=1.0))
    listener = host.listen(80)
    client = guest.connect(GUEST, HOST, 80, wire.now)
    wire.run(lambda: bool(listener.accept_queue))
    server = listener.accept()
    client.close(wire.now)
    wire.run(lambda: server.state is S.CLOSE_WAIT)
    server.close(wire.now)
    wire.run(lambda: len(host) == 0)
    assert len(guest) == 1 and client.state is S.TIME_WAIT  # the active closer keeps the 4-tuple
    wire.run(for_seconds=10)
    assert len(guest) == 0 and client.state is S.CLOSED


def test_endpoint__a_segment_for_no_connection_gets_a_rst_by_the_rfc_rules():
    host = TcpEndpoint(KEY)
    host.receive(GUEST, HOST, syn_from(5555, seq=0xFFFF_FFFF), 0.0)
    host.receive(GUEST, HOST, Segment(5555, 81, 7, 123456, ACK, 100, payload=b"x"), 0.0)
    host.receive(GUEST, HOST, Segment(5555, 81, 7, 0, RST, 0), 0.0)
    assert host.take_outgoing() == [
        AddressedSegment(HOST, GUEST, Segment(80, 5555, 0, 0, RST | ACK, 0)),
        AddressedSegment(HOST, GUEST, Segment(81, 5555, 123456, 0, RST, 0)),
    ]
    assert host.stats["tcp.no_connection"] == 2 and host.stats["tcp.rst_for_no_connection"] == 1


def test_endpoint__an_ack_to_a_listener_without_a_connection_gets_a_rst():
    host = TcpEndpoint(KEY)
    host.listen(80)
    host.receive(GUEST, HOST, Segment(5555, 80, 7, 99, ACK, 100), 0.0)
    assert host.take_outgoing() == [AddressedSegment(HOST, GUEST, Segment(80, 5555, 99, 0, RST, 0))]


def test_endpoint__the_syn_backlog_is_bounded():
    host = TcpEndpoint(KEY)
    listener = host.listen(80, syn_backlog=3)
    for port in range(5000, 5010):
        host.receive(GUEST, HOST, syn_from(port), 0.0)
    assert len(listener.half_open) == 3 and len(host) == 3
    assert host.stats["tcp.syn_backlog_full"] == 7
    assert len([o for o in host.take_outgoing() if o.segment.flags == SYN | ACK]) == 3


def test_endpoint__half_open_connections_leave_the_backlog_when_they_time_out():
    host = TcpEndpoint(KEY, TcpConfig(synack_retries=1))
    listener = host.listen(80, syn_backlog=1)
    host.receive(GUEST, HOST, syn_from(5000), 0.0)
    host.take_outgoing()
    while (deadline := host.next_deadline()) is not None:
        host.handle_timer(deadline)
        host.take_outgoing()
    assert len(listener.half_open) == 0 and len(host) == 0
    host.receive(GUEST, HOST, syn_from(5001), 10.0)
    assert len(listener.half_open) == 1


def test_endpoint__the_accept_queue_is_bounded():
    host, guest, wire = hosts()
    listener = host.listen(80, accept_backlog=2)
    clients = [guest.connect(GUEST, HOST, 80, wire.now) for _ in range(4)]
    wire.advance(0.1)
    assert len(listener.accept_queue) == 2 and len(listener.half_open) == 2
    assert host.stats["tcp.accept_queue_full"] == 2  # the handshake ACKs beyond it were dropped
    assert all(c.state is S.ESTABLISHED for c in clients)  # as far as the clients know
    host.receive(GUEST, HOST, syn_from(6000), wire.now)
    assert host.stats["tcp.accept_queue_full"] == 3  # and a new SYN is dropped outright
    assert listener.accept() is not None
    wire.run(lambda: len(listener.accept_queue) == 2, for_seconds=5)  # a SYN,ACK retransmitted gets in now
    assert len(listener.half_open) == 1


def test_endpoint__the_connection_limit_holds_for_both_opens():
    host, guest, wire = hosts(TcpConfig(max_connections=2))
    host.listen(80)
    for _ in range(3):
        guest.connect(GUEST, HOST, 80, wire.now)
    wire.advance(0.1)
    assert len(host) == 2 and host.stats["tcp.connection_limit"] >= 1
    with pytest.raises(TcpError):
        host.connect(HOST, GUEST, 9, wire.now)


def test_endpoint__stop_listening_resets_connections_never_accepted():
    host, guest, wire = hosts()
    listener = host.listen(80)
    client = guest.connect(GUEST, HOST, 80, wire.now)
    wire.run(lambda: bool(listener.accept_queue))
    host.stop_listening(listener, wire.now)
    wire.run(lambda: client.state is S.CLOSED)
    assert client.take_events()[-2:] == [ConnectionReset(), Closed()]
    assert listener.state is S.CLOSED and len(host) == 0
    client = guest.connect(GUEST, HOST, 80, wire.now)
    wire.run(lambda: client.state is S.CLOSED)
    assert client.take_events() == [ConnectionReset(refused=True), Closed()]


def test_endpoint__a_blind_rst_is_challenged_and_the_challenge_answered_by_the_real_peer_resets():
    host, guest, wire = hosts()
    listener = host.listen(80)
    client = guest.connect(GUEST, HOST, 80, wire.now)
    wire.run(lambda: bool(listener.accept_queue))
    server = listener.accept()
    client.send(b"x" * 3000, wire.now)
    wire.cut()  # the data never arrives, so the client's RST is ahead of the server's RCV.NXT
    wire.drop = None
    client.abort(wire.now)
    wire.run(lambda: server.state is S.CLOSED)
    assert server.stats["tx.challenge_acks"] == 1 and guest.stats["tcp.no_connection"] == 1
    assert server.take_events()[-2:] == [ConnectionReset(), Closed()]


def test_endpoint__listening_twice_on_a_port_is_an_error():
    host = TcpEndpoint(KEY)
    host.listen(80)
    with pytest.raises(TcpError):
        host.listen(80)
    host.listen(80, HOST)  # a specific address beside the wildcard is fine


def test_endpoint__isns_differ_per_connection_and_are_reproducible():
    first = TcpEndpoint(KEY).connect(GUEST, HOST, 80, 1.0, local_port=4000)
    again = TcpEndpoint(KEY).connect(GUEST, HOST, 80, 1.0, local_port=4000)
    other = TcpEndpoint(KEY).connect(GUEST, HOST, 80, 1.0, local_port=4001)
    assert first.iss == again.iss != other.iss

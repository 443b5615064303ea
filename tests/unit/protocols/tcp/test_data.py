"""Moving data: retransmission, fast recovery, windows and probes, delayed ACKs, buffers, options."""

import itertools

import pytest

from nicemu.protocols.tcp import ACK, PSH, Closed, Segment, TcpConfig, TcpOptions, TimedOut, Writable
from nicemu.protocols.tcp.states import TcpState

from .harness import established_pair

S = TcpState
MSS_PAYLOAD = 1448  # 1460 less the timestamp option


def drop_once(predicate):
    """A ``Wire.drop`` that loses the first segment of each kind ``predicate`` picks, by sequence number."""
    dropped: set[int] = set()

    def drop(sender, segment):
        if predicate(sender, segment) and segment.seq not in dropped:
            dropped.add(segment.seq)
            return True
        return False
    return drop


def data_from(sender, nth_segments, wire_base):
    return lambda who, segment: who == sender and bool(segment.payload) and \
        (segment.seq - wire_base) % (1 << 32) // MSS_PAYLOAD in nth_segments


def test_tcp__transfers_intact_across_the_sequence_number_wrap():
    client, server, wire = established_pair()
    assert server.snd_nxt < 1 << 32 < server.snd_nxt + 100_000
    data = bytes(range(256)) * 400
    server.send(data, wire.now)
    got = bytearray()
    wire.run(lambda: len(got) == len(data), tick=lambda: got.extend(client.read()))
    assert got == data
    assert any(s.seq < 0x8000_0000 for s in wire.segments("b", with_payload=True))  # some went out wrapped


def test_tcp__retransmits_after_rto():
    client, server, wire = established_pair()
    assert client.rto == 0.2  # the handshake's 10 ms sample, clamped to min_rto
    copies = []
    wire.drop = lambda sender, segment: bool(segment.payload) and len(copies) < 2 and not copies.append(wire.now)
    sent_at = wire.now
    client.send(b"x" * 1000, sent_at)
    wire.run(lambda: server.readable == 1000)
    times = [s.time - sent_at for s in wire.sent if s.segment.payload]
    assert times == pytest.approx([0.0, 0.2, 0.6])  # RTO, then RTO doubled
    assert client.stats["tx.timeouts"] == 2 and client.stats["tx.retransmits"] == 2
    wire.run()
    assert client.rto == 0.2 and client.next_deadline() is None  # the next sample undid the backoff


def test_tcp__rto_gives_up_after_max_retransmits():
    config = TcpConfig(max_retransmits=3)
    client, _server, wire = established_pair(client_config=config)
    wire.cut()
    client.send(b"x", wire.now)
    start = wire.now
    wire.run(lambda: client.state is S.CLOSED, for_seconds=100)
    assert wire.now - start == pytest.approx(0.2 + 0.4 + 0.8 + 1.6)
    assert client.take_events() == [TimedOut(), Closed()]


@pytest.mark.parametrize("sack", [False, True], ids=["newreno", "sack"])
def test_tcp__fast_retransmit_on_three_duplicate_acks(sack):
    config = TcpConfig(sack=sack)
    client, server, wire = established_pair(client_config=config, server_config=config)
    base = client.snd_nxt
    wire.drop = drop_once(data_from("a", {2}, base))
    sent_at = wire.now
    client.send(b"y" * 10 * MSS_PAYLOAD, sent_at)
    wire.run(lambda: server.readable == 10 * MSS_PAYLOAD)
    lost_seq = (base + 2 * MSS_PAYLOAD) & 0xFFFF_FFFF
    copies = [s for s in wire.sent if s.segment.seq == lost_seq and s.segment.payload]
    assert len(copies) == 2 and copies[1].time - sent_at < client.rto
    assert client.stats["tx.fast_retransmits"] == 1 and client.stats["tx.timeouts"] == 0
    assert client.stats["rx.duplicate_acks"] >= 3


@pytest.mark.parametrize("sack", [False, True], ids=["newreno", "sack"])
def test_tcp__recovers_several_losses_in_one_window_without_a_timeout(sack):
    config = TcpConfig(sack=sack)
    client, server, wire = established_pair(client_config=config, server_config=config)
    wire.drop = drop_once(data_from("a", {1, 4, 6}, client.snd_nxt))
    client.send(b"z" * 10 * MSS_PAYLOAD, wire.now)
    wire.run(lambda: server.readable == 10 * MSS_PAYLOAD)
    assert server.read() == b"z" * 10 * MSS_PAYLOAD
    assert client.stats["tx.timeouts"] == 0 and client.stats["tx.retransmits"] == 3


def test_tcp__receiver_reports_out_of_order_data_in_sack_blocks():
    client, server, wire = established_pair()
    base = client.snd_nxt
    wire.drop = drop_once(data_from("a", {1}, base))
    client.send(b"s" * 4 * MSS_PAYLOAD, wire.now)
    wire.run(lambda: server.readable == 4 * MSS_PAYLOAD)
    dupacks = [s for s in wire.segments("b") if s.options.sack_blocks]
    start = (base + MSS_PAYLOAD) & 0xFFFF_FFFF
    assert [s.options.sack_blocks for s in dupacks] == [
        ((start + MSS_PAYLOAD, start + 2 * MSS_PAYLOAD),),
        ((start + MSS_PAYLOAD, start + 3 * MSS_PAYLOAD),),
    ]
    assert all(s.ack == start for s in dupacks)


def test_tcp__delayed_ack_waits_40ms_for_a_lone_segment():
    client, server, wire = established_pair()
    client.send(b"ping", wire.now)
    wire.run(lambda: server.readable)
    arrived = wire.now
    wire.run()
    (ack,) = [s for s in wire.sent if s.sender == "b"][-1:]
    assert ack.segment.flags == ACK and ack.time == pytest.approx(arrived + 0.04)


def test_tcp__delayed_ack_acks_every_second_full_segment_at_once():
    client, server, wire = established_pair()
    start = len(wire.sent)
    client.send(b"f" * 4 * MSS_PAYLOAD, wire.now)
    wire.run(lambda: server.readable == 4 * MSS_PAYLOAD)
    acks = [s for s in wire.sent[start:] if s.sender == "b"]
    data = [s for s in wire.sent[start:] if s.sender == "a"]
    assert len(acks) == 2 and all(a.time == pytest.approx(data[0].time + 0.005) for a in acks)


def test_tcp__zero_window_is_probed_with_backoff_until_it_opens():
    server_config = TcpConfig(receive_buffer=8192)
    client, server, wire = established_pair(server_config=server_config)
    client.send(b"w" * 20_000, wire.now)
    wire.run(lambda: client.stats["tx.window_probes"] == 3)
    assert server.readable == 8192 and client.snd_wnd == 0
    probes = [s for s in wire.sent if s.sender == "a" and not s.segment.payload
              and s.segment.seq == (client.snd_una - 1) & 0xFFFF_FFFF]
    gaps = [b.time - a.time for a, b in itertools.pairwise(probes)]
    assert gaps == pytest.approx([0.4, 0.8])
    assert all(s.segment.window == 0 for s in wire.sent if s.sender == "b" and s.time > probes[0].time)
    got = bytearray()
    wire.run(lambda: len(got) == 20_000, tick=lambda: got.extend(server.read()))
    assert got == b"w" * 20_000


def test_tcp__a_peer_that_never_opens_its_window_is_still_probed():
    server_config = TcpConfig(receive_buffer=4096)
    client, _server, wire = established_pair(server_config=server_config)
    client.send(b"w" * 10_000, wire.now)
    wire.run(lambda: client.stats["tx.window_probes"] == 30, for_seconds=10_000)
    assert client.state is S.ESTABLISHED  # every probe was answered


def test_tcp__send_buffer_is_bounded_and_says_when_it_has_room_again():
    config = TcpConfig(send_buffer=10_000)
    client, server, wire = established_pair(client_config=config)
    data = bytes(range(250)) * 100
    taken = client.send(data, wire.now)
    assert taken == 10_000 and client.send_space == 0
    sent = [taken]
    got = bytearray()

    def tick():
        if Writable() in client.take_events():
            sent[0] += client.send(data[sent[0]:], wire.now)
        got.extend(server.read())
    wire.run(lambda: len(got) == len(data), tick=tick)
    assert got == data


def test_tcp__receive_buffer_bounds_what_a_peer_can_make_us_hold():
    server_config = TcpConfig(receive_buffer=20_000)
    client, server, wire = established_pair(server_config=server_config, loss=0.05, reorder=0.2, seed=3)
    data = bytes(range(200)) * 500
    client.send(data[:65536], wire.now)
    sent = [65536]
    held = []

    def tick():
        sent[0] += client.send(data[sent[0]:sent[0] + 65536], wire.now)
        held.append(server.readable + server._recv.out_of_order_bytes)
    wire.run(lambda: server.readable == 20_000 and client.snd_wnd == 0, tick=tick)
    assert max(held) <= 20_000
    got = bytearray(server.read())
    wire.run(lambda: len(got) == len(data), tick=lambda: (tick(), got.extend(server.read())))
    assert got == data


def test_tcp__paws_drops_a_segment_with_an_old_timestamp():
    client, server, wire = established_pair()
    wire.cut()
    client.send(b"new", wire.now)
    (fresh,) = client.take_outgoing()
    tsval, tsecr = fresh.options.timestamp
    stale = Segment(fresh.src_port, fresh.dst_port, fresh.seq, fresh.ack, fresh.flags, fresh.window,
                    TcpOptions(timestamp=((tsval - 100) & 0xFFFF_FFFF, tsecr)), b"old")
    server.receive(fresh, wire.now)
    server.take_outgoing()
    server.receive(Segment(fresh.src_port, fresh.dst_port, (fresh.seq + 3) & 0xFFFF_FFFF, fresh.ack, ACK,
                           fresh.window, stale.options, b"old"), wire.now)
    assert server.stats["rx.paws"] == 1 and server.read() == b"new"
    assert [s.flags for s in server.take_outgoing()] == [ACK]


def test_tcp__timestamps_echo_the_peers_tsval():
    client, _server, wire = established_pair()
    client.send(b"t", wire.now)
    wire.run()
    data = wire.segments("a", with_payload=True)[0]
    ack = [s for s in wire.sent if s.sender == "b"][-1].segment
    assert ack.options.timestamp[1] == data.options.timestamp[0]


def test_tcp__without_timestamps_karns_algorithm_times_one_segment():
    config = TcpConfig(timestamps=False)
    client, _server, wire = established_pair(client_config=config, server_config=config, latency=0.15)
    assert client._rto.srtt == pytest.approx(0.3)  # timed on the SYN
    client.send(b"k" * 1000, wire.now)
    wire.run()
    assert client._rto.srtt == pytest.approx(0.3 + (0.34 - 0.3) / 8)  # the delayed ACK adds 40 ms
    assert all(s.options.timestamp is None for s in wire.segments("a"))


def test_tcp__keepalive_probes_an_idle_peer_and_gives_up_when_it_is_gone():
    config = TcpConfig(keepalive=True, keepalive_idle=10.0, keepalive_interval=1.0, keepalive_probes=3)
    client, _server, wire = established_pair(client_config=config)
    first = client.next_deadline()
    assert first == pytest.approx(0.01 + 10.0)  # idle since the SYN,ACK came in
    wire.run(lambda: client.stats["tx.keepalives"] == 1, for_seconds=100)
    assert wire.now == pytest.approx(first)
    wire.advance(5.0)
    assert client.state is S.ESTABLISHED
    assert client.next_deadline() == pytest.approx(first + 0.01 + 10.0)  # the answer restarted the idle time
    wire.cut()
    cut_at = client.next_deadline()
    wire.run(lambda: client.state is S.CLOSED, for_seconds=100)
    assert wire.now == pytest.approx(cut_at + 3.0) and client.stats["tx.keepalives"] == 1 + 3
    assert client.take_events() == [TimedOut(), Closed()]


def test_tcp__nagle_holds_a_small_segment_while_one_is_unacknowledged():
    config = TcpConfig(nodelay=False)
    client, server, wire = established_pair(client_config=config)
    client.send(b"a", wire.now)
    client.send(b"b", wire.now)
    first = wire.now
    wire.run(lambda: server.readable == 2)
    times = [s.time - first for s in wire.sent if s.sender == "a" and s.segment.payload]
    assert times == pytest.approx([0.0, 0.05])  # the second waits for the (delayed) ACK of the first
    assert [s.payload for s in wire.segments("a", with_payload=True)] == [b"a", b"b"]


def test_tcp__nodelay_sends_small_segments_at_once():
    client, _server, wire = established_pair()
    client.send(b"a", wire.now)
    client.send(b"b", wire.now)
    assert [s.flags for s in client.take_outgoing()] == [ACK | PSH, ACK | PSH]


def test_tcp__window_scaling_covers_a_large_receive_buffer():
    config = TcpConfig(receive_buffer=4 << 20, send_buffer=4 << 20)
    client, server, wire = established_pair(client_config=config, server_config=config)
    assert wire.segments("a")[0].options.window_scale == 7
    client.send(b"L" * (3 << 20), wire.now)
    wire.run(lambda: server.readable == 3 << 20)
    assert client.max_snd_wnd > (4 << 20) - 4 * MSS_PAYLOAD  # far past what 16 unscaled bits can say


def test_tcp__a_resent_segment_cut_larger_than_the_first_copy_still_counts_as_sent():
    client, _, wire = established_pair()
    wire.cut()
    ports = (client.remote_port, client.local_port)

    def from_server(offset: int, ack: int, window: int, payload: bytes = b"") -> Segment:
        return Segment(*ports, (client.rcv_nxt + offset) & 0xFFFF_FFFF, ack & 0xFFFF_FFFF, ACK, window >> 3,
                       payload=payload)
    client.receive(from_server(100, client.snd_una, 2 * 1436, b"later"), wire.now)  # a gap: our segments SACK
    client.send(b"d" * 5000, wire.now)
    first = client.take_outgoing()
    assert [len(s.payload) for s in first if s.payload] == [1436, 1436]  # 1460 less timestamp and SACK block
    una = client.snd_una
    client.receive(from_server(0, una, 2 * 1436, b"x" * 100), wire.now)  # gap filled: no SACK option any more
    client.handle_timer(client.next_deadline())
    assert [len(s.payload) for s in client.take_outgoing() if s.payload] == [1448]  # resent from una, cut anew
    client.receive(from_server(0, una + 1448, 1448), wire.now + 0.3)  # room for exactly one more segment
    resent = [s for s in client.take_outgoing() if s.payload]
    assert [len(s.payload) for s in resent] == [1448]  # from una + 1448, past the first copies' end at una + 2872
    assert client.snd_nxt == client.snd_max == una + 2 * 1448
    client.receive(from_server(0, una + 2 * 1448, 64 * 1024), wire.now + 0.3)
    assert client.snd_una == una + 2 * 1448 and client.stats["rx.ack_of_unsent"] == 0

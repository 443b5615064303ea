"""Nothing a peer sends may raise, or break the engine's invariants (seeded random segments)."""

import random

import pytest

from nicemu.protocols.tcp import ACK, FIN, PSH, RST, SYN, Segment, TcpConfig, TcpConnection, TcpEndpoint, TcpOptions
from nicemu.protocols.tcp.states import TcpState

from .harness import reach

S = TcpState
STATES = [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING,
          S.LAST_ACK, S.TIME_WAIT]
HOST, GUEST = b"\x0a\x00\x02\x02", b"\x0a\x00\x02\x0f"


def random_segment(rng: random.Random, connection: TcpConnection) -> Segment:
    """Mostly near the connection's numbers, where segments get past the first checks; sometimes anywhere."""
    def near(base: int) -> int:
        return (base + rng.choice([0, 0, 1, -1, rng.randint(-70_000, 70_000), rng.getrandbits(32)])) & 0xFFFF_FFFF
    flags = rng.choice([ACK, ACK | PSH, ACK | FIN, RST, RST | ACK, SYN, SYN | ACK, rng.getrandbits(6)])
    options = TcpOptions(
        mss=rng.choice([None, 0, 1, 536, 65535]),
        window_scale=rng.choice([None, 0, 14, 15, 255]),
        sack_permitted=rng.random() < 0.5,
        sack_blocks=tuple((near(connection.snd_una), near(connection.snd_una)) for _ in range(rng.randint(0, 4))),
        timestamp=rng.choice([None, (rng.getrandbits(32), rng.getrandbits(32)), (rng.getrandbits(32), 0)]))
    return Segment(connection.remote_port, connection.local_port, near(connection.rcv_nxt), near(connection.snd_una),
                   flags, rng.getrandbits(16), options, rng.randbytes(rng.choice([0, 0, 1, 100, 1500, 70_000])))


@pytest.mark.parametrize("seed", range(0, 200, 20), ids=lambda s: f"seeds{s}")
def test_tcp__random_segments_in_every_state_never_raise_nor_break_invariants(seed):
    for run in range(seed, seed + 20):
        rng = random.Random(run)
        connection, _, wire = reach(rng.choice(STATES))
        now = wire.now
        for _ in range(40):
            now += rng.random() * 0.5
            choice = rng.random()
            if choice < 0.8:
                connection.receive(random_segment(rng, connection), now)
            elif choice < 0.9 and (deadline := connection.next_deadline()) is not None:
                now = max(now, deadline)
                connection.handle_timer(now)
            else:
                connection.read(rng.randint(0, 5000))
            connection.take_outgoing()
            assert connection.snd_una <= connection.snd_nxt <= connection.snd_max
            held = connection.readable + connection._recv.out_of_order_bytes
            assert held <= connection.config.receive_buffer + (1 << connection._rcv_wscale)
            if connection.state is S.CLOSED:
                assert connection.next_deadline() is None
                break


def test_endpoint__random_segments_never_raise_nor_exceed_the_limits():
    for run in range(30):
        rng = random.Random(run)
        endpoint = TcpEndpoint(b"key", TcpConfig(max_connections=20, syn_backlog=5, accept_backlog=3))
        listener = endpoint.listen(80)
        now = 0.0
        for _ in range(200):
            now += rng.random() * 0.3
            flags = rng.choice([SYN, SYN, ACK, ACK | PSH, RST, SYN | ACK, FIN | ACK, rng.getrandbits(8)])
            endpoint.receive(GUEST, HOST, Segment(
                rng.randint(1000, 1010), rng.choice([80, 80, 81]), rng.getrandbits(32), rng.getrandbits(32), flags,
                rng.getrandbits(16), TcpOptions(mss=rng.choice([None, 0, 1460]), window_scale=rng.choice([None, 99]),
                                                sack_permitted=True, timestamp=rng.choice([None, (5, 0)])),
                rng.randbytes(rng.choice([0, 10]))), now)
            if rng.random() < 0.2 and (deadline := endpoint.next_deadline()) is not None:
                now = max(now, deadline)
                endpoint.handle_timer(now)
            if rng.random() < 0.1 and (accepted := listener.accept()) is not None:
                rng.choice([accepted.close, accepted.abort])(now)
            endpoint.take_outgoing()
            assert len(endpoint) <= 20 and len(listener.half_open) <= 5

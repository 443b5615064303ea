"""A fake clock and an in-memory network between two TCP ends, for driving the engine in tests.

``Wire`` moves segments between two ends (connections, or endpoints through
``EndpointEnd``) with a latency, and can drop, reorder and duplicate them from a
seeded RNG or by a filter. Time only moves when ``Wire.run`` or ``Wire.advance``
moves it, straight to the next delivery or timer deadline.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from nicemu.protocols.tcp import ACK, FIN, RST, SYN, Segment, TcpConfig, TcpConnection, TcpEndpoint
from nicemu.protocols.tcp.states import TcpEvent, TcpState

CLIENT_PORT = 40000
SERVER_PORT = 80
CLIENT_ISS = 1000
SERVER_ISS = 0xFFFF_FF00  # the server's sequence numbers wrap past 2**32 within the first 256 bytes


class End(Protocol):
    """What the wire needs from either end."""

    def receive(self, segment: Segment, now: float) -> None: ...
    def take_outgoing(self) -> list[Segment]: ...
    def next_deadline(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


class Recorder:
    """Collects every (state, event) transition taken, as a ``TransitionObserver``."""

    def __init__(self) -> None:
        self.seen: set[tuple[TcpState, TcpEvent]] = set()
        self.log: list[tuple[object, TcpState, TcpEvent, TcpState]] = []

    def __call__(self, machine: object, before: TcpState, event: TcpEvent, after: TcpState) -> None:
        self.seen.add((before, event))
        self.log.append((machine, before, event, after))


def make_pair(recorder: Recorder | None = None, client_config: TcpConfig | None = None,
              server_config: TcpConfig | None = None) -> tuple[TcpConnection, TcpConnection]:
    """A client connection (CLOSED) and a listener's child (LISTEN) that know each other's ports."""
    client = TcpConnection(CLIENT_PORT, SERVER_PORT, CLIENT_ISS, client_config, on_transition=recorder)
    server = TcpConnection(SERVER_PORT, CLIENT_PORT, SERVER_ISS, server_config, listening=True,
                           on_transition=recorder)
    return client, server


class EndpointEnd:
    """Puts a ``TcpEndpoint`` on the wire as the host at ``addr`` talking to ``peer_addr``."""

    def __init__(self, endpoint: TcpEndpoint, addr: bytes, peer_addr: bytes) -> None:
        self.endpoint = endpoint
        self.addr = addr
        self.peer_addr = peer_addr

    def receive(self, segment: Segment, now: float) -> None:
        self.endpoint.receive(self.peer_addr, self.addr, segment, now)

    def take_outgoing(self) -> list[Segment]:
        out = self.endpoint.take_outgoing()
        assert all(o.src_addr == self.addr and o.dst_addr == self.peer_addr for o in out)
        return [o.segment for o in out]

    def next_deadline(self) -> float | None:
        return self.endpoint.next_deadline()

    def handle_timer(self, now: float) -> None:
        self.endpoint.handle_timer(now)


@dataclass
class Sent:
    """One segment put on the wire, and what became of it."""

    time: float
    sender: str
    segment: Segment
    dropped: bool = False


@dataclass
class Wire:
    """Two ends, ``a`` and ``b``, joined by a network with a fake clock."""

    a: End
    b: End
    latency: float = 0.005
    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    seed: int = 1
    now: float = 0.0
    drop: Callable[[str, Segment], bool] | None = None
    """Drops the segments (sender "a" or "b") it returns True for, before any random loss."""
    sent: list[Sent] = field(default_factory=list)
    _queue: list[tuple[float, int, str, Segment]] = field(default_factory=list)
    _order: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def end(self, name: str) -> End:
        return self.a if name == "a" else self.b

    def collect(self) -> None:
        """Put every segment the ends have to send on the wire."""
        for name in ("a", "b"):
            for segment in self.end(name).take_outgoing():
                record = Sent(self.now, name, segment)
                self.sent.append(record)
                if (self.drop is not None and self.drop(name, segment)) or self._rng.random() < self.loss:
                    record.dropped = True
                    continue
                self._schedule(name, segment)
                if self._rng.random() < self.duplicate:
                    self._schedule(name, segment)

    def _schedule(self, sender: str, segment: Segment) -> None:
        delay = self.latency
        if self._rng.random() < self.reorder:
            delay += self._rng.uniform(0, 4 * self.latency)
        heapq.heappush(self._queue, (self.now + delay, next(self._order), "b" if sender == "a" else "a", segment))

    def in_flight(self) -> int:
        return len(self._queue)

    def cut(self) -> None:
        """From now on lose every segment, those in flight included."""
        self.collect()
        self._queue.clear()
        self.drop = lambda sender, segment: True

    def step(self, limit: float) -> bool:
        """Move to the next delivery or deadline not after ``limit`` and process it; False if there is none."""
        self.collect()
        times = [t for t in (self.a.next_deadline(), self.b.next_deadline()) if t is not None]
        if self._queue:
            times.append(self._queue[0][0])
        if not times or min(times) > limit:
            return False
        self.now = max(self.now, min(times))
        if self._queue and self._queue[0][0] <= self.now:
            _, _, receiver, segment = heapq.heappop(self._queue)
            self.end(receiver).receive(segment, self.now)
        else:
            for end in (self.a, self.b):
                deadline = end.next_deadline()
                if deadline is not None and deadline <= self.now:
                    end.handle_timer(self.now)
        self.collect()
        return True

    def run(self, until: Callable[[], bool] | None = None, *, for_seconds: float = 60.0,
            tick: Callable[[], None] | None = None) -> None:
        """Run until ``until()`` holds, or nothing is left to do within ``for_seconds`` of now.

        ``tick`` runs after every step, as the applications on both ends would.
        """
        limit = self.now + for_seconds
        while not (until is not None and until()):
            if not self.step(limit):
                break
            if tick is not None:
                tick()
        self.collect()

    def advance(self, seconds: float) -> None:
        """Run everything due in the next ``seconds``, then set the clock to the end of them."""
        target = self.now + seconds
        self.run(for_seconds=seconds)
        self.now = max(self.now, target)

    def segments(self, sender: str, *, flags: int | None = None, with_payload: bool | None = None) -> list[Segment]:
        """What ``sender`` put on the wire, filtered by exact flags or by carrying a payload."""
        return [s.segment for s in self.sent if s.sender == sender
                and (flags is None or s.segment.flags == flags)
                and (with_payload is None or bool(s.segment.payload) == with_payload)]


def established_pair(recorder: Recorder | None = None, client_config: TcpConfig | None = None,
                     server_config: TcpConfig | None = None, **wire_options: float) -> tuple[
                         TcpConnection, TcpConnection, Wire]:
    """A client and server through a three-way handshake on a fresh wire, events taken."""
    client, server = make_pair(recorder, client_config, server_config)
    wire = Wire(client, server, **wire_options)  # type: ignore[arg-type]
    client.connect(wire.now)
    wire.run(lambda: client.state is TcpState.ESTABLISHED and server.state is TcpState.ESTABLISHED)
    assert client.state is TcpState.ESTABLISHED and server.state is TcpState.ESTABLISHED
    client.take_events()
    server.take_events()
    return client, server, wire


def syn_flags(segment: Segment) -> bool:
    return bool(segment.flags & SYN) and not segment.flags & ACK


def reach(state: TcpState, recorder: Recorder | None = None, client_config: TcpConfig | None = None,
          server_config: TcpConfig | None = None) -> tuple[TcpConnection, TcpConnection, Wire]:
    """A connection in ``state``, its peer, and the wire between them, which is then cut.

    The connection is the client, except in SYN-RECEIVED, CLOSE-WAIT and
    LAST-ACK, which only the passive side reaches here.
    """
    S = TcpState
    client, server = make_pair(recorder, client_config, server_config)
    wire = Wire(client, server)
    client.connect(wire.now)
    if state is S.SYN_SENT:
        wire.cut()
        return client, server, wire
    if state is S.SYN_RECEIVED:
        wire.drop = lambda sender, segment: sender == "b"
        wire.run(lambda: server.state is S.SYN_RECEIVED)
        wire.cut()
        return server, client, wire
    wire.run(lambda: client.state is S.ESTABLISHED and server.state is S.ESTABLISHED)
    if state is S.ESTABLISHED:
        wire.cut()
        return client, server, wire
    if state is S.CLOSING:
        client.close(wire.now)
        server.close(wire.now)
        wire.drop = lambda sender, segment: not segment.flags & FIN  # the FINs cross, their ACKs are lost
        wire.run(lambda: client.state is S.CLOSING and server.state is S.CLOSING)
        wire.cut()
        return client, server, wire
    client.close(wire.now)
    if state is S.FIN_WAIT_1:
        wire.cut()
        wire.collect()
        return client, server, wire
    wire.run(lambda: client.state is S.FIN_WAIT_2 and server.state is S.CLOSE_WAIT)
    if state is S.FIN_WAIT_2:
        wire.cut()
        return client, server, wire
    if state is S.CLOSE_WAIT:
        wire.cut()
        return server, client, wire
    server.close(wire.now)
    if state is S.LAST_ACK:
        wire.cut()
        return server, client, wire
    assert state is S.TIME_WAIT, state
    wire.run(lambda: client.state is S.TIME_WAIT and server.state is S.CLOSED)
    wire.cut()
    return client, server, wire


def rst_from_peer(connection: TcpConnection, seq_offset: int = 0) -> Segment:
    """A RST as the peer would send it, at the connection's RCV.NXT plus ``seq_offset``."""
    return Segment(connection.remote_port, connection.local_port, (connection.rcv_nxt + seq_offset) & 0xFFFF_FFFF,
                   0, RST, 0)

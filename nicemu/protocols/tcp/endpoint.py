"""A host's TCP: segments demultiplexed to connections, passive opens, and RSTs for the rest.

``TcpEndpoint`` owns every connection of one host keyed by its 4-tuple, the
listeners, and the limits: a connection limit, and per listener a bounded SYN
backlog and accept queue. Addresses are opaque bytes (packed IPv4 or IPv6) given
by the IP layer with each segment.
"""

from __future__ import annotations

from collections import Counter, deque

from nicemu.protocols.tcp.config import TcpConfig
from nicemu.protocols.tcp.connection import TcpConnection, TcpError
from nicemu.protocols.tcp.isn import IsnGenerator
from nicemu.protocols.tcp.segment import ACK, RST, SYN, AddressedSegment, Segment, reset_for
from nicemu.protocols.tcp.states import TRANSITIONS, StateMachine, TcpEvent, TcpState, TransitionObserver

ConnectionKey = tuple[bytes, int, bytes, int]
"""(local address, local port, remote address, remote port)."""

_EPHEMERAL_PORTS = range(49152, 65536)


class TcpListener:
    """A passive open on a port: half-open connections (its SYN backlog) and established ones to accept."""

    def __init__(self, local_addr: bytes | None, local_port: int, syn_backlog: int, accept_backlog: int,
                 on_transition: TransitionObserver | None = None) -> None:
        self.local_addr = local_addr
        """The address listened on, or None for every address."""
        self.local_port = local_port
        self.syn_backlog = syn_backlog
        self.accept_backlog = accept_backlog
        self.half_open: set[TcpConnection] = set()
        self.accept_queue: deque[TcpConnection] = deque()
        self._machine = StateMachine("tcp listener", TRANSITIONS, TcpState.CLOSED)
        self._on_transition = on_transition
        self._fire(TcpEvent.OPEN_PASSIVE)

    @property
    def state(self) -> TcpState:
        """LISTEN while open, CLOSED after ``TcpEndpoint.stop_listening``."""
        return self._machine.state

    def accept(self) -> TcpConnection | None:
        """The oldest established connection not yet accepted, or None."""
        while self.accept_queue:
            connection = self.accept_queue.popleft()
            if connection.state is not TcpState.CLOSED:
                return connection
        return None

    def refusal(self) -> str | None:
        """Why a new SYN must be dropped now (a full backlog or accept queue), or None."""
        if len(self.half_open) >= self.syn_backlog:
            return "tcp.syn_backlog_full"
        if len(self.accept_queue) >= self.accept_backlog:
            return "tcp.accept_queue_full"
        return None

    def _close(self, now: float) -> None:
        self._fire(TcpEvent.CLOSE)
        for connection in [*self.half_open, *self.accept_queue]:
            connection.abort(now)
        self.half_open.clear()
        self.accept_queue.clear()

    def _fire(self, event: TcpEvent) -> None:
        before = self._machine.state
        after = self._machine.fire(event)
        if self._on_transition is not None:
            self._on_transition(self, before, event, after)


class TcpEndpoint:
    """Every TCP connection and listener of one host, and the segments they owe the network.

    ``isn_key`` keys the RFC 6528 ISN hash. ``on_transition`` sees every state
    change of every connection and listener.
    """

    def __init__(self, isn_key: bytes, config: TcpConfig | None = None, *,
                 on_transition: TransitionObserver | None = None) -> None:
        self.config = config or TcpConfig()
        self._isn = IsnGenerator(isn_key)
        self._on_transition = on_transition
        self.stats: Counter[str] = Counter()
        """How many segments took each endpoint-level path, e.g. ``tcp.syn_backlog_full``."""
        self._connections: dict[ConnectionKey, TcpConnection] = {}
        self._listeners: dict[tuple[bytes | None, int], TcpListener] = {}
        self._half_open_in: dict[TcpConnection, TcpListener] = {}
        self._active: dict[TcpConnection, None] = {}  # an ordered set: connections with output or newly closed
        self._resets: list[AddressedSegment] = []
        self._next_port = _EPHEMERAL_PORTS.start

    def __len__(self) -> int:
        return len(self._connections)

    def connection(self, key: ConnectionKey) -> TcpConnection | None:
        """The connection on this 4-tuple, if any."""
        return self._connections.get(key)

    # ------------------------------------------------------------ user calls

    def listen(self, port: int, addr: bytes | None = None, *, syn_backlog: int | None = None,
               accept_backlog: int | None = None) -> TcpListener:
        """Open a listener on ``port`` at ``addr`` (None: every address); backlogs default to the config's."""
        if (addr, port) in self._listeners:
            raise TcpError(f"already listening on port {port}")
        listener = TcpListener(addr, port, self.config.syn_backlog if syn_backlog is None else syn_backlog,
                               self.config.accept_backlog if accept_backlog is None else accept_backlog,
                               self._on_transition)
        self._listeners[(addr, port)] = listener
        return listener

    def stop_listening(self, listener: TcpListener, now: float) -> None:
        """Close ``listener``, resetting the connections it holds that were never accepted."""
        self._listeners.pop((listener.local_addr, listener.local_port), None)
        listener._close(now)

    def connect(self, local_addr: bytes, remote_addr: bytes, remote_port: int, now: float,
                local_port: int | None = None) -> TcpConnection:
        """Active open to ``remote_addr``:``remote_port``, from an ephemeral port unless one is given."""
        if len(self._connections) >= self.config.max_connections:
            raise TcpError(f"connection limit of {self.config.max_connections} reached")
        if local_port is None:
            local_port = self._free_port(local_addr, remote_addr, remote_port)
        elif (local_addr, local_port, remote_addr, remote_port) in self._connections:
            raise TcpError(f"port {local_port} is already connected to that peer")
        connection = self._new_connection(local_addr, local_port, remote_addr, remote_port, now, listening=False)
        connection.connect(now)
        return connection

    # -------------------------------------------------------------- network

    def receive(self, src_addr: bytes, dst_addr: bytes, segment: Segment, now: float) -> None:
        """Deliver one segment from the IP layer to its connection, its listener, or answer it with RST."""
        key = (dst_addr, segment.dst_port, src_addr, segment.src_port)
        is_syn = segment.flags & (SYN | ACK | RST) == SYN
        connection = self._connections.get(key)
        if connection is not None:
            if not (is_syn and connection.state is TcpState.TIME_WAIT and self._listener_for(key) is not None
                    and connection.release_for(segment, now)):
                was_half_open = connection.state is TcpState.SYN_RECEIVED
                if was_half_open and self._accept_queue_full(connection, segment):
                    # As Linux does: the child stays half-open and its SYN,ACK retransmission tries again.
                    self.stats["tcp.accept_queue_full"] += 1
                    return
                connection.receive(segment, now)
                if was_half_open:
                    self._settle_half_open(connection)
                return
            self._forget(connection)
        listener = self._listener_for(key)
        if listener is not None and is_syn:
            self._open_passive(listener, key, segment, now)
            return
        if segment.flags & RST:
            self.stats["tcp.rst_for_no_connection"] += 1
            return
        self.stats["tcp.no_connection"] += 1
        reset = reset_for(segment)
        if reset is not None:
            self._resets.append(AddressedSegment(dst_addr, src_addr, reset))

    def take_outgoing(self) -> list[AddressedSegment]:
        """Every segment owed to the network, oldest connection first; forgets closed connections."""
        outgoing, self._resets = self._resets, []
        active, self._active = self._active, {}
        for connection in active:
            for segment in connection.take_outgoing():
                outgoing.append(AddressedSegment(connection.local_addr, connection.remote_addr, segment))
            if connection.state is TcpState.CLOSED:
                self._forget(connection)
        return outgoing

    def next_deadline(self) -> float | None:
        """The earliest timer of any connection, or None."""
        deadlines = [d for c in self._connections.values() if (d := c.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Run the timers due at ``now`` on every connection."""
        for connection in list(self._connections.values()):
            deadline = connection.next_deadline()
            if deadline is not None and deadline <= now:
                connection.handle_timer(now)
                if connection.state is TcpState.CLOSED:
                    self._active[connection] = None

    # ------------------------------------------------------------- plumbing

    def _listener_for(self, key: ConnectionKey) -> TcpListener | None:
        return self._listeners.get((key[0], key[1])) or self._listeners.get((None, key[1]))

    def _open_passive(self, listener: TcpListener, key: ConnectionKey, syn: Segment, now: float) -> None:
        refusal = listener.refusal()
        if refusal is None and len(self._connections) >= self.config.max_connections:
            refusal = "tcp.connection_limit"
        if refusal is not None:
            self.stats[refusal] += 1  # dropped, not reset: the peer retries its SYN (as Linux does)
            return
        local_addr, local_port, remote_addr, remote_port = key
        connection = self._new_connection(local_addr, local_port, remote_addr, remote_port, now, listening=True)
        listener.half_open.add(connection)
        self._half_open_in[connection] = listener
        connection.receive(syn, now)

    def _accept_queue_full(self, connection: TcpConnection, segment: Segment) -> bool:
        """Whether ``segment`` would complete a handshake its listener has no room to queue."""
        listener = self._half_open_in.get(connection)
        return (listener is not None and segment.flags & (ACK | RST | SYN) == ACK
                and len(listener.accept_queue) >= listener.accept_backlog)

    def _settle_half_open(self, connection: TcpConnection) -> None:
        """Move a listener's child on from its SYN backlog once the handshake is over, one way or the other."""
        if connection.state is TcpState.SYN_RECEIVED:
            return
        listener = self._half_open_in.pop(connection, None)
        if listener is None:
            return
        listener.half_open.discard(connection)
        if connection.state is not TcpState.CLOSED:
            listener.accept_queue.append(connection)

    def _new_connection(self, local_addr: bytes, local_port: int, remote_addr: bytes, remote_port: int,
                        now: float, *, listening: bool) -> TcpConnection:
        connection = TcpConnection(
            local_port, remote_port, self._isn.isn(local_addr, local_port, remote_addr, remote_port, now),
            self.config, local_addr=local_addr, remote_addr=remote_addr,
            ts_offset=self._isn.timestamp_offset(local_addr, local_port, remote_addr, remote_port),
            listening=listening, on_transition=self._on_transition, on_activity=self._mark_active)
        self._connections[(local_addr, local_port, remote_addr, remote_port)] = connection
        return connection

    def _mark_active(self, connection: TcpConnection) -> None:
        self._active[connection] = None

    def _forget(self, connection: TcpConnection) -> None:
        key = (connection.local_addr, connection.local_port, connection.remote_addr, connection.remote_port)
        if self._connections.get(key) is connection:
            del self._connections[key]
        listener = self._half_open_in.pop(connection, None)
        if listener is not None:
            listener.half_open.discard(connection)

    def _free_port(self, local_addr: bytes, remote_addr: bytes, remote_port: int) -> int:
        for _ in _EPHEMERAL_PORTS:
            port = self._next_port
            self._next_port = port + 1 if port + 1 < _EPHEMERAL_PORTS.stop else _EPHEMERAL_PORTS.start
            if (local_addr, port, remote_addr, remote_port) not in self._connections:
                return port
        raise TcpError("no ephemeral port free")

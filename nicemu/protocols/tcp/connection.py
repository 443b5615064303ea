"""One TCP connection (RFC 9293) as a sans-IO state machine.

Segments go in with ``receive(segment, now)``; segments to transmit come out
of ``take_outgoing()``; events for the layer above come out of
``take_events()``. Time is passed in as ``now`` (seconds, any origin) and the
caller asks ``next_deadline()`` when to call ``handle_timer(now)``. Nothing here
does I/O, reads a clock, or raises on anything a peer sends.

Sequence numbers are kept unbounded, counted on from the ISNs (see
``sequence``), so every comparison below is plain integer arithmetic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from nicemu.protocols.tcp.buffers import ReceiveBuffer, SendBuffer
from nicemu.protocols.tcp.config import TcpConfig
from nicemu.protocols.tcp.events import (
    Closed,
    Connected,
    ConnectionReset,
    DataReceived,
    PeerClosed,
    TcpConnectionEvent,
    TimedOut,
    Writable,
)
from nicemu.protocols.tcp.rto import RtoEstimator
from nicemu.protocols.tcp.segment import ACK, FIN, PSH, RST, SYN, Segment, TcpOptions, reset_for
from nicemu.protocols.tcp.sequence import MASK, serial_lt, unwrap, wrap
from nicemu.protocols.tcp.states import TRANSITIONS, StateMachine, TcpEvent, TcpState, TransitionObserver

_S = TcpState
_E = TcpEvent

DUP_ACK_THRESHOLD = 3
"""Duplicate ACKs that trigger fast retransmit (RFC 5681)."""
_MIN_MSS = 88  # Linux's floor: a peer's tiny MSS option must not make segments useless
_MAX_WINDOW_SCALE = 14  # RFC 7323 2.3
_MAX_WINDOW_FIELD = 0xFFFF
_TIMESTAMP_OPTION_LEN = 12
_INFINITE_SSTHRESH = 1 << 30
_DATA_RECEIVED = DataReceived()

# States in which our data (and FIN) may go out once the peer has acknowledged our SYN.
_SENDING = frozenset({_S.ESTABLISHED, _S.CLOSE_WAIT, _S.FIN_WAIT_1, _S.CLOSING, _S.LAST_ACK})
# States in which the peer's data is still taken in.
_RECEIVING = frozenset({_S.ESTABLISHED, _S.FIN_WAIT_1, _S.FIN_WAIT_2})
# States in which an abort tells the peer with a RST (RFC 9293 3.10.5).
_ABORT_SENDS_RST = frozenset({_S.SYN_RECEIVED, _S.ESTABLISHED, _S.FIN_WAIT_1, _S.FIN_WAIT_2, _S.CLOSE_WAIT})


class TcpError(RuntimeError):
    """A call the connection's state does not allow, such as ``send`` after ``close``."""


def _window_scale_for(buffer: int) -> int:
    """The smallest shift that lets a 16-bit window field cover ``buffer`` bytes."""
    shift = 0
    while (buffer >> shift) > _MAX_WINDOW_FIELD and shift < _MAX_WINDOW_SCALE:
        shift += 1
    return shift


def _acceptable(seq: int, length: int, rcv_nxt: int, window: int) -> bool:
    """RFC 9293's segment acceptability test (3.10.7.4, first check)."""
    if length == 0:
        return seq == rcv_nxt if window == 0 else rcv_nxt <= seq < rcv_nxt + window
    if window == 0:
        return False
    last = seq + length - 1
    right = rcv_nxt + window
    return rcv_nxt <= seq < right or rcv_nxt <= last < right or (seq < rcv_nxt and last >= right)


class TcpConnection:
    """One end of one TCP connection: its state, buffers, timers and the segments it owes the peer.

    ``iss`` is the initial send sequence number (see ``isn.IsnGenerator``) and
    ``ts_offset`` the offset added to RFC 7323 TSvals. A connection made with
    ``listening=True`` starts in LISTEN, the way a listener's child is born, and
    expects a SYN; otherwise it starts CLOSED and ``connect`` opens it.
    ``on_transition`` sees every state change; ``on_activity`` is told when the
    connection has segments to take or has closed. The addresses only name the
    connection for the layers around it.
    """

    def __init__(self, local_port: int, remote_port: int, iss: int, config: TcpConfig | None = None, *,
                 local_addr: bytes = b"", remote_addr: bytes = b"", ts_offset: int = 0, listening: bool = False,
                 on_transition: TransitionObserver | None = None,
                 on_activity: Callable[[TcpConnection], None] | None = None) -> None:
        config = config or TcpConfig()
        self.config = config
        self.local_addr = local_addr
        self.local_port = local_port
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self._machine = StateMachine("tcp", TRANSITIONS, _S.LISTEN if listening else _S.CLOSED)
        self._on_transition = on_transition
        self._on_activity = on_activity
        self.stats: Counter[str] = Counter()
        """How many times each path was taken, e.g. ``tx.retransmits``, ``rx.out_of_window``."""
        self._now = 0.0

        # Send side (RFC 9293 3.3.1 names).
        self.iss = iss & MASK
        self.snd_una = self.snd_nxt = self.iss
        self.snd_max = self.iss
        """The highest sequence number sent: snd_nxt goes back to snd_una on a timeout, this does not."""
        self.snd_wnd = 0
        self.max_snd_wnd = 0
        self._snd_wl1 = 0
        self._snd_wl2 = 0
        self._snd_wscale = 0
        self.mss = config.default_mss
        """The peer's MSS (clamped to ours): payload plus options of one segment we send."""
        self._send = SendBuffer(config.send_buffer, self.iss + 1)
        self._fin_seq: int | None = None
        self._want_writable = False

        # Receive side.
        self.irs = 0
        self.rcv_nxt = 0
        self._rcv_adv = 0  # the right edge of the window we last advertised; never moves left
        self._rcv_wscale = _window_scale_for(config.receive_buffer) if config.window_scaling else 0
        self._rcv_mss = config.default_mss
        self._recv = ReceiveBuffer(config.receive_buffer, 0)
        self._peer_fin: int | None = None
        self._fin_received = False
        self._unacked_bytes = 0
        self._ack_now = False

        # Negotiated options.
        self._wscale_ok = False
        self._sack_ok = False
        self._ts_ok = False
        self._ts_offset = ts_offset
        self._ts_recent = 0
        self._last_ack_sent = 0

        # Retransmission and congestion control.
        self._rto = RtoEstimator(config.initial_rto, config.min_rto, config.max_rto, config.clock_granularity)
        self._rtt_seq: int | None = None  # Karn: the ACK at or past this ends the timed round trip
        self._rtt_start = 0.0
        self._retries = 0
        self.cwnd = config.initial_window_segments * self.mss
        self.ssthresh = _INFINITE_SSTHRESH
        self._dupacks = 0
        self._in_recovery = False
        self._recover = self.iss
        self._rexmit_high = self.iss  # in recovery, everything below this was retransmitted once
        self._sacked: list[list[int]] = []  # the peer's SACK blocks: sorted, disjoint [start, end)
        self._rexmit_marks: dict[int, int] = {}  # in recovery: resent sequence number -> snd_max then

        # Timers: absolute deadlines, None when off.
        self._rto_at: float | None = None
        self._persist_at: float | None = None
        self._delack_at: float | None = None
        self._keepalive_at: float | None = None
        self._fin_wait_2_at: float | None = None
        self._time_wait_at: float | None = None
        self._persist_backoff = 0
        self._persist_probes = 0
        self._keepalive_probes = 0
        self._challenge_window = 0.0
        self._challenge_count = 0

        self._outgoing: list[Segment] = []
        self._events: list[TcpConnectionEvent] = []

    def __repr__(self) -> str:
        return f"<TcpConnection {self.local_port}>{self.remote_port} {self.state.value}>"

    # ----------------------------------------------------------------- queries

    @property
    def state(self) -> TcpState:
        """The RFC 9293 state."""
        return self._machine.state

    @property
    def readable(self) -> int:
        """Bytes ``read`` would return now."""
        return self._recv.readable

    @property
    def at_eof(self) -> bool:
        """The peer sent FIN and every byte before it has been read."""
        return self._fin_received and not self._recv.readable

    @property
    def send_space(self) -> int:
        """Bytes ``send`` would take now."""
        return self._send.space

    @property
    def unacknowledged(self) -> int:
        """Bytes sent or queued that the peer has not acknowledged yet."""
        return len(self._send)

    @property
    def rto(self) -> float:
        """The current retransmission timeout, backoff included."""
        return self._rto.rto

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must be called next, or None if no timer runs."""
        deadlines = [at for at in (self._rto_at, self._persist_at, self._delack_at, self._keepalive_at,
                                   self._fin_wait_2_at, self._time_wait_at) if at is not None]
        return min(deadlines) if deadlines else None

    def take_outgoing(self) -> list[Segment]:
        """The segments to transmit, oldest first; the connection forgets them."""
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def take_events(self) -> list[TcpConnectionEvent]:
        """What happened since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    # --------------------------------------------------------------- user calls

    def connect(self, now: float) -> None:
        """Active open: send SYN (RFC 9293 3.10.1)."""
        self._now = now
        self._fire(_E.OPEN_ACTIVE)
        self.snd_nxt = self.snd_max = self.iss + 1
        self._rtt_seq, self._rtt_start = self.snd_nxt, now
        self._send_syn(now)
        self._rto_at = now + self._rto.rto

    def send(self, data: bytes, now: float) -> int:
        """Queue ``data`` for the peer; returns how many bytes the send buffer took.

        When it takes less than all of ``data``, a ``Writable`` event follows
        once there is room again. Raises ``TcpError`` after ``close`` or once closed.
        """
        self._now = now
        if self.state not in (_S.SYN_SENT, _S.SYN_RECEIVED, _S.ESTABLISHED, _S.CLOSE_WAIT) \
                or self._fin_seq is not None:
            raise TcpError(f"cannot send in {self.state.value}" + (" after close" if self._fin_seq else ""))
        taken = self._send.append(data)
        if taken < len(data):
            self._want_writable = True
        if taken:
            self._output(now)
        return taken

    def read(self, size: int = 1 << 30) -> bytes:
        """Take up to ``size`` received bytes; ``b""`` when none are ready (see ``at_eof``).

        Reading opens the receive window; when it opens by enough to matter the
        peer is told at once, with the time of the last call that passed one in.
        """
        data = self._recv.read(size)
        if data and self.state in _RECEIVING:
            opened = self.rcv_nxt + self._recv.space - self._rcv_adv
            if opened >= min(self._recv.capacity // 2, 2 * self._rcv_mss):
                self._ack_now = True
                self._output(self._now)
        return data

    def close(self, now: float) -> None:
        """Send FIN after the data already queued (RFC 9293 3.10.4); closing twice does nothing."""
        self._now = now
        state = self.state
        if state in (_S.LISTEN, _S.SYN_SENT):
            self._terminate(_E.CLOSE)
        elif state in (_S.SYN_RECEIVED, _S.ESTABLISHED, _S.CLOSE_WAIT):
            self._fin_seq = self._send.end
            self._fire(_E.CLOSE)
            self._output(now)

    def abort(self, now: float) -> None:
        """Drop the connection at once, with a RST when the peer knows it (RFC 9293 3.10.5)."""
        self._now = now
        state = self.state
        if state is _S.CLOSED:
            return
        if state is _S.LISTEN:
            self._terminate(_E.CLOSE)
            return
        if state in _ABORT_SENDS_RST:
            self.stats["tx.resets"] += 1
            self._emit(Segment(self.local_port, self.remote_port, wrap(self.snd_max), wrap(self.rcv_nxt),
                               RST | ACK, 0))
        self._terminate(_E.ABORT)

    def release_for(self, syn: Segment, now: float) -> bool:
        """In TIME-WAIT, give the 4-tuple up to a new SYN that cannot be an old duplicate (RFC 6191).

        The SYN must carry a newer timestamp, or without timestamps a sequence
        number past the old connection's. Returns whether the connection closed.
        """
        if self.state is not _S.TIME_WAIT:
            return False
        timestamp = syn.options.timestamp
        if self._ts_ok and timestamp is not None:
            newer = serial_lt(self._ts_recent, timestamp[0])
        else:
            newer = unwrap(syn.seq, self.rcv_nxt) > self.rcv_nxt
        if newer:
            self._now = now
            self._terminate(_E.REUSE)
        return newer

    # ----------------------------------------------------------------- timers

    def handle_timer(self, now: float) -> None:
        """Run every timer whose deadline is at or before ``now``."""
        self._now = now
        if self._time_wait_at is not None and self._time_wait_at <= now:
            self._terminate(_E.TIME_WAIT_EXPIRED)
            return
        if self._fin_wait_2_at is not None and self._fin_wait_2_at <= now:
            self.stats["timeout.fin_wait_2"] += 1
            self._terminate(_E.TIMEOUT, TimedOut())
            return
        if self._rto_at is not None and self._rto_at <= now:
            self._on_retransmission_timeout(now)
        if self._persist_at is not None and self._persist_at <= now and self.state is not _S.CLOSED:
            self._on_persist_timeout(now)
        if self._keepalive_at is not None and self._keepalive_at <= now and self.state is not _S.CLOSED:
            self._on_keepalive_timeout(now)
        if self._delack_at is not None and self._delack_at <= now and self.state is not _S.CLOSED:
            self._delack_at = None
            self._ack_now = True
        if self.state is not _S.CLOSED:
            self._output(now)

    def _on_retransmission_timeout(self, now: float) -> None:
        self._rto_at = None
        if self.snd_una == self.iss:  # our SYN is not acknowledged yet
            limit = self.config.syn_retries if self.state is _S.SYN_SENT else self.config.synack_retries
            if self._retries >= limit:
                self.stats["timeout.syn"] += 1
                self._terminate(_E.TIMEOUT, TimedOut())
                return
            self._retries += 1
            self.stats["tx.syn_retransmits"] += 1
            self._rto.back_off()
            self._rtt_seq = None
            self._send_syn(now)
            self._rto_at = now + self._rto.rto
            return
        if self.snd_una >= self.snd_max:
            return
        if self._retries >= self.config.max_retransmits:
            self.stats["timeout.retransmit"] += 1
            self._terminate(_E.TIMEOUT, TimedOut())
            return
        self._retries += 1
        self.stats["tx.timeouts"] += 1
        if self._retries == 1:  # ssthresh holds across repeated timeouts of the same data (RFC 5681 3.1)
            self.ssthresh = max((self.snd_max - self.snd_una) // 2, 2 * self.mss)
        self.cwnd = self.mss
        self._in_recovery = False
        self._rexmit_marks.clear()
        self._dupacks = 0
        self._recover = self.snd_max
        # The receiver may renege on what it SACKed (RFC 2018 section 8); start over from snd_una.
        self._sacked.clear()
        self._rexmit_high = self.snd_una
        self._rto.back_off()
        self._rtt_seq = None
        # Go back N; the first segment goes out even into a window the peer has shrunk shut.
        self.snd_nxt = self._retransmit(self.snd_una, self.snd_max, now)

    def _on_persist_timeout(self, now: float) -> None:
        self._persist_at = None
        if self._persist_probes >= self.config.max_retransmits:
            self.stats["timeout.window_probe"] += 1
            self._terminate(_E.TIMEOUT, TimedOut())
            return
        self._persist_probes += 1
        self._persist_backoff += 1
        self.stats["tx.window_probes"] += 1
        # An old sequence number draws an ACK carrying the current window (RFC 9293 3.8.6.1).
        self._emit(self._segment(self.snd_una - 1, ACK, b"", now))
        self._persist_at = now + self._persist_interval()

    def _on_keepalive_timeout(self, now: float) -> None:
        config = self.config
        if self.snd_max > self.snd_una or len(self._send) or self.state not in (_S.ESTABLISHED, _S.CLOSE_WAIT):
            self._keepalive_at = now + config.keepalive_idle
            return
        if self._keepalive_probes >= config.keepalive_probes:
            self.stats["timeout.keepalive"] += 1
            self._terminate(_E.TIMEOUT, TimedOut())
            return
        self._keepalive_probes += 1
        self.stats["tx.keepalives"] += 1
        self._emit(self._segment(self.snd_una - 1, ACK, b"", now))
        self._keepalive_at = now + config.keepalive_interval

    def _persist_interval(self) -> float:
        return min(self._rto.rto * (1 << min(self._persist_backoff, 16)), self.config.max_rto)

    # ------------------------------------------------------- segment arrival

    def receive(self, segment: Segment, now: float) -> None:
        """Process one segment from the peer (RFC 9293 3.10.7)."""
        self._now = now
        state = self.state
        if state is _S.CLOSED:
            self.stats["rx.closed"] += 1
            return
        if state is _S.LISTEN:
            self._receive_in_listen(segment, now)
        elif state is _S.SYN_SENT:
            self._receive_in_syn_sent(segment, now)
        else:
            self._receive_synchronized(segment, now)
        if self.state is not _S.CLOSED:
            self._output(now)

    def _receive_in_listen(self, segment: Segment, now: float) -> None:
        flags = segment.flags
        if flags & RST:
            self.stats["rx.rst_in_listen"] += 1
            return
        if flags & ACK or not flags & SYN:
            self.stats["rx.not_syn_in_listen"] += 1
            reset = reset_for(segment)
            if reset is not None and flags & ACK:
                self._emit(reset)
            return
        self._take_syn(segment)
        self.snd_wnd = self.max_snd_wnd = segment.window
        self._fire(_E.RCV_SYN)
        self.snd_nxt = self.snd_max = self.iss + 1
        self._rtt_seq, self._rtt_start = self.snd_nxt, now
        self._send_syn(now)
        self._rto_at = now + self._rto.rto

    def _receive_in_syn_sent(self, segment: Segment, now: float) -> None:
        flags = segment.flags
        ack = unwrap(segment.ack, self.snd_una)
        if flags & ACK and not self.iss < ack <= self.snd_max:
            self.stats["rx.bad_ack_in_syn_sent"] += 1
            if not flags & RST:
                self._emit(Segment(self.local_port, self.remote_port, segment.ack, 0, RST, 0))
            return
        if flags & RST:
            if flags & ACK:
                self._terminate(_E.RCV_RST, ConnectionReset(refused=True))
            else:
                self.stats["rx.rst_without_ack_in_syn_sent"] += 1
            return
        if not flags & SYN:
            self.stats["rx.not_syn_in_syn_sent"] += 1
            return
        self._take_syn(segment)
        if flags & ACK:
            self._rcv_adv = self.rcv_nxt + min(self._recv.space, _MAX_WINDOW_FIELD)  # what our SYN offered
            self.snd_wnd = self.max_snd_wnd = segment.window  # never scaled in a SYN (RFC 7323 2.2)
            self._snd_wl1, self._snd_wl2 = self.irs, ack
            self._sample_rtt(segment, ack, now)
            self.snd_una = ack
            self._rto_at = None
            self._fire(_E.RCV_SYN_ACK)
            self._established(now)
            self._ack_now = True
        else:
            self.snd_wnd = self.max_snd_wnd = segment.window
            self._fire(_E.RCV_SYN)  # simultaneous open: answer with SYN,ACK for our same ISN
            self._send_syn(now)

    def _receive_synchronized(self, segment: Segment, now: float) -> None:
        """RFC 9293 3.10.7.4: the checks in order, then the ACK, then the data and the FIN."""
        flags = segment.flags
        options = segment.options
        timestamp = options.timestamp
        state = self.state
        seq = unwrap(segment.seq, self.rcv_nxt)

        if (self._ts_ok and timestamp is not None and not flags & RST and serial_lt(timestamp[0], self._ts_recent)
                and not self._is_disordered_ack(segment, seq, timestamp[0])):
            self.stats["rx.paws"] += 1  # RFC 7323 5.3: an old duplicate from a previous wrap
            self._ack_now = True
            return

        payload = segment.payload
        fin = bool(flags & FIN)
        window = max(0, self._rcv_adv - self.rcv_nxt)
        if not _acceptable(seq, segment.seg_len, self.rcv_nxt, window):
            if state is _S.SYN_RECEIVED and flags & SYN and not flags & ACK and seq == self.irs:
                self.stats["rx.syn_retransmitted"] += 1
                self._send_syn(now)
                return
            if state is _S.TIME_WAIT and fin and seq + segment.seg_len == self.rcv_nxt:
                self._fire(_E.RCV_FIN)
                self._time_wait_at = now + 2 * self.config.msl
                self._ack_now = True
                return
            if window == 0 and seq == self.rcv_nxt and not flags & (RST | SYN):
                # A zero window takes no data, but its ACK still counts (RFC 9293 3.10.7.4).
                self.stats["rx.zero_window_data"] += 1
                payload, fin = b"", False
                self._ack_now = True
            else:
                self.stats["rx.out_of_window"] += 1
                if not flags & RST:
                    self._ack_now = True
                return

        if flags & RST:
            # RFC 5961 3.2: only an exact match resets; anything else in the window is challenged.
            if seq == self.rcv_nxt:
                self._terminate(_E.RCV_RST, ConnectionReset())
            else:
                self._challenge_ack(now)
            return
        if flags & SYN:
            self._challenge_ack(now)  # RFC 5961 4.2, whatever the sequence number
            return
        if not flags & ACK:
            self.stats["rx.no_ack"] += 1
            return
        if (self._ts_ok and timestamp is not None and seq <= self._last_ack_sent
                and not serial_lt(timestamp[0], self._ts_recent)):
            self._ts_recent = timestamp[0]  # RFC 7323 4.3
        if self.config.keepalive:
            self._keepalive_at = now + self.config.keepalive_idle
            self._keepalive_probes = 0
        if self._fin_wait_2_at is not None and self.config.fin_wait_2_timeout is not None:
            self._fin_wait_2_at = now + self.config.fin_wait_2_timeout  # the peer is still there
        if state is _S.TIME_WAIT:
            self.stats["rx.in_time_wait"] += 1
            return

        ack = unwrap(segment.ack, self.snd_una)
        if state is _S.SYN_RECEIVED:
            if not self.snd_una < ack <= self.snd_max:
                self.stats["rx.bad_ack_in_syn_received"] += 1
                self._emit(Segment(self.local_port, self.remote_port, segment.ack, 0, RST, 0))
                return
            self.snd_wnd = segment.window << self._snd_wscale
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
            self._snd_wl1, self._snd_wl2 = seq, ack
            self._fire(_E.RCV_ACK)
            self._established(now)
        if ack > self.snd_max:
            self.stats["rx.ack_of_unsent"] += 1
            self._ack_now = True
            return
        if ack < self.snd_una - self.max_snd_wnd:
            self.stats["rx.ack_too_old"] += 1  # RFC 5961 5.2
            self._ack_now = True
            return
        self._process_ack(segment, seq, ack, now)
        if self.state is _S.CLOSED:
            return

        if seq < self.rcv_nxt:
            payload = payload[self.rcv_nxt - seq:]
            seq = self.rcv_nxt
        if seq + len(payload) > self._rcv_adv:
            payload = payload[:self._rcv_adv - seq]
            fin = False
        if self.state not in _RECEIVING:
            return  # the peer's FIN came already: nothing after it counts
        if self._peer_fin is not None and seq + len(payload) > self._peer_fin:
            payload = payload[:max(0, self._peer_fin - seq)]
        if payload:
            self._take_data(seq, payload, now)
        if fin:
            fin_at = seq + len(payload)
            if self._peer_fin is None or fin_at < self._peer_fin:
                self._peer_fin = fin_at
                self._recv.truncate(fin_at)
            self._ack_now = True
        self._take_fin_in_order(now)

    def _is_disordered_ack(self, segment: Segment, seq: int, tsval: int) -> bool:
        """A pure duplicate ACK overtaken by a later one: PAWS would wrongly drop it (Linux's tcp_disordered_ack)."""
        return (segment.flags == ACK and not segment.payload and seq == self.rcv_nxt
                and unwrap(segment.ack, self.snd_una) == self.snd_una
                and (self._ts_recent - tsval) & MASK <= self._rto.rto * 1000)

    def _take_syn(self, segment: Segment) -> None:
        """Learn the peer's ISN and its SYN's options (RFC 9293 3.7.1, RFC 7323, RFC 2018)."""
        config = self.config
        options = segment.options
        self.irs = segment.seq
        self.rcv_nxt = self.irs + 1
        self._recv.nxt = self.rcv_nxt
        peer_mss = options.mss if options.mss is not None else config.default_mss
        self.mss = max(_MIN_MSS, min(peer_mss, config.mss))
        self._wscale_ok = config.window_scaling and options.window_scale is not None
        if self._wscale_ok and options.window_scale is not None:
            self._snd_wscale = min(options.window_scale, _MAX_WINDOW_SCALE)
        else:
            self._snd_wscale = self._rcv_wscale = 0
        self._sack_ok = config.sack and options.sack_permitted
        self._ts_ok = config.timestamps and options.timestamp is not None
        if self._ts_ok and options.timestamp is not None:
            self._ts_recent = options.timestamp[0]
        self._rcv_mss = self.mss - (_TIMESTAMP_OPTION_LEN if self._ts_ok else 0)

    def _established(self, now: float) -> None:
        # One segment only if the handshake needed a retransmission (RFC 5681 3.1).
        self.cwnd = (1 if self._retries else self.config.initial_window_segments) * self.mss
        self._retries = 0
        self._events.append(Connected())
        if self.config.keepalive:
            self._keepalive_at = now + self.config.keepalive_idle

    def _process_ack(self, segment: Segment, seq: int, ack: int, now: float) -> None:
        """Step five of RFC 9293 3.10.7.4 for an acceptable ACK."""
        self._persist_probes = 0
        new_sack = self._sack_ok and bool(segment.options.sack_blocks) \
            and self._take_sack_blocks(segment.options.sack_blocks)
        window = segment.window << self._snd_wscale
        if ack > self.snd_una:
            self._on_new_ack(segment, ack, now)
        elif (ack == self.snd_una and self.snd_max > self.snd_una and not segment.payload
              and not segment.flags & FIN and (window == self.snd_wnd or new_sack)):
            # RFC 5681's duplicate ACK; one with new SACK information counts even if the window moved (RFC 6675).
            self._on_duplicate_ack(now)
        if self._in_recovery and self._sack_ok:
            self._resend_lost_retransmission(now)
        if ack >= self.snd_una and (self._snd_wl1 < seq or (self._snd_wl1 == seq and self._snd_wl2 <= ack)):
            if window and not self.snd_wnd:
                self._persist_backoff = 0
            self.snd_wnd = window
            self.max_snd_wnd = max(self.max_snd_wnd, window)
            self._snd_wl1, self._snd_wl2 = seq, ack
        if self._fin_seq is not None and self.snd_una > self._fin_seq:
            state = self.state
            if state is _S.FIN_WAIT_1:
                self._fire(_E.RCV_ACK_OF_FIN)
                if self.config.fin_wait_2_timeout is not None:
                    self._fin_wait_2_at = now + self.config.fin_wait_2_timeout
            elif state is _S.CLOSING:
                self._fire(_E.RCV_ACK_OF_FIN)
                self._enter_time_wait(now)
            elif state is _S.LAST_ACK:
                self._terminate(_E.RCV_ACK_OF_FIN)

    def _sample_rtt(self, segment: Segment, ack: int, now: float) -> None:
        timestamp = segment.options.timestamp
        if self._ts_ok and timestamp is not None and timestamp[1]:
            elapsed = (self._tsval(now) - timestamp[1]) & MASK
            if elapsed < 0x8000_0000:
                self._rto.sample(elapsed / 1000)
                self._rtt_seq = None
                return
        if self._rtt_seq is not None and ack >= self._rtt_seq:
            self._rto.sample(now - self._rtt_start)
            self._rtt_seq = None

    def _on_new_ack(self, segment: Segment, ack: int, now: float) -> None:
        acked = ack - self.snd_una
        self._sample_rtt(segment, ack, now)
        self._retries = 0
        self.snd_una = ack
        freed = self._send.acknowledge(ack)
        self.snd_nxt = max(self.snd_nxt, ack)
        while self._sacked and self._sacked[0][1] <= ack:
            self._sacked.pop(0)
        if self._sacked and self._sacked[0][0] < ack:
            self._sacked[0][0] = ack
        mss = self.mss
        if self._in_recovery:
            if ack >= self._recover:
                # Full acknowledgment: leave recovery with cwnd deflated (RFC 6582 3.2 step 3).
                self.cwnd = min(self.ssthresh, max(self.snd_max - self.snd_una, mss) + mss)
                self._in_recovery = False
                self._dupacks = 0
                self._rexmit_marks.clear()
            else:
                self._rexmit_marks = {seq: mark for seq, mark in self._rexmit_marks.items() if seq >= ack}
                # Partial acknowledgment: the next hole is lost too (RFC 6582 3.2 step 4).
                if not self._sack_ok:
                    self.cwnd = max(self.cwnd - acked + (mss if acked >= mss else 0), mss)
                if self.snd_una >= self._rexmit_high:
                    self._retransmit(self.snd_una, self._hole_end(self.snd_una), now)
        else:
            self._dupacks = 0
            if self.cwnd < self.ssthresh:
                self.cwnd += min(acked, 2 * mss)  # slow start with RFC 3465's L = 2*SMSS
            else:
                self.cwnd += max(1, mss * mss // self.cwnd)
        self._rto_at = now + self._rto.rto if self.snd_una < self.snd_max else None
        if freed and self._want_writable and self._send.space:
            self._want_writable = False
            self._events.append(Writable())

    def _on_duplicate_ack(self, now: float) -> None:
        self._dupacks += 1
        self.stats["rx.duplicate_acks"] += 1
        if self._in_recovery:
            if not self._sack_ok:
                self.cwnd += self.mss  # NewReno inflation: one more segment has left the network
            return
        # Three duplicate ACKs, or more than two segments SACKed above snd_una (RFC 6675's IsLost) mean loss;
        # after a timeout, those for data sent before it do not start recovery (RFC 6582 4.1).
        lost = self._dupacks >= DUP_ACK_THRESHOLD or (
            bool(self._sacked) and sum(end - start for start, end in self._sacked) > (DUP_ACK_THRESHOLD - 1) * self.mss)
        if lost and self.snd_una >= self._recover:
            self.stats["tx.fast_retransmits"] += 1
            self.ssthresh = max((self.snd_max - self.snd_una) // 2, 2 * self.mss)
            self._recover = self.snd_max
            self._in_recovery = True
            self.cwnd = self.ssthresh + (0 if self._sack_ok else DUP_ACK_THRESHOLD * self.mss)
            self._rexmit_high = self.snd_una
            self._retransmit(self.snd_una, self._hole_end(self.snd_una), now)

    def _resend_lost_retransmission(self, now: float) -> None:
        """Resend snd_una once the peer SACKs data sent after its retransmission: that copy was lost too.

        This is RACK's reasoning (RFC 8985) for the one segment that holds
        everything up; without it only the retransmission timer would notice.
        """
        mark = self._rexmit_marks.get(self.snd_una)
        if mark is not None and self._sacked and self._sacked[-1][1] >= mark + self.mss:
            self.stats["tx.lost_retransmits"] += 1
            self._retransmit(self.snd_una, self._hole_end(self.snd_una), now)

    def _take_sack_blocks(self, blocks: tuple[tuple[int, int], ...]) -> bool:
        """Merge the peer's SACK blocks into the scoreboard; returns whether it learnt anything."""
        before = sum(end - start for start, end in self._sacked)
        for left, right in blocks:
            start = max(unwrap(left, self.snd_una), self.snd_una)
            end = unwrap(right, self.snd_una)
            if end <= self.snd_una:
                continue  # acknowledged since: an ACK overtaken by a later one
            if not start < end <= self.snd_max:
                self.stats["rx.bad_sack_block"] += 1
                continue
            merged: list[list[int]] = []
            for block in self._sacked:
                if block[1] < start or block[0] > end:
                    merged.append(block)
                else:
                    start, end = min(start, block[0]), max(end, block[1])
            merged.append([start, end])
            merged.sort()
            self._sacked = merged
        return sum(end - start for start, end in self._sacked) > before

    def _take_data(self, seq: int, payload: bytes, now: float) -> None:
        had_gaps = self._recv.has_gaps
        self._rcv_mss = max(self._rcv_mss, len(payload))
        delivered = self._recv.add(seq, payload)
        if not delivered:
            self.stats["rx.out_of_order"] += 1
            self._ack_now = True  # a duplicate ACK, with SACK blocks, tells the sender at once (RFC 5681 4.2)
            return
        self.rcv_nxt = self._recv.nxt
        if not self._events or self._events[-1] != _DATA_RECEIVED:
            self._events.append(_DATA_RECEIVED)
        self._unacked_bytes += delivered
        if had_gaps or self._unacked_bytes >= 2 * self._rcv_mss:
            self._ack_now = True
        elif self._delack_at is None:
            self._delack_at = now + self.config.delayed_ack

    def _take_fin_in_order(self, now: float) -> None:
        if self._fin_received or self._peer_fin is None or self._recv.nxt != self._peer_fin:
            return
        self._fin_received = True
        self.rcv_nxt = self._peer_fin + 1
        self._ack_now = True
        self._events.append(PeerClosed())
        state = self.state
        self._fire(_E.RCV_FIN)
        if state is _S.FIN_WAIT_2:
            self._enter_time_wait(now)

    def _enter_time_wait(self, now: float) -> None:
        self._rto_at = self._persist_at = self._keepalive_at = self._fin_wait_2_at = None
        self._time_wait_at = now + 2 * self.config.msl

    def _challenge_ack(self, now: float) -> None:
        if now - self._challenge_window >= 1.0:
            self._challenge_window = now
            self._challenge_count = 0
        if self._challenge_count >= self.config.challenge_ack_limit:
            self.stats["tx.challenge_acks_suppressed"] += 1
            return
        self._challenge_count += 1
        self.stats["tx.challenge_acks"] += 1
        self._ack_now = True

    # ------------------------------------------------------------------ output

    def _output(self, now: float) -> None:
        """Send what the windows allow, then any ACK still owed."""
        state = self.state
        sent = False
        if state in _SENDING and self.snd_una > self.iss:
            sent = self._send_data(now)
        if self._ack_now and not sent and state not in (_S.SYN_SENT, _S.LISTEN, _S.CLOSED):
            self._emit(self._segment(self.snd_max, ACK, b"", now))

    def _send_data(self, now: float) -> bool:
        sent = False
        while True:
            if self._in_recovery and self._sack_ok:
                hole = self._next_hole()
                if hole is not None and self.cwnd - self._pipe() >= self.mss:
                    if self._retransmit(hole[0], hole[1], now) == hole[0]:
                        self._rexmit_high = hole[1]  # nothing to resend there (no data): move past it
                    else:
                        sent = True
                    continue
            fin_unsent = self._fin_seq is not None and self.snd_nxt <= self._fin_seq
            available = self._send.end - self.snd_nxt
            if available <= 0 and not fin_unsent:
                break
            inside = self._sacked_block_at(self.snd_nxt)
            if inside is not None:
                self.snd_nxt = inside[1]
                continue
            limit = self._payload_limit()
            if self._in_recovery:
                cwnd_room = self.cwnd - self._pipe()
            else:
                # Limited transmit (RFC 3042): each of the first two duplicate ACKs lets one new segment out.
                limited = min(self._dupacks, DUP_ACK_THRESHOLD - 1) * self.mss
                cwnd_room = self.cwnd + limited - (self.snd_nxt - self.snd_una)
            window_room = self.snd_una + self.snd_wnd - self.snd_nxt
            size = max(0, min(available, limit, cwnd_room, window_room, self._sacked_gap(self.snd_nxt)))
            fin = fin_unsent and self.snd_nxt + size == self._fin_seq and window_room > size
            if size == 0 and not fin:
                break
            if size < limit and self.snd_max > self.snd_una:
                if size < available:
                    if size < self.max_snd_wnd // 2:
                        break  # sender silly window avoidance: wait for the ACK that opens more
                elif not self.config.nodelay and not fin:
                    break  # Nagle: one small segment in flight at a time
            self._transmit(self.snd_nxt, size, fin, now)
            self.snd_nxt += size + fin
            sent = True
        if (not sent and self.snd_max == self.snd_una and self._persist_at is None and self._rto_at is None
                and (self._send.end > self.snd_nxt or (self._fin_seq is not None and self.snd_nxt <= self._fin_seq))):
            self._persist_at = now + self._persist_interval()  # a zero window: probe it (RFC 9293 3.8.6.1)
        return sent

    def _retransmit(self, seq: int, limit: int, now: float) -> int:
        """Send again one segment from ``seq``, not past ``limit``; returns the sequence number after it."""
        size = max(0, min(self._payload_limit(), self._send.end - seq, limit - seq))
        fin = self._fin_seq is not None and seq + size == self._fin_seq and self.snd_max > self._fin_seq
        if size == 0 and not fin:
            return seq
        self._transmit(seq, size, fin, now)
        end = seq + size + fin
        self._rexmit_high = max(self._rexmit_high, end)
        if self._in_recovery:
            self._rexmit_marks[seq] = self.snd_max
        return end

    def _transmit(self, seq: int, size: int, fin: bool, now: float) -> None:
        payload = self._send.peek(seq, size)
        end = seq + size + fin
        flags = ACK
        if fin:
            flags |= FIN
        if size and seq + size == self._send.end:
            flags |= PSH
        if seq < self.snd_max:
            self.stats["tx.retransmits"] += 1
            self._rtt_seq = None  # Karn: an ACK could now be for either copy
        elif self._rtt_seq is None and not self._ts_ok:
            self._rtt_seq, self._rtt_start = end, now
        # A resent segment cut differently from the first copy (its options differ) may reach past snd_max.
        self.snd_max = max(self.snd_max, end)
        if self._rto_at is None:
            self._rto_at = now + self._rto.rto
        self._persist_at = None
        self.stats["tx.segments"] += 1
        self._emit(self._segment(seq, flags, payload, now))

    def _next_hole(self) -> tuple[int, int] | None:
        """The first range below the highest SACKed byte neither SACKed nor retransmitted yet."""
        start = max(self._rexmit_high, self.snd_una)
        for block_start, block_end in self._sacked:
            if start < block_start:
                return start, block_start
            start = max(start, block_end)
        return None

    def _pipe(self) -> int:
        """Bytes believed in the network (RFC 6675's pipe, counting holes below the highest SACK as lost)."""
        if not self._sacked:
            return self.snd_max - self.snd_una
        highest = self._sacked[-1][1]
        pipe = self.snd_max - highest
        retransmitted_to = min(self._rexmit_high, highest)
        if retransmitted_to > self.snd_una:
            sacked = sum(min(end, retransmitted_to) - start for start, end in self._sacked
                         if start < retransmitted_to)
            pipe += retransmitted_to - self.snd_una - sacked
        return pipe

    def _sacked_block_at(self, seq: int) -> list[int] | None:
        for block in self._sacked:
            if block[0] <= seq < block[1]:
                return block
        return None

    def _hole_end(self, seq: int) -> int:
        """Where the unSACKed range starting at ``seq`` ends."""
        return min(self.snd_max, seq + self._sacked_gap(seq))

    def _sacked_gap(self, seq: int) -> int:
        """Bytes from ``seq`` to the next SACKed block (sending into it would repeat what the peer has)."""
        for start, _ in self._sacked:
            if start > seq:
                return start - seq
        return 1 << 62

    def _payload_limit(self) -> int:
        options = _TIMESTAMP_OPTION_LEN if self._ts_ok else 0
        if self._sack_ok and self._recv.has_gaps:
            options += 4 + 8 * len(self._recv.sack_blocks(self._sack_block_count()))
        return self.mss - options

    def _sack_block_count(self) -> int:
        return 3 if self._ts_ok else 4  # what fits in 40 bytes of options beside a timestamp

    def _tsval(self, now: float) -> int:
        return (int(now * 1000) + self._ts_offset) & MASK

    def _advertise(self) -> int:
        """The window field to send, moving the advertised right edge only forward (RFC 9293 3.8.6.2.2)."""
        right = self.rcv_nxt + self._recv.space
        if right - self._rcv_adv >= min(self._recv.capacity // 2, self._rcv_mss):
            self._rcv_adv = right
        shift = self._rcv_wscale
        window = max(0, self._rcv_adv - self.rcv_nxt)
        field = min(_MAX_WINDOW_FIELD, (window + (1 << shift) - 1) >> shift)
        self._rcv_adv = max(self._rcv_adv, self.rcv_nxt + (field << shift))
        return field

    def _segment(self, seq: int, flags: int, payload: bytes, now: float) -> Segment:
        """A segment carrying our ACK, window, timestamp and SACK blocks."""
        sack_blocks: tuple[tuple[int, int], ...] = ()
        if self._sack_ok and self._recv.has_gaps:
            sack_blocks = tuple((wrap(start), wrap(end))
                                for start, end in self._recv.sack_blocks(self._sack_block_count()))
        timestamp = (self._tsval(now), self._ts_recent) if self._ts_ok else None
        options = TcpOptions(sack_blocks=sack_blocks, timestamp=timestamp)
        self._last_ack_sent = self.rcv_nxt
        self._ack_now = False
        self._unacked_bytes = 0
        self._delack_at = None
        return Segment(self.local_port, self.remote_port, wrap(seq), wrap(self.rcv_nxt), flags,
                       self._advertise(), options, payload)

    def _send_syn(self, now: float) -> None:
        """Send (again) our SYN in SYN-SENT, or SYN,ACK once the peer's SYN is known."""
        config = self.config
        active = self.state is _S.SYN_SENT
        window = min(self._recv.space, _MAX_WINDOW_FIELD)
        if active:
            options = TcpOptions(
                mss=config.mss,
                window_scale=self._rcv_wscale if config.window_scaling else None,
                sack_permitted=config.sack,
                timestamp=(self._tsval(now), 0) if config.timestamps else None)
            segment = Segment(self.local_port, self.remote_port, self.iss, 0, SYN, window, options)
        else:
            options = TcpOptions(
                mss=config.mss,
                window_scale=self._rcv_wscale if self._wscale_ok else None,
                sack_permitted=self._sack_ok,
                timestamp=(self._tsval(now), self._ts_recent) if self._ts_ok else None)
            self._last_ack_sent = self.rcv_nxt
            self._rcv_adv = max(self._rcv_adv, self.rcv_nxt + window)
            segment = Segment(self.local_port, self.remote_port, self.iss, wrap(self.rcv_nxt), SYN | ACK, window,
                              options)
        self._emit(segment)

    # --------------------------------------------------------------- plumbing

    def _emit(self, segment: Segment) -> None:
        if not self._outgoing and self._on_activity is not None:
            self._outgoing.append(segment)
            self._on_activity(self)
        else:
            self._outgoing.append(segment)

    def _fire(self, event: TcpEvent) -> None:
        before = self._machine.state
        after = self._machine.fire(event)
        if self._on_transition is not None:
            self._on_transition(self, before, event, after)

    def _terminate(self, event: TcpEvent, cause: TcpConnectionEvent | None = None) -> None:
        """Move to CLOSED by ``event``, stop every timer, and tell the layer above why."""
        self._fire(event)
        self._rto_at = self._persist_at = self._delack_at = None
        self._keepalive_at = self._fin_wait_2_at = self._time_wait_at = None
        if cause is not None:
            self._events.append(cause)
        self._events.append(Closed())
        if self._on_activity is not None:
            self._on_activity(self)

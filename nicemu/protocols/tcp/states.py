"""The TCP connection states of RFC 9293 and the one table of what may follow what.

Every state change of a connection (and of a listener, which only ever moves
between CLOSED and LISTEN) is an event looked up in ``TRANSITIONS``; a pair not
in the table raises ``IllegalTransition``. Things that happen without changing
state (a challenge ACK, a duplicate segment) are not transitions.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from nicemu.ndis.states import IllegalTransition, StateMachine

__all__ = ["TRANSITIONS", "IllegalTransition", "StateMachine", "TcpEvent", "TcpState", "TransitionObserver"]


class TcpState(enum.Enum):
    """The connection states, named as in RFC 9293 section 3.3.2."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


class TcpEvent(enum.StrEnum):
    """What moves a connection: a user call, a received segment, or a timer."""

    OPEN_ACTIVE = "open_active"
    OPEN_PASSIVE = "open_passive"
    CLOSE = "close"
    ABORT = "abort"
    RCV_SYN = "rcv_syn"
    RCV_SYN_ACK = "rcv_syn_ack"
    RCV_ACK = "rcv_ack"
    RCV_ACK_OF_FIN = "rcv_ack_of_fin"
    RCV_FIN = "rcv_fin"
    RCV_RST = "rcv_rst"
    TIMEOUT = "timeout"
    """Retransmissions, keepalive probes or the FIN-WAIT-2 timer gave up on the peer."""
    TIME_WAIT_EXPIRED = "time_wait_expired"
    """2*MSL passed in TIME-WAIT."""
    REUSE = "reuse"
    """A new SYN for the 4-tuple took over a connection in TIME-WAIT (RFC 6191)."""


_S = TcpState
_E = TcpEvent

# Every synchronized state can be reset by the peer, aborted by the user, or given up on.
_TEARDOWN = {
    (state, event): _S.CLOSED
    for state in (_S.SYN_RECEIVED, _S.ESTABLISHED, _S.FIN_WAIT_1, _S.FIN_WAIT_2, _S.CLOSE_WAIT, _S.CLOSING,
                  _S.LAST_ACK)
    for event in (_E.RCV_RST, _E.ABORT, _E.TIMEOUT)
}

TRANSITIONS: Mapping[tuple[TcpState, str], TcpState] = {
    (_S.CLOSED, _E.OPEN_ACTIVE): _S.SYN_SENT,
    (_S.CLOSED, _E.OPEN_PASSIVE): _S.LISTEN,
    (_S.LISTEN, _E.RCV_SYN): _S.SYN_RECEIVED,
    (_S.LISTEN, _E.CLOSE): _S.CLOSED,
    (_S.SYN_SENT, _E.RCV_SYN_ACK): _S.ESTABLISHED,
    (_S.SYN_SENT, _E.RCV_SYN): _S.SYN_RECEIVED,  # simultaneous open
    (_S.SYN_SENT, _E.RCV_RST): _S.CLOSED,
    (_S.SYN_SENT, _E.CLOSE): _S.CLOSED,
    (_S.SYN_SENT, _E.ABORT): _S.CLOSED,
    (_S.SYN_SENT, _E.TIMEOUT): _S.CLOSED,
    (_S.SYN_RECEIVED, _E.RCV_ACK): _S.ESTABLISHED,
    (_S.SYN_RECEIVED, _E.CLOSE): _S.FIN_WAIT_1,
    (_S.ESTABLISHED, _E.CLOSE): _S.FIN_WAIT_1,
    (_S.ESTABLISHED, _E.RCV_FIN): _S.CLOSE_WAIT,
    (_S.FIN_WAIT_1, _E.RCV_ACK_OF_FIN): _S.FIN_WAIT_2,
    (_S.FIN_WAIT_1, _E.RCV_FIN): _S.CLOSING,  # simultaneous close
    (_S.FIN_WAIT_2, _E.RCV_FIN): _S.TIME_WAIT,
    (_S.CLOSE_WAIT, _E.CLOSE): _S.LAST_ACK,
    (_S.CLOSING, _E.RCV_ACK_OF_FIN): _S.TIME_WAIT,
    (_S.LAST_ACK, _E.RCV_ACK_OF_FIN): _S.CLOSED,
    (_S.TIME_WAIT, _E.RCV_FIN): _S.TIME_WAIT,  # the peer's FIN again: ACK it and restart 2*MSL
    (_S.TIME_WAIT, _E.TIME_WAIT_EXPIRED): _S.CLOSED,
    (_S.TIME_WAIT, _E.RCV_RST): _S.CLOSED,
    (_S.TIME_WAIT, _E.ABORT): _S.CLOSED,
    (_S.TIME_WAIT, _E.REUSE): _S.CLOSED,
    **_TEARDOWN,
}
"""``(state, event) -> next state`` for every legal transition, and only those."""

TransitionObserver = Callable[[Any, TcpState, TcpEvent, TcpState], None]
"""Called with (connection or listener, state before, event, state after) on every transition."""

"""TCP (RFC 9293) as a sans-IO engine: segments and time in, segments, events and deadlines out.

``TcpConnection`` is one connection's state machine (``states.TRANSITIONS``
is the whole of what may follow what); ``TcpEndpoint`` holds a host's
connections and listeners and answers strays with ``reset_for``.
"""

from nicemu.protocols.tcp.config import TcpConfig
from nicemu.protocols.tcp.connection import TcpConnection, TcpError
from nicemu.protocols.tcp.endpoint import TcpEndpoint, TcpListener
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
from nicemu.protocols.tcp.isn import IsnGenerator
from nicemu.protocols.tcp.segment import ACK, FIN, PSH, RST, SYN, URG, AddressedSegment, Segment, TcpOptions, reset_for
from nicemu.protocols.tcp.states import TRANSITIONS, IllegalTransition, TcpEvent, TcpState

__all__ = [
    "ACK",
    "FIN",
    "PSH",
    "RST",
    "SYN",
    "TRANSITIONS",
    "URG",
    "AddressedSegment",
    "Closed",
    "Connected",
    "ConnectionReset",
    "DataReceived",
    "IllegalTransition",
    "IsnGenerator",
    "PeerClosed",
    "Segment",
    "TcpConfig",
    "TcpConnection",
    "TcpConnectionEvent",
    "TcpEndpoint",
    "TcpError",
    "TcpEvent",
    "TcpListener",
    "TcpOptions",
    "TcpState",
    "TimedOut",
    "Writable",
    "reset_for",
]

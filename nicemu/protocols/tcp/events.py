"""What a connection tells the layer above, taken with ``TcpConnection.take_events()``.

``Closed`` is always a connection's last event; ``ConnectionReset`` or
``TimedOut`` come just before it when that is why it closed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Connected:
    """The three-way handshake completed: the connection is ESTABLISHED."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """New bytes can be read with ``read()``."""


@dataclass(frozen=True, slots=True)
class Writable:
    """The send buffer, full when ``send()`` last took less than it was given, has room again."""


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer sent FIN: after the bytes already readable, ``read()`` returns end of file."""


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """The peer reset the connection; ``refused`` when it answered our SYN with RST."""

    refused: bool = False


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The peer stopped answering: retransmissions or keepalive probes ran out."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection reached CLOSED; nothing more will happen on it."""


TcpConnectionEvent = Connected | DataReceived | Writable | PeerClosed | ConnectionReset | TimedOut | Closed

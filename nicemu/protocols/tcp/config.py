"""The knobs of the TCP engine, with defaults close to Linux's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TcpConfig:
    """Parameters shared by every connection of an endpoint. Times are in seconds."""

    mss: int = 1460
    """The largest payload we accept and send, options included (MTU minus IP and TCP headers)."""
    default_mss: int = 536
    """The peer's MSS when its SYN carries none (RFC 9293 3.7.1, IPv4)."""
    send_buffer: int = 256 * 1024
    receive_buffer: int = 256 * 1024
    window_scaling: bool = True
    timestamps: bool = True
    sack: bool = True
    nodelay: bool = True
    """Nagle's algorithm off: a virtual wire has no congestion to save, and Nagle with delayed ACKs stalls."""
    initial_rto: float = 1.0
    min_rto: float = 0.2
    max_rto: float = 60.0
    clock_granularity: float = 0.001
    syn_retries: int = 6
    synack_retries: int = 5
    max_retransmits: int = 15
    """Consecutive timeouts of one segment, or unanswered zero-window probes, before giving up."""
    delayed_ack: float = 0.04
    msl: float = 30.0
    """Maximum segment lifetime; TIME-WAIT lasts twice this."""
    fin_wait_2_timeout: float | None = 60.0
    """How long to wait in FIN-WAIT-2 for the peer's FIN; None waits forever."""
    keepalive: bool = False
    keepalive_idle: float = 7200.0
    keepalive_interval: float = 75.0
    keepalive_probes: int = 9
    challenge_ack_limit: int = 10
    """Challenge ACKs per second per connection (RFC 5961 section 7)."""
    initial_window_segments: int = 10
    """Initial congestion window in segments (RFC 6928)."""
    max_connections: int = 1024
    """Connections an endpoint holds at once, TIME-WAIT included; SYNs beyond are dropped."""
    syn_backlog: int = 128
    """Half-open (SYN-RECEIVED) connections a listener holds; SYNs beyond are dropped."""
    accept_backlog: int = 128
    """Established connections waiting in a listener for ``accept``; SYNs beyond are dropped."""

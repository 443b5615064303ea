"""Packets waiting for ARP to resolve their next hop, bounded, with request pacing and give-up."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Waiting:
    packets: list[bytes] = field(default_factory=list)
    requests_sent: int = 0
    last_request: float = float("-inf")


class PendingResolution:
    """Per-destination queues of IPv4 packets while an ARP request is outstanding.

    At most ``per_destination`` packets wait for one address (the oldest
    dropped first, as Linux's unres_qlen), a request goes out at most every
    ``retry_interval`` seconds, and after ``max_requests`` unanswered
    requests the destination is given up and its packets dropped.
    """

    __slots__ = ("per_destination", "retry_interval", "max_requests", "_waiting", "dropped")

    def __init__(self, per_destination: int = 16, retry_interval: float = 1.0, max_requests: int = 3) -> None:
        self.per_destination = per_destination
        self.retry_interval = retry_interval
        self.max_requests = max_requests
        self._waiting: dict[bytes, _Waiting] = {}
        self.dropped = 0

    def __contains__(self, ip: bytes) -> bool:
        return ip in self._waiting

    def queue(self, ip: bytes, packet: bytes, now: float) -> bool:
        """Hold ``packet`` for ``ip``; True when an ARP request should go out now."""
        waiting = self._waiting.setdefault(ip, _Waiting())
        waiting.packets.append(packet)
        if len(waiting.packets) > self.per_destination:
            del waiting.packets[0]
            self.dropped += 1
        return self._request_due(waiting, now)

    def _request_due(self, waiting: _Waiting, now: float) -> bool:
        if now - waiting.last_request < self.retry_interval:
            return False
        waiting.last_request = now
        waiting.requests_sent += 1
        return True

    def resolved(self, ip: bytes) -> list[bytes]:
        """``ip`` answered: its packets, oldest first, to send now."""
        waiting = self._waiting.pop(ip, None)
        return [] if waiting is None else waiting.packets

    def retries(self, now: float) -> tuple[list[bytes], list[bytes]]:
        """Destinations to ask again now, and those given up (their packets dropped)."""
        again: list[bytes] = []
        given_up: list[bytes] = []
        for ip, waiting in list(self._waiting.items()):
            if now - waiting.last_request < self.retry_interval:
                continue
            if waiting.requests_sent >= self.max_requests:
                self.dropped += len(waiting.packets)
                del self._waiting[ip]
                given_up.append(ip)
            elif self._request_due(waiting, now):
                again.append(ip)
        return again, given_up

    def next_deadline(self) -> float | None:
        """When the next retry or give-up is due, if anything waits."""
        return min((w.last_request + self.retry_interval for w in self._waiting.values()), default=None)

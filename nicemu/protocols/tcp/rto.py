"""The retransmission timeout estimator of RFC 6298."""

from __future__ import annotations

_ALPHA = 1 / 8
_BETA = 1 / 4
_K = 4


class RtoEstimator:
    """SRTT and RTTVAR from round-trip samples, the RTO they give, and its backoff.

    A sample resets any backoff (RFC 6298 5.7). Callers follow Karn's algorithm
    and sample only segments sent once, unless timestamps tell the copies apart.
    """

    __slots__ = ("_granularity", "_maximum", "_minimum", "rto", "rttvar", "srtt")

    def __init__(self, initial: float, minimum: float, maximum: float, granularity: float) -> None:
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.rto = initial
        self._minimum = minimum
        self._maximum = maximum
        self._granularity = granularity

    def sample(self, rtt: float) -> None:
        """Fold one round-trip measurement (seconds) into SRTT, RTTVAR and the RTO (RFC 6298 2.2, 2.3)."""
        if self.srtt is None or self.rttvar is None:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar = (1 - _BETA) * self.rttvar + _BETA * abs(self.srtt - rtt)
            self.srtt = (1 - _ALPHA) * self.srtt + _ALPHA * rtt
        rto = self.srtt + max(self._granularity, _K * self.rttvar)
        self.rto = min(max(rto, self._minimum), self._maximum)

    def back_off(self) -> None:
        """Double the RTO after a timeout, up to the maximum (RFC 6298 5.5)."""
        self.rto = min(self.rto * 2, self._maximum)

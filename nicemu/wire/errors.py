"""The one exception a decoder raises for bytes it cannot accept."""


class DecodeError(ValueError):
    """Bytes that do not decode as the named protocol layer.

    ``layer`` names the codec ("ethernet", "arp", "ipv4", "icmpv4", "udp",
    "tcp", "ipv6", "icmpv6", "ndis_link_state", "ndis_statistics_info") and
    ``reason`` is a short, stable snake_case slug ("truncated", "bad_version",
    "bad_ihl", "bad_total_length", "bad_checksum", "bad_length", ...) that
    callers use as a drop-counter key; ``detail`` is free text for humans.
    """

    def __init__(self, layer: str, reason: str, detail: str = "") -> None:
        self.layer = layer
        self.reason = reason
        self.detail = detail
        message = f"{layer}: {reason} ({detail})" if detail else f"{layer}: {reason}"
        super().__init__(message)

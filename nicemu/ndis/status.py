"""NDIS status codes, with the names and values ndis.h gives them."""

from __future__ import annotations

import enum


class NdisStatus(enum.IntEnum):
    """Models NDIS_STATUS: the result of every NDIS call and the status of each NBL."""

    SUCCESS = 0x00000000
    PENDING = 0x00000103
    FAILURE = 0xC0000001
    INVALID_PARAMETER = 0xC000000D
    BUFFER_TOO_SHORT = 0xC0000023
    RESOURCES = 0xC000009A
    NOT_SUPPORTED = 0xC00000BB
    CLOSING = 0xC0230002
    ADAPTER_NOT_FOUND = 0xC0230006
    OPEN_FAILED = 0xC0230007
    MULTICAST_FULL = 0xC0230009
    REQUEST_ABORTED = 0xC023000C
    INVALID_PACKET = 0xC023000F
    ADAPTER_NOT_READY = 0xC0230011
    INVALID_LENGTH = 0xC0230014
    INVALID_DATA = 0xC0230015
    INVALID_OID = 0xC0230017
    ADAPTER_REMOVED = 0xC0230018
    UNSUPPORTED_MEDIA = 0xC0230019
    MEDIA_DISCONNECTED = 0xC023001F
    PAUSED = 0xC023002A
    # Status indications (NdisMIndicateStatusEx), not call results.
    MEDIA_CONNECT = 0x4001000B
    MEDIA_DISCONNECT = 0x4001000C
    LINK_STATE = 0x40010017

    @property
    def is_error(self) -> bool:
        """True for the error severity (top two bits set), as NT_ERROR() tests."""
        return (self.value >> 30) == 3

"""OID requests: how protocols query and set a miniport's information (NDIS_OID_REQUEST)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Oid(enum.IntEnum):
    """Object identifiers with their ntddndis.h values."""

    OID_GEN_MAXIMUM_FRAME_SIZE = 0x00010106
    OID_GEN_LINK_SPEED = 0x00010107
    OID_GEN_CURRENT_PACKET_FILTER = 0x0001010E
    OID_GEN_MEDIA_CONNECT_STATUS = 0x00010114
    OID_GEN_LINK_STATE = 0x00010247
    OID_GEN_XMIT_OK = 0x00020101
    OID_GEN_RCV_OK = 0x00020102
    OID_GEN_XMIT_ERROR = 0x00020103
    OID_GEN_RCV_ERROR = 0x00020104
    OID_GEN_RCV_NO_BUFFER = 0x00020105
    OID_GEN_STATISTICS = 0x00020106
    OID_GEN_DIRECTED_BYTES_XMIT = 0x00020201
    OID_GEN_DIRECTED_FRAMES_XMIT = 0x00020202
    OID_GEN_MULTICAST_BYTES_XMIT = 0x00020203
    OID_GEN_MULTICAST_FRAMES_XMIT = 0x00020204
    OID_GEN_BROADCAST_BYTES_XMIT = 0x00020205
    OID_GEN_BROADCAST_FRAMES_XMIT = 0x00020206
    OID_GEN_DIRECTED_BYTES_RCV = 0x00020207
    OID_GEN_DIRECTED_FRAMES_RCV = 0x00020208
    OID_GEN_MULTICAST_BYTES_RCV = 0x00020209
    OID_GEN_MULTICAST_FRAMES_RCV = 0x0002020A
    OID_GEN_BROADCAST_BYTES_RCV = 0x0002020B
    OID_GEN_BROADCAST_FRAMES_RCV = 0x0002020C
    OID_802_3_PERMANENT_ADDRESS = 0x01010101
    OID_802_3_CURRENT_ADDRESS = 0x01010102
    OID_802_3_MULTICAST_LIST = 0x01010103
    OID_802_3_MAXIMUM_LIST_SIZE = 0x01010104


class NdisRequestType(enum.IntEnum):
    """Models NDIS_REQUEST_TYPE."""

    SET_INFORMATION = 1
    QUERY_INFORMATION = 2
    QUERY_STATISTICS = 3


class PacketType(enum.IntFlag):
    """Models the NDIS_PACKET_TYPE_* bits of OID_GEN_CURRENT_PACKET_FILTER."""

    NONE = 0
    DIRECTED = 0x00000001
    MULTICAST = 0x00000002
    ALL_MULTICAST = 0x00000004
    BROADCAST = 0x00000008
    PROMISCUOUS = 0x00000020


class MediaConnectState(enum.IntEnum):
    """Models NDIS_MEDIA_CONNECT_STATE."""

    UNKNOWN = 0
    CONNECTED = 1
    DISCONNECTED = 2


@dataclass(slots=True)
class NdisOidRequest:
    """Models NDIS_OID_REQUEST: filled in by the caller, answered in place by the miniport.

    For a set, ``information_buffer`` holds the data and ``bytes_read`` says how
    much was used. For a query, ``information_buffer_length`` is the room the
    caller offers; the answer goes in ``information_buffer`` with
    ``bytes_written``, or ``bytes_needed`` when the room is too small.
    """

    request_type: NdisRequestType
    oid: int
    information_buffer: bytes = b""
    information_buffer_length: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    bytes_needed: int = 0
    status: int | None = None
    """The final status of a request the miniport pended, once it completes."""

    @classmethod
    def query(cls, oid: int, length: int = 256) -> NdisOidRequest:
        """A query with ``length`` bytes of room for the answer."""
        return cls(NdisRequestType.QUERY_INFORMATION, oid, information_buffer_length=length)

    @classmethod
    def set(cls, oid: int, data: bytes) -> NdisOidRequest:
        """A set carrying ``data``."""
        return cls(NdisRequestType.SET_INFORMATION, oid, data, len(data))

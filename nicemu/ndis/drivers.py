"""The handlers a driver gives NDIS when it registers (the *_DRIVER_CHARACTERISTICS).

NDIS calls these; the drivers call back into ``nicemu.ndis.ndis.Ndis``. Every
handler has the snake_case name of the NDIS handler it models.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.status import NdisStatus

if TYPE_CHECKING:
    from nicemu.ndis.nbl import NetBufferList
    from nicemu.ndis.ndis import FilterModule, MiniportBlock


ETHERNET_RANGE = "ndis5"
"""The INF UpperRange of an Ethernet miniport, and the LowerRange of protocols that bind to one."""


@dataclass(frozen=True, slots=True)
class MiniportAttributes:
    """What a miniport tells NDIS about its adapter (NdisMSetMiniportAttributes, general attributes)."""

    permanent_address: bytes
    current_address: bytes
    mtu: int
    media_connect_state: int
    max_multicast_list_size: int = 32
    upper_range: str = ETHERNET_RANGE


@dataclass(frozen=True, slots=True)
class StatusIndication:
    """Models NDIS_STATUS_INDICATION: a status code and its payload."""

    status_code: NdisStatus
    payload: Any = None


class NetPnpEvent(enum.Enum):
    """Models the NET_PNP_EVENT codes NDIS sends a protocol binding (ProtocolNetPnPEvent)."""

    PAUSE = "NetEventPause"
    RESTART = "NetEventRestart"


@dataclass(frozen=True, slots=True)
class FilterAttachParameters:
    """Models NDIS_FILTER_ATTACH_PARAMETERS: what a filter learns about the adapter it attaches to."""

    adapter_name: str
    current_address: bytes
    mtu: int
    media_connect_state: int


@dataclass(frozen=True, slots=True)
class BindParameters:
    """Models NDIS_BIND_PARAMETERS: what a protocol learns about an adapter when asked to bind."""

    adapter_name: str
    current_address: bytes
    mtu: int
    media_connect_state: int
    max_multicast_list_size: int


class MiniportDriver(Protocol):
    """Models NDIS_MINIPORT_DRIVER_CHARACTERISTICS."""

    name: str

    def initialize_ex(self, miniport: MiniportBlock, parameters: Any) -> NdisStatus:
        """Models MiniportInitializeEx; must call Ndis.m_set_miniport_attributes on success."""

    def halt_ex(self, adapter_context: Any) -> None:
        """Models MiniportHaltEx."""

    def send_net_buffer_lists(self, adapter_context: Any, nbls: NetBufferList, port: int, flags: int) -> None:
        """Models MiniportSendNetBufferLists."""

    def return_net_buffer_lists(self, adapter_context: Any, nbls: NetBufferList, flags: int) -> None:
        """Models MiniportReturnNetBufferLists."""

    def oid_request(self, adapter_context: Any, request: NdisOidRequest) -> NdisStatus:
        """Models MiniportOidRequest."""

    def pause(self, adapter_context: Any) -> NdisStatus:
        """Models MiniportPause; PENDING means NdisMPauseComplete follows, once no receive is outstanding."""

    def restart(self, adapter_context: Any) -> NdisStatus:
        """Models MiniportRestart."""


class FilterDriver(Protocol):
    """Models NDIS_FILTER_DRIVER_CHARACTERISTICS.

    ``attach`` is required; every other handler is optional: NDIS bypasses a
    module on each path it has no handler for, so a filter declares only the
    handlers it needs (FilterSendNetBufferLists as ``send_net_buffer_lists``,
    FilterSendNetBufferListsComplete, FilterReceiveNetBufferLists,
    FilterReturnNetBufferLists, FilterOidRequest, FilterOidRequestComplete,
    FilterStatus as ``status``, FilterPause, FilterRestart, FilterDetach).
    ``altitude`` orders the stack: the higher, the nearer the protocols.
    """

    name: str
    altitude: int

    def attach(self, module: FilterModule, parameters: FilterAttachParameters) -> NdisStatus:
        """Models FilterAttach; must call Ndis.f_set_attributes on success."""


class ProtocolDriver(Protocol):
    """Models NDIS_PROTOCOL_DRIVER_CHARACTERISTICS.

    ``lower_range`` models the INF LowerRange: NDIS offers the protocol only
    adapters whose upper range is in it (``{ETHERNET_RANGE}`` when absent).
    """

    name: str

    def bind_adapter_ex(self, bind_context: MiniportBlock, parameters: BindParameters) -> NdisStatus:
        """Models ProtocolBindAdapterEx; calls Ndis.open_adapter_ex to bind."""

    def unbind_adapter_ex(self, binding_context: Any) -> NdisStatus:
        """Models ProtocolUnbindAdapterEx; calls Ndis.close_adapter_ex."""

    def receive_net_buffer_lists(self, binding_context: Any, nbls: NetBufferList, port: int,
                                 count: int, flags: int) -> None:
        """Models ProtocolReceiveNetBufferLists."""

    def send_net_buffer_lists_complete(self, binding_context: Any, nbls: NetBufferList, flags: int) -> None:
        """Models ProtocolSendNetBufferListsComplete."""

    def status_ex(self, binding_context: Any, indication: StatusIndication) -> None:
        """Models ProtocolStatusEx."""

    def oid_request_complete(self, binding_context: Any, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models ProtocolOidRequestComplete."""


@dataclass(slots=True)
class NdisCounters:
    """NDIS's own counts of what crossed it, for the per-layer report."""

    sends: int = 0
    send_completes: int = 0
    indications: int = 0
    returns: int = 0
    status_indications: int = 0
    oid_requests: int = 0
    filters_attached: int = 0
    filters_detached: int = 0
    bindings_opened: int = 0
    bindings_closed: int = 0
    miniports_initialized: int = 0
    miniports_halted: int = 0

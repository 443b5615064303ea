"""The miniport driver: the handlers NDIS calls, each passed on to the adapter's data or control path."""

from __future__ import annotations

from nicemu.miniport import ctrlpath, datapath
from nicemu.miniport.adapter import Adapter, AdapterConfig
from nicemu.ndis.drivers import MiniportAttributes
from nicemu.ndis.nbl import NetBufferList
from nicemu.ndis.ndis import MiniportBlock, Ndis
from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.status import NdisStatus


class VirtualMiniport:
    """Models a miniport driver like netvmini: a virtual Ethernet adapter per QEMU connection."""

    name = "nicemu-miniport"

    def __init__(self, ndis: Ndis) -> None:
        self.ndis = ndis

    def initialize_ex(self, miniport: MiniportBlock, parameters: AdapterConfig) -> NdisStatus:
        """Models MiniportInitializeEx: allocate the adapter and tell NDIS its attributes."""
        adapter = Adapter(parameters, self.ndis, miniport)
        attributes = MiniportAttributes(
            permanent_address=parameters.mac,
            current_address=adapter.current_address,
            mtu=parameters.mtu,
            media_connect_state=adapter.media_connect_state,
            max_multicast_list_size=parameters.max_multicast_list_size,
            upper_range=parameters.upper_range,
        )
        return self.ndis.m_set_miniport_attributes(miniport, adapter, attributes)

    def halt_ex(self, adapter_context: Adapter) -> None:
        """Models MiniportHaltEx: nothing queued survives the adapter."""
        adapter_context.transmit_queue.clear()

    def send_net_buffer_lists(self, adapter_context: Adapter, nbls: NetBufferList, port: int, flags: int) -> None:
        """Models MiniportSendNetBufferLists."""
        datapath.send_net_buffer_lists(adapter_context, nbls)

    def return_net_buffer_lists(self, adapter_context: Adapter, nbls: NetBufferList, flags: int) -> None:
        """Models MiniportReturnNetBufferLists."""
        datapath.return_net_buffer_lists(adapter_context, nbls)

    def oid_request(self, adapter_context: Adapter, request: NdisOidRequest) -> NdisStatus:
        """Models MiniportOidRequest."""
        return ctrlpath.oid_request(adapter_context, request)

    def pause(self, adapter_context: Adapter) -> NdisStatus:
        """Models MiniportPause: stop the data path; pend until every indicated NBL is back."""
        adapter_context.running = False
        if adapter_context.receives_outstanding:
            adapter_context.pause_pending = True
            return NdisStatus.PENDING
        return NdisStatus.SUCCESS

    def restart(self, adapter_context: Adapter) -> NdisStatus:
        """Models MiniportRestart."""
        adapter_context.running = True
        return NdisStatus.SUCCESS

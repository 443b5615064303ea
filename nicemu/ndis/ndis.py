"""ndis.sys: registration, binding, and the connectionless send and receive paths.

The ``Ndis`` object is the library the drivers link against. Miniports and
protocols never call each other: a protocol's send goes through
``send_net_buffer_lists`` to the miniport, the miniport's receive goes through
``m_indicate_receive_net_buffer_lists`` to every open binding, and completions
and returns travel back the same way. NDIS routes a send-complete by the NBL's
``source_handle`` and a return by counting the bindings that still hold it.
"""

from __future__ import annotations

import enum
from typing import Any

from nicemu.ndis.drivers import (
    BindParameters,
    MiniportAttributes,
    MiniportDriver,
    NdisCounters,
    ProtocolDriver,
    StatusIndication,
)
from nicemu.ndis.nbl import NetBufferList, iterate
from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.status import NdisStatus


class ReceiveFlags(enum.IntFlag):
    """Models the NDIS_RECEIVE_FLAGS_* bits."""

    NONE = 0
    RESOURCES = 0x02


class NdisVerifierError(RuntimeError):
    """A driver broke an NDIS ownership rule (what Driver Verifier would bugcheck on)."""


class MiniportBlock:
    """Models NDIS_MINIPORT_BLOCK, the NdisMiniportHandle NDIS keeps for one adapter."""

    __slots__ = ("driver", "name", "adapter_context", "attributes", "opens", "halted")

    def __init__(self, driver: MiniportDriver, name: str) -> None:
        self.driver = driver
        self.name = name
        self.adapter_context: Any = None
        self.attributes: MiniportAttributes | None = None
        self.opens: list[OpenBlock] = []
        self.halted = False


class OpenBlock:
    """Models NDIS_OPEN_BLOCK, the NdisBindingHandle of one protocol bound to one adapter."""

    __slots__ = ("protocol", "miniport", "binding_context", "closing", "in_flight", "held")

    def __init__(self, protocol: ProtocolDriver, miniport: MiniportBlock, binding_context: Any) -> None:
        self.protocol = protocol
        self.miniport = miniport
        self.binding_context = binding_context
        self.closing = False
        # Ownership bookkeeping for the verifier: ids of NBLs this binding sent
        # that are not yet completed, and ids indicated to it not yet returned.
        self.in_flight: set[int] = set()
        self.held: set[int] = set()


class Ndis:
    """Models ndis.sys for connectionless miniports and protocols.

    ``verifier`` turns on the ownership checks (always on in the test suite):
    a double send-complete, a return of an NBL the binding does not hold, a
    send on a closed binding and use of a completed NBL raise
    ``NdisVerifierError``.
    """

    def __init__(self, *, verifier: bool = False) -> None:
        self.verifier = verifier
        self.miniport_drivers: list[MiniportDriver] = []
        self.protocols: list[ProtocolDriver] = []
        self.miniports: list[MiniportBlock] = []
        self.counters = NdisCounters()
        self._pending_requests: dict[int, OpenBlock | None] = {}

    # Registration -------------------------------------------------------

    def m_register_miniport_driver(self, driver: MiniportDriver) -> MiniportDriver:
        """Models NdisMRegisterMiniportDriver."""
        self.miniport_drivers.append(driver)
        return driver

    def register_protocol_driver(self, protocol: ProtocolDriver) -> ProtocolDriver:
        """Models NdisRegisterProtocolDriver; the protocol binds to every adapter, present and future."""
        self.protocols.append(protocol)
        for miniport in self.miniports:
            self._bind(protocol, miniport)
        return protocol

    # Adapters (what PnP does when a device arrives or leaves) ----------

    def initialize_adapter(self, driver: MiniportDriver, name: str, parameters: Any = None) -> MiniportBlock:
        """Start an adapter: MiniportInitializeEx, then bind every registered protocol to it."""
        if driver not in self.miniport_drivers:
            raise ValueError(f"miniport driver {driver.name!r} is not registered")
        block = MiniportBlock(driver, name)
        status = driver.initialize_ex(block, parameters)
        if status != NdisStatus.SUCCESS:
            raise RuntimeError(f"{driver.name}: MiniportInitializeEx failed for {name}: {status.name}")
        if block.attributes is None:
            raise NdisVerifierError(f"{driver.name}: initialized {name} without NdisMSetMiniportAttributes")
        self.miniports.append(block)
        self.counters.miniports_initialized += 1
        for protocol in self.protocols:
            self._bind(protocol, block)
        return block

    def halt_adapter(self, block: MiniportBlock) -> None:
        """Remove an adapter: unbind every protocol, then MiniportHaltEx."""
        for open_block in list(block.opens):
            open_block.closing = True
            open_block.protocol.unbind_adapter_ex(open_block.binding_context)
            if open_block in block.opens:
                raise NdisVerifierError(
                    f"{open_block.protocol.name}: returned from ProtocolUnbindAdapterEx without NdisCloseAdapterEx")
        block.driver.halt_ex(block.adapter_context)
        block.halted = True
        self.miniports.remove(block)
        self.counters.miniports_halted += 1

    def m_set_miniport_attributes(self, block: MiniportBlock, adapter_context: Any,
                                  attributes: MiniportAttributes) -> NdisStatus:
        """Models NdisMSetMiniportAttributes: the miniport's context and general attributes."""
        block.adapter_context = adapter_context
        block.attributes = attributes
        return NdisStatus.SUCCESS

    def _bind(self, protocol: ProtocolDriver, block: MiniportBlock) -> None:
        attributes = block.attributes
        assert attributes is not None
        parameters = BindParameters(
            adapter_name=block.name,
            current_address=attributes.current_address,
            mtu=attributes.mtu,
            media_connect_state=attributes.media_connect_state,
            max_multicast_list_size=attributes.max_multicast_list_size,
        )
        protocol.bind_adapter_ex(block, parameters)

    def open_adapter_ex(self, protocol: ProtocolDriver, binding_context: Any, bind_context: MiniportBlock) -> OpenBlock:
        """Models NdisOpenAdapterEx: returns the binding handle."""
        if bind_context.halted:
            raise NdisVerifierError(f"{protocol.name}: NdisOpenAdapterEx on halted adapter {bind_context.name}")
        open_block = OpenBlock(protocol, bind_context, binding_context)
        bind_context.opens.append(open_block)
        self.counters.bindings_opened += 1
        return open_block

    def close_adapter_ex(self, binding: OpenBlock) -> NdisStatus:
        """Models NdisCloseAdapterEx; a binding with sends in flight or receives held cannot close."""
        if self.verifier and (binding.in_flight or binding.held):
            raise NdisVerifierError(
                f"{binding.protocol.name}: NdisCloseAdapterEx with {len(binding.in_flight)} sends in flight "
                f"and {len(binding.held)} receives not returned")
        binding.closing = True
        binding.miniport.opens.remove(binding)
        self.counters.bindings_closed += 1
        return NdisStatus.SUCCESS

    # Send path ------------------------------------------------------------

    def send_net_buffer_lists(self, binding: OpenBlock, nbls: NetBufferList, port: int = 0, flags: int = 0) -> None:
        """Models NdisSendNetBufferLists: the NBLs belong to the miniport until send-complete."""
        if binding.closing or binding.miniport.halted:
            if self.verifier:
                raise NdisVerifierError(f"{binding.protocol.name}: send on a closed binding")
            return
        for nbl in iterate(nbls):
            if self.verifier:
                if nbl.owner is not None and nbl.owner is not binding:
                    raise NdisVerifierError(f"{binding.protocol.name}: sent an NBL it does not own")
                binding.in_flight.add(id(nbl))
            nbl.source_handle = binding
            nbl.owner = binding.miniport
            nbl.completed = False
            self.counters.sends += 1
        block = binding.miniport
        block.driver.send_net_buffer_lists(block.adapter_context, nbls, port, flags)

    def m_send_net_buffer_lists_complete(self, block: MiniportBlock, nbls: NetBufferList, flags: int = 0) -> None:
        """Models NdisMSendNetBufferListsComplete: each NBL goes back to the binding that sent it."""
        by_binding: dict[int, list[NetBufferList]] = {}
        for nbl in iterate(nbls):
            if self.verifier and (nbl.completed or nbl.owner is not block):
                raise NdisVerifierError(f"{block.driver.name}: completed an NBL it does not own (double complete?)")
            binding = nbl.source_handle
            if self.verifier:
                binding.in_flight.discard(id(nbl))
            nbl.completed = True
            nbl.owner = binding
            nbl.next = None
            by_binding.setdefault(id(binding), []).append(nbl)
            self.counters.send_completes += 1
        for group in by_binding.values():
            binding = group[0].source_handle
            head = group[0]
            for before, after in zip(group, group[1:]):
                before.next = after
            binding.protocol.send_net_buffer_lists_complete(binding.binding_context, head, flags)

    # Receive path ---------------------------------------------------------

    def m_indicate_receive_net_buffer_lists(self, block: MiniportBlock, nbls: NetBufferList, port: int,
                                            count: int, flags: int = 0) -> None:
        """Models NdisMIndicateReceiveNetBufferLists: every open binding sees the NBLs.

        Without the RESOURCES flag each binding owns the NBLs until it returns
        them, and the miniport gets them back when the last binding has. With
        it, the indication is a loan for the call only: the protocols must copy
        what they keep, and the miniport has the NBLs back when the call returns.
        """
        self.counters.indications += count
        opens = [o for o in block.opens if not o.closing]
        resources = bool(flags & ReceiveFlags.RESOURCES)
        held = 0 if resources else len(opens)
        for nbl in iterate(nbls):
            nbl.owner = block
            nbl.context["ndis.references"] = held
        if held == 0:
            for open_block in opens:
                open_block.protocol.receive_net_buffer_lists(open_block.binding_context, nbls, port, count, flags)
            if not resources:
                block.driver.return_net_buffer_lists(block.adapter_context, nbls, 0)
            return
        if self.verifier:
            ids = [id(nbl) for nbl in iterate(nbls)]
            for open_block in opens:
                open_block.held.update(ids)
        for open_block in opens:
            open_block.protocol.receive_net_buffer_lists(open_block.binding_context, nbls, port, count, flags)

    def return_net_buffer_lists(self, binding: OpenBlock, nbls: NetBufferList, flags: int = 0) -> None:
        """Models NdisReturnNetBufferLists: the miniport gets an NBL back once every binding has returned it."""
        block = binding.miniport
        back: list[NetBufferList] = []
        for nbl in iterate(nbls):
            if self.verifier:
                if id(nbl) not in binding.held:
                    raise NdisVerifierError(f"{binding.protocol.name}: returned an NBL it does not hold")
                binding.held.discard(id(nbl))
            self.counters.returns += 1
            remaining = nbl.context["ndis.references"] - 1
            nbl.context["ndis.references"] = remaining
            if remaining == 0:
                nbl.next = None
                back.append(nbl)
        if back:
            for before, after in zip(back, back[1:]):
                before.next = after
            block.driver.return_net_buffer_lists(block.adapter_context, back[0], flags)

    # Status and OID requests ---------------------------------------------

    def m_indicate_status_ex(self, block: MiniportBlock, indication: StatusIndication) -> None:
        """Models NdisMIndicateStatusEx: every open binding's ProtocolStatusEx hears it."""
        self.counters.status_indications += 1
        for open_block in list(block.opens):
            open_block.protocol.status_ex(open_block.binding_context, indication)

    def oid_request(self, binding: OpenBlock, request: NdisOidRequest) -> NdisStatus:
        """Models NdisOidRequest; PENDING means ProtocolOidRequestComplete follows."""
        self.counters.oid_requests += 1
        block = binding.miniport
        status = block.driver.oid_request(block.adapter_context, request)
        if status == NdisStatus.PENDING:
            self._pending_requests[id(request)] = binding
        return status

    def wmi_oid_request(self, block: MiniportBlock, request: NdisOidRequest) -> NdisStatus:
        """Models an OID request NDIS itself issues on behalf of WMI, as administration tools query adapters.

        There is no binding to complete to: a pended request's final status
        lands in ``request.status`` when the miniport completes it.
        """
        self.counters.oid_requests += 1
        status = block.driver.oid_request(block.adapter_context, request)
        if status == NdisStatus.PENDING:
            self._pending_requests[id(request)] = None
        return status

    def m_oid_request_complete(self, block: MiniportBlock, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models NdisMOidRequestComplete for a request the miniport pended."""
        if id(request) not in self._pending_requests:
            raise NdisVerifierError(f"{block.driver.name}: completed an OID request that was not pending")
        binding = self._pending_requests.pop(id(request))
        request.status = status
        if binding is not None:
            binding.protocol.oid_request_complete(binding.binding_context, request, status)

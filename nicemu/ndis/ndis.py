"""ndis.sys: registration, binding, the filter stack, pause and restart, and the data paths.

The ``Ndis`` object is the library the drivers link against. Miniports,
filters and protocols never call each other:

- A protocol's send goes through ``send_net_buffer_lists``, down every filter
  module that has a send handler, to the miniport.
- The miniport's receive goes through ``m_indicate_receive_net_buffer_lists``,
  up every filter module that has a receive handler, to every running binding.
- Completions, returns, OID requests and status indications travel the same
  stack in their own direction.
- A filter module without a handler for a path is skipped on that path, as
  NDIS bypasses it.

Pause goes top-down (bindings, then filters, then the miniport) and waits
for the NBLs each layer still owns. Restart goes bottom-up. Both are driven
by the transition tables in ``nicemu.ndis.states``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from nicemu.ndis.drivers import (
    ETHERNET_RANGE,
    BindParameters,
    FilterAttachParameters,
    FilterDriver,
    MiniportAttributes,
    MiniportDriver,
    NdisCounters,
    NetPnpEvent,
    ProtocolDriver,
    StatusIndication,
)
from nicemu.ndis.nbl import NetBufferList, chain, iterate
from nicemu.ndis.oid import NdisOidRequest
from nicemu.ndis.states import (
    BINDING_TRANSITIONS,
    FILTER_TRANSITIONS,
    MINIPORT_TRANSITIONS,
    BindingState,
    FilterState,
    MiniportState,
    StateMachine,
)
from nicemu.ndis.status import NdisStatus


_ETHERNET_ONLY = frozenset({ETHERNET_RANGE})


class ReceiveFlags(enum.IntFlag):
    """Models the NDIS_RECEIVE_FLAGS_* bits."""

    NONE = 0
    RESOURCES = 0x02


class NdisVerifierError(RuntimeError):
    """A driver broke an NDIS ownership rule (what Driver Verifier would bugcheck on)."""


class MiniportBlock:
    """Models NDIS_MINIPORT_BLOCK, the NdisMiniportHandle NDIS keeps for one adapter.

    ``filters`` is the filter stack, from the module nearest the miniport
    (index 0) to the one nearest the protocols.
    """

    __slots__ = ("driver", "name", "adapter_context", "attributes", "opens", "filters", "machine",
                 "_after_pause")

    def __init__(self, driver: MiniportDriver, name: str) -> None:
        self.driver = driver
        self.name = name
        self.adapter_context: Any = None
        self.attributes: MiniportAttributes | None = None
        self.opens: list[OpenBlock] = []
        self.filters: list[FilterModule] = []
        self.machine = StateMachine(f"miniport {name}", MINIPORT_TRANSITIONS, MiniportState.HALTED)
        # What to do once the whole stack is paused (attach a filter, halt, ...).
        self._after_pause: list[Callable[[], None]] = []

    @property
    def state(self) -> MiniportState:
        """The adapter's state."""
        return self.machine.state

    @property
    def halted(self) -> bool:
        """Whether the adapter is gone (or not yet initialized)."""
        return self.machine.state is MiniportState.HALTED


class OpenBlock:
    """Models NDIS_OPEN_BLOCK, the NdisBindingHandle of one protocol bound to one adapter."""

    __slots__ = ("protocol", "miniport", "binding_context", "machine", "sends_outstanding",
                 "receives_held", "in_flight", "held")

    def __init__(self, protocol: ProtocolDriver, miniport: MiniportBlock, binding_context: Any) -> None:
        self.protocol = protocol
        self.miniport = miniport
        self.binding_context = binding_context
        self.machine = StateMachine(f"binding {protocol.name}→{miniport.name}", BINDING_TRANSITIONS,
                                    BindingState.UNBOUND)
        self.sends_outstanding = 0
        self.receives_held = 0
        # The verifier's record of exactly which NBLs those are.
        self.in_flight: set[int] = set()
        self.held: set[int] = set()

    @property
    def state(self) -> BindingState:
        """The binding's state."""
        return self.machine.state

    @property
    def idle(self) -> bool:
        """No send of this binding is in flight and it holds no received NBL."""
        return self.sends_outstanding == 0 and self.receives_held == 0


class FilterModule:
    """Models NDIS_FILTER_BLOCK: a filter driver's instance on one adapter, and its NdisFilterHandle.

    The handlers are looked up once, at attach: a missing one means NDIS
    bypasses this module on that path.
    """

    __slots__ = ("driver", "miniport", "name", "context", "machine", "send", "send_complete", "receive",
                 "return_", "oid_request", "oid_request_complete", "status")

    def __init__(self, driver: FilterDriver, miniport: MiniportBlock) -> None:
        self.driver = driver
        self.miniport = miniport
        self.name = f"{driver.name}@{miniport.name}"
        self.context: Any = None
        self.machine = StateMachine(f"filter {self.name}", FILTER_TRANSITIONS, FilterState.DETACHED)
        self.send = getattr(driver, "send_net_buffer_lists", None)
        self.send_complete = getattr(driver, "send_net_buffer_lists_complete", None)
        self.receive = getattr(driver, "receive_net_buffer_lists", None)
        self.return_ = getattr(driver, "return_net_buffer_lists", None)
        self.oid_request = getattr(driver, "oid_request", None)
        self.oid_request_complete = getattr(driver, "oid_request_complete", None)
        self.status = getattr(driver, "status", None)

    @property
    def state(self) -> FilterState:
        """The module's state."""
        return self.machine.state

    @property
    def index(self) -> int:
        """Position in the adapter's filter stack, 0 nearest the miniport."""
        return self.miniport.filters.index(self)


def _above(block: MiniportBlock, level: int, path: str) -> FilterModule | None:
    """The first filter module from ``level`` up with a handler for ``path``; None means the protocols are next."""
    for module in block.filters[level:]:
        if getattr(module, path) is not None:
            return module
    return None


def _below(block: MiniportBlock, level: int, path: str) -> FilterModule | None:
    """The first filter module below ``level`` going down with a handler for ``path``; None means the miniport."""
    for module in reversed(block.filters[:level]):
        if getattr(module, path) is not None:
            return module
    return None


class Ndis:
    """Models ndis.sys for connectionless miniports, filters and protocols.

    ``verifier`` turns on the ownership checks (always on in the test suite):
    a double send-complete, a return of an NBL the binding does not hold, a
    send on a binding that is not open, a completion or return reaching a
    layer that never owned the NBL, and closing a binding that still owns
    NBLs raise ``NdisVerifierError``.
    """

    def __init__(self, *, verifier: bool = False) -> None:
        self.verifier = verifier
        self.miniport_drivers: list[MiniportDriver] = []
        self.filter_drivers: list[FilterDriver] = []
        self.protocols: list[ProtocolDriver] = []
        self.miniports: list[MiniportBlock] = []
        self.counters = NdisCounters()
        self._pending_requests: dict[int, OpenBlock | None] = {}

    # Registration -----------------------------------------------------------

    def m_register_miniport_driver(self, driver: MiniportDriver) -> MiniportDriver:
        """Models NdisMRegisterMiniportDriver."""
        self.miniport_drivers.append(driver)
        return driver

    def register_protocol_driver(self, protocol: ProtocolDriver) -> ProtocolDriver:
        """Models NdisRegisterProtocolDriver; the protocol is offered every adapter, present and future."""
        self.protocols.append(protocol)
        for block in list(self.miniports):
            self._bind(protocol, block)
            self._restart_bindings(block)
        return protocol

    def f_register_filter_driver(self, driver: FilterDriver) -> FilterDriver:
        """Models NdisFRegisterFilterDriver; a module attaches to every adapter, the stack paused meanwhile.

        Modules stack by ``driver.altitude``: the higher, the nearer the protocols.
        """
        self.filter_drivers.append(driver)
        for block in list(self.miniports):
            self.pause_stack(block, lambda block=block: self._attach_and_restart(driver, block))
        return driver

    def f_deregister_filter_driver(self, driver: FilterDriver) -> None:
        """Models NdisFDeregisterFilterDriver: every module of ``driver`` detaches, the stack paused meanwhile."""
        self.filter_drivers.remove(driver)
        for block in list(self.miniports):
            for module in [m for m in block.filters if m.driver is driver]:
                self.pause_stack(block, lambda block=block, module=module: self._detach_and_restart(module, block))

    # Adapters (what PnP does when a device arrives or leaves) --------------

    def initialize_adapter(self, driver: MiniportDriver, name: str, parameters: Any = None) -> MiniportBlock:
        """Start an adapter: MiniportInitializeEx, attach the filters, bind the protocols, restart the stack."""
        if driver not in self.miniport_drivers:
            raise ValueError(f"miniport driver {driver.name!r} is not registered")
        block = MiniportBlock(driver, name)
        block.machine.fire("initialize")
        status = driver.initialize_ex(block, parameters)
        if status != NdisStatus.SUCCESS:
            block.machine.fire("initialize_failed")
            raise RuntimeError(f"{driver.name}: MiniportInitializeEx failed for {name}: {status.name}")
        if block.attributes is None:
            raise NdisVerifierError(f"{driver.name}: initialized {name} without NdisMSetMiniportAttributes")
        block.machine.fire("initialized")
        self.miniports.append(block)
        self.counters.miniports_initialized += 1
        for filter_driver in self.filter_drivers:
            self._attach(filter_driver, block)
        for protocol in self.protocols:
            self._bind(protocol, block)
        self._restart_stack(block)
        return block

    def halt_adapter(self, block: MiniportBlock) -> None:
        """Remove an adapter: pause the stack, unbind the protocols, detach the filters, MiniportHaltEx."""
        self.pause_stack(block, lambda: self._halt(block))

    def _halt(self, block: MiniportBlock) -> None:
        for open_block in list(block.opens):
            open_block.protocol.unbind_adapter_ex(open_block.binding_context)
            if open_block in block.opens:
                raise NdisVerifierError(
                    f"{open_block.protocol.name}: returned from ProtocolUnbindAdapterEx without NdisCloseAdapterEx")
        for module in reversed(list(block.filters)):
            self._detach(module, block)
        block.driver.halt_ex(block.adapter_context)
        block.machine.fire("halt")
        self.miniports.remove(block)
        self.counters.miniports_halted += 1

    def m_set_miniport_attributes(self, block: MiniportBlock, adapter_context: Any,
                                  attributes: MiniportAttributes) -> NdisStatus:
        """Models NdisMSetMiniportAttributes: the miniport's context and general attributes."""
        block.adapter_context = adapter_context
        block.attributes = attributes
        return NdisStatus.SUCCESS

    # Filter modules -------------------------------------------------------------

    def _attach(self, driver: FilterDriver, block: MiniportBlock) -> None:
        module = FilterModule(driver, block)
        module.machine.fire("attach")
        below = [m for m in block.filters if m.driver.altitude <= driver.altitude]
        block.filters.insert(len(below), module)
        attributes = block.attributes
        assert attributes is not None
        parameters = FilterAttachParameters(block.name, attributes.current_address, attributes.mtu,
                                            attributes.media_connect_state)
        status = driver.attach(module, parameters)
        if status != NdisStatus.SUCCESS:
            block.filters.remove(module)
            module.machine.fire("attach_failed")
            return
        if module.context is None:
            raise NdisVerifierError(f"{driver.name}: FilterAttach succeeded without NdisFSetAttributes")
        module.machine.fire("attached")
        self.counters.filters_attached += 1

    def f_set_attributes(self, module: FilterModule, context: Any) -> NdisStatus:
        """Models NdisFSetAttributes: the module's context, handed back to every handler."""
        module.context = context
        return NdisStatus.SUCCESS

    def _detach(self, module: FilterModule, block: MiniportBlock) -> None:
        module.machine.fire("detach")
        detach = getattr(module.driver, "detach", None)
        if detach is not None:
            detach(module.context)
        block.filters.remove(module)
        module.machine.fire("detached")
        self.counters.filters_detached += 1

    def _attach_and_restart(self, driver: FilterDriver, block: MiniportBlock) -> None:
        self._attach(driver, block)
        self._restart_stack(block)

    def _detach_and_restart(self, module: FilterModule, block: MiniportBlock) -> None:
        self._detach(module, block)
        self._restart_stack(block)

    # Bindings -------------------------------------------------------------------

    def _bind(self, protocol: ProtocolDriver, block: MiniportBlock) -> None:
        """Offer ``block`` to ``protocol`` if their binding ranges meet, as the INF ranges decide."""
        attributes = block.attributes
        assert attributes is not None
        if attributes.upper_range not in getattr(protocol, "lower_range", _ETHERNET_ONLY):
            return
        parameters = BindParameters(
            adapter_name=block.name,
            current_address=attributes.current_address,
            mtu=attributes.mtu,
            media_connect_state=attributes.media_connect_state,
            max_multicast_list_size=attributes.max_multicast_list_size,
        )
        protocol.bind_adapter_ex(block, parameters)

    def open_adapter_ex(self, protocol: ProtocolDriver, binding_context: Any, bind_context: MiniportBlock) -> OpenBlock:
        """Models NdisOpenAdapterEx: returns the binding handle, its binding paused until NDIS restarts it."""
        if bind_context.halted:
            raise NdisVerifierError(f"{protocol.name}: NdisOpenAdapterEx on halted adapter {bind_context.name}")
        open_block = OpenBlock(protocol, bind_context, binding_context)
        open_block.machine.fire("open")
        bind_context.opens.append(open_block)
        open_block.machine.fire("opened")
        self.counters.bindings_opened += 1
        return open_block

    def close_adapter_ex(self, binding: OpenBlock) -> NdisStatus:
        """Models NdisCloseAdapterEx, allowed only on a paused binding, which owns no NBL by then."""
        if self.verifier and not binding.idle:
            raise NdisVerifierError(
                f"{binding.protocol.name}: NdisCloseAdapterEx with {binding.sends_outstanding} sends in flight "
                f"and {binding.receives_held} receives not returned")
        binding.machine.fire("close")
        binding.miniport.opens.remove(binding)
        binding.machine.fire("closed")
        self.counters.bindings_closed += 1
        return NdisStatus.SUCCESS

    # Pause and restart ---------------------------------------------------------

    def pause_stack(self, block: MiniportBlock, then: Callable[[], None] | None = None) -> None:
        """Pause the adapter's whole stack top-down, then run ``then``.

        Pause cannot fail, but it can wait: a binding stays PAUSING until its
        sends complete and its receives come back, a filter or the miniport
        until it calls its pause-complete. ``then`` runs once all are paused,
        possibly during a later call (a completion, a return).
        """
        if then is not None:
            block._after_pause.append(then)
        self._advance_pause(block)

    def _advance_pause(self, block: MiniportBlock) -> None:
        for open_block in block.opens:
            if open_block.state is BindingState.RUNNING:
                open_block.machine.fire("pause")
                self._net_pnp_event(open_block, NetPnpEvent.PAUSE)
            if open_block.state is BindingState.PAUSING:
                if not open_block.idle:
                    return
                open_block.machine.fire("paused")
        for module in reversed(block.filters):
            if module.state is FilterState.RUNNING:
                module.machine.fire("pause")
                pause = getattr(module.driver, "pause", None)
                status = NdisStatus.SUCCESS if pause is None else pause(module.context)
                if status == NdisStatus.SUCCESS:
                    module.machine.fire("paused")
            if module.state is FilterState.PAUSING:
                return
        if block.state is MiniportState.RUNNING:
            block.machine.fire("pause")
            if block.driver.pause(block.adapter_context) == NdisStatus.SUCCESS:
                block.machine.fire("paused")
        if block.state is MiniportState.PAUSING:
            return
        waiting, block._after_pause = block._after_pause, []
        for then in waiting:
            then()

    def f_pause_complete(self, module: FilterModule) -> None:
        """Models NdisFPauseComplete for a FilterPause that returned PENDING."""
        module.machine.fire("paused")
        self._advance_pause(module.miniport)

    def m_pause_complete(self, block: MiniportBlock) -> None:
        """Models NdisMPauseComplete for a MiniportPause that returned PENDING."""
        block.machine.fire("paused")
        self._advance_pause(block)

    def restart_stack(self, block: MiniportBlock) -> None:
        """Restart a paused stack bottom-up: miniport, filters, bindings."""
        self._restart_stack(block)

    def _restart_stack(self, block: MiniportBlock) -> None:
        if block.state is MiniportState.PAUSED:
            block.machine.fire("restart")
            status = block.driver.restart(block.adapter_context)
            if status != NdisStatus.SUCCESS:
                block.machine.fire("restart_failed")
                raise RuntimeError(f"{block.driver.name}: MiniportRestart failed for {block.name}: {status.name}")
            block.machine.fire("restarted")
        for module in block.filters:
            if module.state is FilterState.PAUSED:
                module.machine.fire("restart")
                restart = getattr(module.driver, "restart", None)
                status = NdisStatus.SUCCESS if restart is None else restart(module.context)
                if status != NdisStatus.SUCCESS:
                    module.machine.fire("restart_failed")
                    raise RuntimeError(f"{module.name}: FilterRestart failed: {status.name}")
                module.machine.fire("restarted")
        self._restart_bindings(block)

    def _restart_bindings(self, block: MiniportBlock) -> None:
        if block.state is not MiniportState.RUNNING:
            return
        for open_block in block.opens:
            if open_block.state is BindingState.PAUSED:
                open_block.machine.fire("restart")
                self._net_pnp_event(open_block, NetPnpEvent.RESTART)
                open_block.machine.fire("restarted")

    @staticmethod
    def _net_pnp_event(binding: OpenBlock, event: NetPnpEvent) -> None:
        handler = getattr(binding.protocol, "net_pnp_event", None)
        if handler is not None:
            handler(binding.binding_context, event)

    # Send path --------------------------------------------------------------------

    def send_net_buffer_lists(self, binding: OpenBlock, nbls: NetBufferList, port: int = 0, flags: int = 0) -> None:
        """Models NdisSendNetBufferLists: the NBLs belong to the layers below until send-complete.

        On a binding that is not running they complete at once with
        ``NDIS_STATUS_PAUSED``.
        """
        state = binding.state
        if state in (BindingState.UNBOUND, BindingState.CLOSING, BindingState.OPENING):
            if self.verifier:
                raise NdisVerifierError(f"{binding.protocol.name}: send on a binding that is not open ({state.name})")
            return
        count = 0
        for nbl in iterate(nbls):
            if self.verifier:
                if nbl.owner is not None and nbl.owner is not binding:
                    raise NdisVerifierError(f"{binding.protocol.name}: sent an NBL it does not own")
                binding.in_flight.add(id(nbl))
            nbl.source_handle = binding
            nbl.owner = binding.miniport
            nbl.completed = False
            count += 1
        self.counters.sends += count
        binding.sends_outstanding += count
        if state is not BindingState.RUNNING:
            for nbl in iterate(nbls):
                nbl.status = NdisStatus.PAUSED
            self._complete_to_protocols(binding.miniport, nbls, 0)
            return
        self._send_down(binding.miniport, len(binding.miniport.filters), nbls, port, flags)

    def f_send_net_buffer_lists(self, module: FilterModule, nbls: NetBufferList, port: int = 0,
                                flags: int = 0) -> None:
        """Models NdisFSendNetBufferLists: pass sends on below this filter (its own NBLs too)."""
        for nbl in iterate(nbls):
            if nbl.source_handle is None:
                nbl.source_handle = module
            nbl.owner = module.miniport
            nbl.completed = False
        self._send_down(module.miniport, module.index, nbls, port, flags)

    def _send_down(self, block: MiniportBlock, level: int, nbls: NetBufferList, port: int, flags: int) -> None:
        module = _below(block, level, "send")
        if module is not None:
            module.send(module.context, nbls, port, flags)
        else:
            block.driver.send_net_buffer_lists(block.adapter_context, nbls, port, flags)

    def m_send_net_buffer_lists_complete(self, block: MiniportBlock, nbls: NetBufferList, flags: int = 0) -> None:
        """Models NdisMSendNetBufferListsComplete: completions go up the filter stack to each sender."""
        for nbl in iterate(nbls):
            if self.verifier and (nbl.completed or nbl.owner is not block):
                raise NdisVerifierError(f"{block.driver.name}: completed an NBL it does not own (double complete?)")
            nbl.completed = True
        self._complete_up(block, 0, nbls, flags)

    def f_send_net_buffer_lists_complete(self, module: FilterModule, nbls: NetBufferList, flags: int = 0) -> None:
        """Models NdisFSendNetBufferListsComplete: pass completions on above this filter."""
        self._complete_up(module.miniport, module.index + 1, nbls, flags)

    def _complete_up(self, block: MiniportBlock, level: int, nbls: NetBufferList, flags: int) -> None:
        module = _above(block, level, "send_complete")
        if module is not None:
            module.send_complete(module.context, nbls, flags)
        else:
            self._complete_to_protocols(block, nbls, flags)

    def _complete_to_protocols(self, block: MiniportBlock, nbls: NetBufferList, flags: int) -> None:
        by_binding: dict[int, list[NetBufferList]] = {}
        for nbl in iterate(nbls):
            binding = nbl.source_handle
            if not isinstance(binding, OpenBlock):
                raise NdisVerifierError(
                    f"the completion of an NBL sent by {getattr(binding, 'name', binding)!r} reached the protocols: "
                    "the layer that sent it must keep its own completions")
            if self.verifier:
                binding.in_flight.discard(id(nbl))
            nbl.owner = binding
            nbl.next = None
            by_binding.setdefault(id(binding), []).append(nbl)
        for group in by_binding.values():
            binding = group[0].source_handle
            binding.sends_outstanding -= len(group)
            self.counters.send_completes += len(group)
            binding.protocol.send_net_buffer_lists_complete(binding.binding_context, chain(group), flags)
            if binding.state is BindingState.PAUSING and binding.idle:
                self._advance_pause(block)

    # Receive path -------------------------------------------------------------------

    def m_indicate_receive_net_buffer_lists(self, block: MiniportBlock, nbls: NetBufferList, port: int,
                                            count: int, flags: int = 0) -> None:
        """Models NdisMIndicateReceiveNetBufferLists: up the filter stack to every running binding.

        Without the RESOURCES flag each binding owns the NBLs until it returns
        them, and they go back down when the last binding has. With it, the
        indication is a loan for the call only: the protocols must copy what
        they keep, and the NBLs are the miniport's again when the call returns.
        A binding that is not running never sees the NBLs.
        """
        self.counters.indications += count
        for nbl in iterate(nbls):
            if self.verifier:
                if nbl.source_handle is not block:
                    raise NdisVerifierError(f"{block.driver.name}: indicated an NBL whose SourceHandle is not "
                                            f"its adapter handle for {block.name}")
                if nbl.context.get("ndis.references"):
                    raise NdisVerifierError(f"{block.driver.name}: indicated an NBL that "
                                            f"{nbl.context['ndis.references']} binding(s) still own")
            nbl.owner = block
        self._indicate_up(block, 0, nbls, port, count, flags)

    def f_indicate_receive_net_buffer_lists(self, module: FilterModule, nbls: NetBufferList, port: int,
                                            count: int, flags: int = 0) -> None:
        """Models NdisFIndicateReceiveNetBufferLists: pass receives on above this filter (its own NBLs too)."""
        self._indicate_up(module.miniport, module.index + 1, nbls, port, count, flags)

    def _indicate_up(self, block: MiniportBlock, level: int, nbls: NetBufferList, port: int, count: int,
                     flags: int) -> None:
        module = _above(block, level, "receive")
        if module is not None:
            module.receive(module.context, nbls, port, count, flags)
            return
        opens = [o for o in block.opens if o.state is BindingState.RUNNING]
        resources = bool(flags & ReceiveFlags.RESOURCES)
        held = 0 if resources else len(opens)
        for nbl in iterate(nbls):
            nbl.context["ndis.references"] = held
        if held:
            if self.verifier:
                ids = [id(nbl) for nbl in iterate(nbls)]
                for open_block in opens:
                    open_block.held.update(ids)
            for open_block in opens:
                open_block.receives_held += count
        for open_block in opens:
            open_block.protocol.receive_net_buffer_lists(open_block.binding_context, nbls, port, count, flags)
        if not held and not resources:
            self._return_down(block, len(block.filters), nbls, 0)

    def return_net_buffer_lists(self, binding: OpenBlock, nbls: NetBufferList, flags: int = 0) -> None:
        """Models NdisReturnNetBufferLists: an NBL goes back down once every binding has returned it."""
        block = binding.miniport
        back: list[NetBufferList] = []
        for nbl in iterate(nbls):
            if self.verifier:
                if id(nbl) not in binding.held:
                    raise NdisVerifierError(f"{binding.protocol.name}: returned an NBL it does not hold")
                binding.held.discard(id(nbl))
            binding.receives_held -= 1
            self.counters.returns += 1
            remaining = nbl.context["ndis.references"] - 1
            nbl.context["ndis.references"] = remaining
            if remaining == 0:
                nbl.next = None
                back.append(nbl)
        if back:
            self._return_down(block, len(block.filters), chain(back), flags)
        if binding.state is BindingState.PAUSING and binding.idle:
            self._advance_pause(block)

    def f_return_net_buffer_lists(self, module: FilterModule, nbls: NetBufferList, flags: int = 0) -> None:
        """Models NdisFReturnNetBufferLists: pass returns on below this filter."""
        self._return_down(module.miniport, module.index, nbls, flags)

    def _return_down(self, block: MiniportBlock, level: int, nbls: NetBufferList, flags: int) -> None:
        module = _below(block, level, "return_")
        if module is not None:
            module.return_(module.context, nbls, flags)
            return
        if self.verifier:
            for nbl in iterate(nbls):
                if nbl.source_handle is not block:
                    raise NdisVerifierError(
                        f"an NBL indicated by {getattr(nbl.source_handle, 'name', nbl.source_handle)!r} was "
                        f"returned to miniport {block.name}: the layer that indicated it must keep its own returns")
        block.driver.return_net_buffer_lists(block.adapter_context, nbls, flags)

    # Status indications ---------------------------------------------------------------

    def m_indicate_status_ex(self, block: MiniportBlock, indication: StatusIndication) -> None:
        """Models NdisMIndicateStatusEx: up the filter stack to every binding's ProtocolStatusEx."""
        self.counters.status_indications += 1
        self._status_up(block, 0, indication)

    def f_indicate_status(self, module: FilterModule, indication: StatusIndication) -> None:
        """Models NdisFIndicateStatus: pass a status indication on above this filter."""
        self._status_up(module.miniport, module.index + 1, indication)

    def _status_up(self, block: MiniportBlock, level: int, indication: StatusIndication) -> None:
        module = _above(block, level, "status")
        if module is not None:
            module.status(module.context, indication)
            return
        for open_block in list(block.opens):
            open_block.protocol.status_ex(open_block.binding_context, indication)

    # OID requests ---------------------------------------------------------------------

    def oid_request(self, binding: OpenBlock, request: NdisOidRequest) -> NdisStatus:
        """Models NdisOidRequest: down the filter stack; PENDING means ProtocolOidRequestComplete follows."""
        self.counters.oid_requests += 1
        return self._oid_down(binding.miniport, len(binding.miniport.filters), request, binding)

    def wmi_oid_request(self, block: MiniportBlock, request: NdisOidRequest) -> NdisStatus:
        """Models an OID request NDIS itself issues on behalf of WMI, as administration tools query adapters.

        There is no binding to complete to: a pended request's final status
        lands in ``request.status`` when the miniport completes it.
        """
        self.counters.oid_requests += 1
        return self._oid_down(block, len(block.filters), request, None)

    def f_oid_request(self, module: FilterModule, request: NdisOidRequest) -> NdisStatus:
        """Models NdisFOidRequest: pass a request on below this filter."""
        origin = self._pending_requests.pop(id(request), None)
        return self._oid_down(module.miniport, module.index, request, origin)

    def _oid_down(self, block: MiniportBlock, level: int, request: NdisOidRequest,
                  origin: OpenBlock | None) -> NdisStatus:
        # Remembered before the call: a filter passing the request on finds it here.
        self._pending_requests[id(request)] = origin
        module = _below(block, level, "oid_request")
        if module is not None:
            status = module.oid_request(module.context, request)
        else:
            status = block.driver.oid_request(block.adapter_context, request)
        if status != NdisStatus.PENDING:
            self._pending_requests.pop(id(request), None)
        return status

    def m_oid_request_complete(self, block: MiniportBlock, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models NdisMOidRequestComplete for a request the miniport pended: up the filters to its origin."""
        if id(request) not in self._pending_requests:
            raise NdisVerifierError(f"{block.driver.name}: completed an OID request that was not pending")
        self._oid_complete_up(block, 0, request, status)

    def f_oid_request_complete(self, module: FilterModule, request: NdisOidRequest, status: NdisStatus) -> None:
        """Models NdisFOidRequestComplete: pass a pended request's completion on above this filter."""
        self._oid_complete_up(module.miniport, module.index + 1, request, status)

    def _oid_complete_up(self, block: MiniportBlock, level: int, request: NdisOidRequest,
                         status: NdisStatus) -> None:
        module = _above(block, level, "oid_request_complete")
        if module is not None:
            module.oid_request_complete(module.context, request, status)
            return
        origin = self._pending_requests.pop(id(request), None)
        request.status = status
        if origin is not None:
            origin.protocol.oid_request_complete(origin.binding_context, request, status)

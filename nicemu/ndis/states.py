"""The NDIS 6 state machines of miniports, protocol bindings and filter modules, one table each.

A transition not in its table is a driver or NDIS bug, and raises
``IllegalTransition``: the tables are the whole truth about what may follow what.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)


class IllegalTransition(RuntimeError):
    """An event that the current state does not allow."""

    def __init__(self, machine: str, state: enum.Enum, event: str) -> None:
        super().__init__(f"{machine}: '{event}' is not allowed in state {state.name}")
        self.machine = machine
        self.state = state
        self.event = event


class MiniportState(enum.Enum):
    """Models the states of an NDIS 6 miniport adapter."""

    HALTED = "halted"
    INITIALIZING = "initializing"
    PAUSED = "paused"
    RESTARTING = "restarting"
    RUNNING = "running"
    PAUSING = "pausing"


class BindingState(enum.Enum):
    """Models the states of an NDIS 6 protocol binding (ndisprot's OPEN_STATE)."""

    UNBOUND = "unbound"
    OPENING = "opening"
    PAUSED = "paused"
    RESTARTING = "restarting"
    RUNNING = "running"
    PAUSING = "pausing"
    CLOSING = "closing"


class FilterState(enum.Enum):
    """Models the states of an NDIS 6 filter module."""

    DETACHED = "detached"
    ATTACHING = "attaching"
    PAUSED = "paused"
    RESTARTING = "restarting"
    RUNNING = "running"
    PAUSING = "pausing"
    DETACHING = "detaching"


_M = MiniportState
MINIPORT_TRANSITIONS: Mapping[tuple[MiniportState, str], MiniportState] = {
    (_M.HALTED, "initialize"): _M.INITIALIZING,
    (_M.INITIALIZING, "initialized"): _M.PAUSED,
    (_M.INITIALIZING, "initialize_failed"): _M.HALTED,
    (_M.PAUSED, "restart"): _M.RESTARTING,
    (_M.RESTARTING, "restarted"): _M.RUNNING,
    (_M.RESTARTING, "restart_failed"): _M.PAUSED,
    (_M.RUNNING, "pause"): _M.PAUSING,
    (_M.PAUSING, "paused"): _M.PAUSED,
    (_M.PAUSED, "halt"): _M.HALTED,
}

_B = BindingState
BINDING_TRANSITIONS: Mapping[tuple[BindingState, str], BindingState] = {
    (_B.UNBOUND, "open"): _B.OPENING,
    (_B.OPENING, "opened"): _B.PAUSED,
    (_B.OPENING, "open_failed"): _B.UNBOUND,
    (_B.PAUSED, "restart"): _B.RESTARTING,
    (_B.RESTARTING, "restarted"): _B.RUNNING,
    (_B.RUNNING, "pause"): _B.PAUSING,
    (_B.PAUSING, "paused"): _B.PAUSED,
    (_B.PAUSED, "close"): _B.CLOSING,
    (_B.CLOSING, "closed"): _B.UNBOUND,
}

_F = FilterState
FILTER_TRANSITIONS: Mapping[tuple[FilterState, str], FilterState] = {
    (_F.DETACHED, "attach"): _F.ATTACHING,
    (_F.ATTACHING, "attached"): _F.PAUSED,
    (_F.ATTACHING, "attach_failed"): _F.DETACHED,
    (_F.PAUSED, "restart"): _F.RESTARTING,
    (_F.RESTARTING, "restarted"): _F.RUNNING,
    (_F.RESTARTING, "restart_failed"): _F.PAUSED,
    (_F.RUNNING, "pause"): _F.PAUSING,
    (_F.PAUSING, "paused"): _F.PAUSED,
    (_F.PAUSED, "detach"): _F.DETACHING,
    (_F.DETACHING, "detached"): _F.DETACHED,
}


class StateMachine(Generic[S]):
    """A current state moved only by events its transition table allows."""

    __slots__ = ("name", "state", "_table")

    def __init__(self, name: str, table: Mapping[tuple[S, str], S], initial: S) -> None:
        self.name = name
        self.state = initial
        self._table = table

    def fire(self, event: str) -> S:
        """Apply ``event``; returns the new state or raises ``IllegalTransition``."""
        try:
            self.state = self._table[(self.state, event)]
        except KeyError:
            raise IllegalTransition(self.name, self.state, event) from None
        return self.state

import pytest

from nicemu.ndis.states import (
    BINDING_TRANSITIONS,
    FILTER_TRANSITIONS,
    MINIPORT_TRANSITIONS,
    BindingState,
    FilterState,
    IllegalTransition,
    MiniportState,
    StateMachine,
)

TABLES = [
    ("miniport", MINIPORT_TRANSITIONS, MiniportState),
    ("binding", BINDING_TRANSITIONS, BindingState),
    ("filter", FILTER_TRANSITIONS, FilterState),
]
EVENTS = sorted({event for _, table, _ in TABLES for (_, event) in table})


def every_pair():
    for name, table, states in TABLES:
        for state in states:
            for event in EVENTS:
                yield pytest.param(name, table, state, event, id=f"{name}-{state.name}-{event}")


@pytest.mark.parametrize("name, table, state, event", list(every_pair()))
def test_state_machine__every_state_and_event_is_legal_exactly_when_its_table_says(name, table, state, event):
    machine = StateMachine(name, table, state)
    if (state, event) in table:
        assert machine.fire(event) is table[(state, event)]
    else:
        with pytest.raises(IllegalTransition) as caught:
            machine.fire(event)
        assert caught.value.state is state and machine.state is state


@pytest.mark.parametrize("table, start, path, end", [
    (MINIPORT_TRANSITIONS, MiniportState.HALTED,
     ["initialize", "initialized", "restart", "restarted", "pause", "paused", "halt"], MiniportState.HALTED),
    (BINDING_TRANSITIONS, BindingState.UNBOUND,
     ["open", "opened", "restart", "restarted", "pause", "paused", "close", "closed"], BindingState.UNBOUND),
    (FILTER_TRANSITIONS, FilterState.DETACHED,
     ["attach", "attached", "restart", "restarted", "pause", "paused", "detach", "detached"], FilterState.DETACHED),
])
def test_state_machine__a_whole_life_returns_to_the_start(table, start, path, end):
    machine = StateMachine("x", table, start)
    for event in path:
        machine.fire(event)
    assert machine.state is end


def test_state_machine__running_can_only_be_left_by_pausing():
    for table, running in [(MINIPORT_TRANSITIONS, MiniportState.RUNNING), (BINDING_TRANSITIONS, BindingState.RUNNING),
                           (FILTER_TRANSITIONS, FilterState.RUNNING)]:
        assert [event for (state, event) in table if state is running] == ["pause"]


def test_illegal_transition__names_the_machine_the_state_and_the_event():
    with pytest.raises(IllegalTransition, match="miniport a0: 'halt' is not allowed in state RUNNING"):
        StateMachine("miniport a0", MINIPORT_TRANSITIONS, MiniportState.RUNNING).fire("halt")

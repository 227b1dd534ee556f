"""The incident workflow rules, tested exhaustively over random sequences of moves."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.incidents.workflow import (
    TRANSITIONS,
    IllegalTransition,
    IncidentClock,
    MissingExplanation,
    Status,
    action_label,
    allowed_transitions,
    transition,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
moves = st.lists(
    st.tuples(st.sampled_from(list(Status)), st.integers(min_value=-3600, max_value=86_400)),
    max_size=40,
)


def ordered(clock: IncidentClock) -> bool:
    chain = [clock.declared_at, clock.acknowledged_at, clock.resolved_at, clock.closed_at]
    present = [t for t in chain if t is not None]
    cancelled_ok = clock.cancelled_at is None or clock.cancelled_at >= clock.declared_at
    return present == sorted(present) and cancelled_ok


@given(moves)
def test_random_moves_never_reach_an_illegal_state(sequence):
    status, clock, at = Status.OPEN, IncidentClock(declared_at=START), START
    for target, step in sequence:
        at += timedelta(seconds=step)  # the clock may even run backwards
        try:
            clock = transition(status, clock, target, at, "because")
        except IllegalTransition as refused:
            assert target not in TRANSITIONS[status]
            assert refused.allowed == TRANSITIONS[status]
            continue
        assert target in TRANSITIONS[status]
        status = target
        assert ordered(clock), clock
        # What is set follows the status.
        assert (clock.resolved_at is not None) == (status in (Status.RESOLVED, Status.CLOSED))
        assert (clock.closed_at is not None) == (status is Status.CLOSED)
        assert (clock.cancelled_at is not None) == (status is Status.CANCELLED)
        if status is not Status.OPEN and status is not Status.CANCELLED:
            assert clock.acknowledged_at is not None


@pytest.mark.parametrize("current", list(Status))
def test_refusal_names_the_allowed_moves(current):
    illegal = [s for s in Status if s not in TRANSITIONS[current]]
    for target in illegal:
        with pytest.raises(IllegalTransition) as refused:
            transition(current, IncidentClock(declared_at=START), target, START, "x")
        message = str(refused.value)
        for allowed in allowed_transitions(current):
            assert allowed.value in message
        if not allowed_transitions(current):
            assert "final" in message


def test_resolving_needs_a_summary_and_cancelling_a_reason():
    clock = IncidentClock(declared_at=START)
    with pytest.raises(MissingExplanation) as missing:
        transition(Status.FIXING, clock, Status.RESOLVED, START, "   ")
    assert missing.value.field == "resolution_summary"
    with pytest.raises(MissingExplanation) as missing:
        transition(Status.OPEN, clock, Status.CANCELLED, START, "")
    assert missing.value.field == "reason"


def test_reopening_clears_the_resolution_but_keeps_the_acknowledgement():
    t = START
    clock = transition(
        Status.OPEN, IncidentClock(declared_at=t), Status.FIXING, t + timedelta(minutes=5)
    )
    clock = transition(
        Status.FIXING, clock, Status.RESOLVED, t + timedelta(minutes=30), "rolled back"
    )
    reopened = transition(Status.RESOLVED, clock, Status.FIXING, t + timedelta(minutes=40))
    assert reopened.resolved_at is None
    assert reopened.acknowledged_at == t + timedelta(minutes=5)


def test_button_labels_read_as_actions():
    assert action_label(Status.OPEN, Status.FIXING) == "Start fixing"
    assert action_label(Status.RESOLVED, Status.FIXING) == "Reopen"
    assert action_label(Status.FIXING, Status.CANCELLED) == "Cancel (false alarm)"

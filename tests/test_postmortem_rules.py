"""The postmortem's pure rules: its workflow, due dates, the five whys, approvers, the template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.postmortems import template, workflow
from tocsin.postmortems.workflow import Status, Why

statuses = st.sampled_from(list(Status))


@given(statuses, statuses, st.text(max_size=5))
def test_a_move_is_allowed_exactly_when_the_table_says(current, target, comment):
    allowed = target in workflow.TRANSITIONS[current]
    needs_comment = current is Status.IN_REVIEW and target is Status.DRAFT
    try:
        workflow.check_move(current, target, comment)
    except workflow.IllegalMove as refused:
        assert not allowed
        names = ", ".join(s.value for s in workflow.TRANSITIONS[current])
        assert str(refused).endswith(f"allowed: {names}.")
    except ValueError:
        assert allowed and needs_comment and not comment.strip()
    else:
        assert allowed and (not needs_comment or comment.strip())


@given(st.lists(statuses, max_size=12))
def test_every_path_through_the_workflow_keeps_to_it(targets):
    """From draft, only the moves in the table lead on; approval always comes after review."""
    current, seen_review = Status.DRAFT, False
    for target in targets:
        try:
            workflow.check_move(current, target, "because")
        except workflow.IllegalMove:
            continue
        if target is Status.APPROVED:
            assert current is Status.IN_REVIEW
        if target is Status.PUBLISHED:
            assert current is Status.APPROVED
        seen_review |= target is Status.IN_REVIEW
        current = target
    if current in workflow.APPROVED_OR_LATER:
        assert seen_review


@pytest.mark.parametrize("status", list(Status))
def test_only_a_draft_is_edited_and_the_refusal_names_the_moves(status):
    if status is Status.DRAFT:
        workflow.check_editable(status)
        return
    with pytest.raises(workflow.NotEditable) as refused:
        workflow.check_editable(status)
    names = ", ".join(s.value for s in workflow.TRANSITIONS[status])
    assert f"allowed moves: {names}" in str(refused.value)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=40),
)
def test_due_dates_count_working_days_only(start, days):
    due = workflow.add_business_days(start, days)
    assert due.time() == start.time() and due >= start
    assert due.weekday() < 5
    working = sum(
        1
        for n in range(1, (due.date() - start.date()).days + 1)
        if (start + timedelta(days=n)).weekday() < 5
    )
    assert working == days if start.weekday() < 5 else working in (days, days + 1)
    assert (due - start).days <= days + (days // 5 + 1) * 2 + 2


def test_five_working_days_from_a_friday_is_the_next_friday():
    friday = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    assert workflow.add_business_days(friday, 5) == datetime(2026, 3, 13, 17, 0, tzinfo=UTC)
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    assert workflow.add_business_days(saturday, 1) == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


steps = st.lists(
    st.builds(Why, st.sampled_from(["", " ", "why?"]), st.sampled_from(["", "because"])),
    max_size=7,
)


@given(steps)
def test_a_gap_is_a_blank_step_before_a_later_one(chain):
    gap = workflow.five_whys_gap(chain)
    kept = workflow.trimmed_chain(chain)
    blanks = [
        (i, "why" if not s.why else "answer")
        for i, s in enumerate(kept)
        if not s.why or (not s.answer and i < len(kept) - 1)
    ]
    assert gap == (blanks[0] if blanks else None)
    complete = workflow.five_whys_gap(chain, complete=True)
    if gap is not None:
        assert complete == gap
    if complete is None:
        assert all(s.why and s.answer for s in kept)


def test_the_missing_fields_for_review_and_for_closing():
    chain = [Why("Why?", "Because.")]
    assert workflow.missing_for_review("", [], None) == [
        "five_whys",
        "root_cause",
        "root_cause_category",
    ]
    assert workflow.missing_for_review("Pool size", chain, "Change") == []
    assert workflow.missing_to_close(Status.APPROVED) is None
    assert workflow.missing_to_close(Status.PUBLISHED) is None
    assert workflow.missing_to_close(None).startswith("It has no postmortem yet")
    assert workflow.missing_to_close(Status.DRAFT, "Rita", ["root_cause"]) == (
        "Its postmortem (owner Rita) is a draft: it needs a root cause, review and approval."
    )


def test_approvers_are_read_per_service_and_team():
    approvers = workflow.parse_approvers(
        "service:Checkout API=Ana@x.org bo@x.org; team:payments=cy@x.org,ana@x.org"
    )
    assert approvers.for_incident("checkout api", "Payments") == {
        "ana@x.org",
        "bo@x.org",
        "cy@x.org",
    }
    assert approvers.for_incident(None, None) == frozenset()
    assert workflow.parse_approvers("") == workflow.Approvers({}, {})
    for wrong in ("checkout=a@x.org", "service:=a@x.org", "team:Ops=", "team:Ops=nobody"):
        with pytest.raises(ValueError):
            workflow.parse_approvers(wrong)


@given(
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([frozenset(), frozenset({"carla@x.org"})]),
)
def test_who_may_approve(is_admin, is_author, is_named, named):
    email = "carla@x.org" if is_named else "dan@x.org"
    refusal = workflow.may_approve(
        approver_email=email,
        is_admin=is_admin,
        author_ids={7} if is_author else set(),
        approver_id=7,
        named=named,
    )
    allowed = not is_author and (is_admin or email in named)
    assert (refusal is None) == allowed


FACTS = template.IncidentFacts(
    key="INC-7",
    summary="Checkout fails",
    severity="SEV1",
    description="EU customers cannot pay.",
    resolution_summary="Rolled back",
    impact_started_at=datetime(2026, 3, 2, 8, 50, tzinfo=UTC),
    detected_at=datetime(2026, 3, 2, 9, 5, tzinfo=UTC),
    declared_at=datetime(2026, 3, 2, 9, 7, tzinfo=UTC),
    acknowledged_at=datetime(2026, 3, 2, 9, 10, tzinfo=UTC),
    resolved_at=datetime(2026, 3, 2, 11, 0, tzinfo=UTC),
    service="Checkout API",
    products=["Web shop"],
    incident_manager="Rita",
    tech_leads=["Tom"],
    events=[
        template.Event(datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "Rolled back"),
        template.Event(datetime(2026, 3, 2, 9, 12, tzinfo=UTC), "Pool at 100%"),
    ],
)


def test_the_first_version_is_prefilled_in_the_chosen_time_zone():
    document = template.first_version(FACTS, "Europe/Berlin")
    assert document["impact"].startswith(
        "Duration: 2 h 10 min, from impact start 2026-03-02 09:50 CET "
        "to resolution 2026-03-02 12:00 CET."
    )
    assert "Time to detect: 15 min (impact start to detection)." in document["detection"]
    assert "Time to acknowledge: 3 min (declared to fixing)." in document["response"]
    assert "Tech leads: Tom." in document["response"]
    assert [r["text"] for r in document["timeline"]] == ["Pool at 100%", "Rolled back"]
    assert document["timeline_time_zone"] == "Europe/Berlin"
    assert set(document) == set(template.SECTIONS)


def test_the_markdown_shows_the_timeline_in_its_time_zone():
    document = template.first_version(FACTS, "Europe/Berlin")
    text = template.markdown("Postmortem: INC-7", document, [("Owner", "Rita")])
    assert "## Timeline (Europe/Berlin)\n\n| Time | Event |\n|---|---|\n" in text
    assert "| 2026-03-02 10:12 | Pool at 100% |" in text
    assert "- **Owner:** Rita" in text
    assert "## Five whys\n\n_Not written._" in text

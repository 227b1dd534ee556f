"""The postmortem's rules as plain functions over plain values: no I/O, no ORM.

    draft -> in_review -> approved -> published
             in_review -> draft          (changes requested, with a comment)
             approved | published -> draft   (amended: a new version goes back to review)

Only a draft is edited. A major incident closes only once its postmortem is approved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"


class Category(StrEnum):
    """The handbook's root cause categories."""

    BUG = "Bug"
    CHANGE = "Change"
    SCALE = "Scale"
    ARCHITECTURE = "Architecture"
    DEPENDENCY = "Dependency"
    UNKNOWN = "Unknown"


TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.DRAFT: (Status.IN_REVIEW,),
    Status.IN_REVIEW: (Status.APPROVED, Status.DRAFT),
    Status.APPROVED: (Status.PUBLISHED, Status.DRAFT),
    Status.PUBLISHED: (Status.DRAFT,),
}

# A postmortem at or past approval lets its major incident close.
APPROVED_OR_LATER = frozenset({Status.APPROVED, Status.PUBLISHED})

LABEL = {
    Status.DRAFT: "Draft",
    Status.IN_REVIEW: "In review",
    Status.APPROVED: "Approved",
    Status.PUBLISHED: "Published",
}


def move_name(current: Status, target: Status) -> str:
    """What the move is called on a button and in the timeline."""
    if target is Status.IN_REVIEW:
        return "Ask for review"
    if target is Status.APPROVED:
        return "Approve"
    if target is Status.PUBLISHED:
        return "Publish"
    return "Request changes" if current is Status.IN_REVIEW else "Amend"


def allowed_moves(current: Status) -> tuple[Status, ...]:
    return TRANSITIONS[current]


def _names(statuses: Iterable[Status]) -> str:
    return ", ".join(s.value for s in statuses) or "none"


class IllegalMove(Exception):
    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(
            f"A postmortem that is {current.value} cannot move to {target.value}; "
            f"allowed: {_names(TRANSITIONS[current])}."
        )
        self.current = current
        self.target = target


class NotEditable(Exception):
    """Only a draft is edited; an approved or published one is amended (back to draft)."""

    def __init__(self, current: Status) -> None:
        advice = {
            Status.IN_REVIEW: "approve it, or request changes to edit it again",
            Status.APPROVED: "publish it, or amend it (it goes back to draft and to review)",
            Status.PUBLISHED: "amend it: the new version goes back to draft and to review",
        }[current]
        super().__init__(
            f"A postmortem that is {current.value} is not edited; "
            f"allowed moves: {_names(TRANSITIONS[current])} ({advice})."
        )
        self.current = current


def check_move(current: Status, target: Status, comment: str = "") -> None:
    """Raises IllegalMove, or ValueError when requesting changes without a comment."""
    if target not in TRANSITIONS[current]:
        raise IllegalMove(current, target)
    if current is Status.IN_REVIEW and target is Status.DRAFT and not comment.strip():
        raise ValueError("Say what should change: requesting changes needs a comment.")


def check_editable(current: Status) -> None:
    if current is not Status.DRAFT:
        raise NotEditable(current)


# ---------------------------------------------------------------- due dates


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` working days (Monday to Friday) after `start`, at the same time of day.

    A start on a weekend counts from the next Monday.
    """
    when = start
    while when.weekday() >= 5:
        when += timedelta(days=1)
    left = days
    while left > 0:
        when += timedelta(days=1)
        if when.weekday() < 5:
            left -= 1
    return when


# ---------------------------------------------------------------- the five whys


@dataclass(frozen=True)
class Why:
    why: str
    answer: str


def five_whys_gap(chain: Sequence[Why], *, complete: bool = False) -> tuple[int, str] | None:
    """The first hole in the chain as (index, "why" | "answer"), or None.

    Each answer leads to the next why, so no step may be blank before a later one; only the
    last why may still wait for its answer while drafting (`complete` asks for that too).
    Trailing empty steps are ignored (a form shows spare rows).
    """
    steps = list(chain)
    while steps and not steps[-1].why.strip() and not steps[-1].answer.strip():
        steps.pop()
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        if not step.why.strip():
            return index, "why"
        if not step.answer.strip() and (complete or not last):
            return index, "answer"
    return None


def trimmed_chain(chain: Sequence[Why]) -> list[Why]:
    steps = [Why(s.why.strip(), s.answer.strip()) for s in chain]
    while steps and not steps[-1].why and not steps[-1].answer:
        steps.pop()
    return steps


# ---------------------------------------------------------------- ready for review, closing


def missing_for_review(root_cause: str, chain: Sequence[Why], category: str | None) -> list[str]:
    """The fields a review needs that are still empty, as (field) names."""
    missing = []
    if not trimmed_chain(chain) or five_whys_gap(chain, complete=True) is not None:
        missing.append("five_whys")
    if not root_cause.strip():
        missing.append("root_cause")
    if not category:
        missing.append("root_cause_category")
    return missing


FIELD_WORDS = {
    "five_whys": "a complete five whys chain",
    "root_cause": "a root cause",
    "root_cause_category": "a root cause category",
}


def missing_to_close(
    status: Status | None, owner: str | None = None, empty: Sequence[str] = ()
) -> str | None:
    """What a major incident's postmortem still needs before the incident closes, in words;
    None when it may close. `empty`: the fields a review needs that are still blank."""
    if status is None:
        return "It has no postmortem yet: ask for one, write it and have it approved."
    if status in APPROVED_OR_LATER:
        return None
    whose = f"Its postmortem (owner {owner})" if owner else "Its postmortem"
    if status is Status.IN_REVIEW:
        return f"{whose} is in review: it needs an approver's approval."
    needs = [FIELD_WORDS[name] for name in empty] + ["review and approval"]
    return f"{whose} is a draft: it needs {', '.join(needs)}."


# ---------------------------------------------------------------- settings


def parse_severities(text: str) -> frozenset[str]:
    """'SEV1,SEV2' -> {'SEV1', 'SEV2'}; an empty text makes no incident major."""
    return frozenset(part.strip().upper() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Approvers:
    """Who may approve, by service name and team name (casefolded), as email addresses."""

    by_service: dict[str, frozenset[str]]
    by_team: dict[str, frozenset[str]]

    def for_incident(self, service: str | None, team: str | None) -> frozenset[str]:
        named: set[str] = set()
        if service:
            named |= self.by_service.get(service.casefold(), frozenset())
        if team:
            named |= self.by_team.get(team.casefold(), frozenset())
        return frozenset(named)


def parse_approvers(text: str) -> Approvers:
    """'service:Checkout API=ana@x.org bo@x.org; team:Payments=cy@x.org'.

    Raises ValueError naming the part it cannot read.
    """
    by_service: dict[str, set[str]] = {}
    by_team: dict[str, set[str]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        head, equals, emails = part.partition("=")
        kind, colon, name = head.partition(":")
        kind, name = kind.strip().lower(), name.strip()
        if not equals or not colon or kind not in ("service", "team") or not name:
            raise ValueError(
                f"cannot read {part.strip()!r}: write 'service:NAME=email ...' or "
                "'team:NAME=email ...', separated by ';'"
            )
        addresses = {e.strip().lower() for e in emails.replace(",", " ").split() if e.strip()}
        if not addresses or any("@" not in a for a in addresses):
            raise ValueError(f"{part.strip()!r} needs one or more email addresses")
        target = by_service if kind == "service" else by_team
        target.setdefault(name.casefold(), set()).update(addresses)
    return Approvers(
        {k: frozenset(v) for k, v in by_service.items()},
        {k: frozenset(v) for k, v in by_team.items()},
    )


def may_approve(
    *,
    approver_email: str,
    is_admin: bool,
    author_ids: set[int],
    approver_id: int,
    named: frozenset[str],
) -> str | None:
    """None when the person may approve, else why not."""
    if approver_id in author_ids:
        return "The author cannot approve their own postmortem: ask an approver."
    if is_admin or approver_email.lower() in named:
        return None
    if named:
        return "Only the named approvers of this service or team, or an admin, can approve."
    return "No approvers are named for this service or team: an admin approves."

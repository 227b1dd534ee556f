"""Where an escalation goes next: plain functions over plain values, no I/O.

A policy has levels, each with a delay before the next level, and repeats N more times
after its first pass. Each (round, level) fires exactly once, in order; a step past the
last level of the last round ends the escalation as exhausted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Position:
    round: int
    level_index: int


@dataclass(frozen=True)
class Step:
    """What a due step does: fire `fires` (None: nothing left, the page is exhausted),
    then wait for `next_at` at `next`."""

    fires: Position | None
    next: Position | None
    next_at: datetime | None


def step(delays: Sequence[int], repeat: int, at: Position, now: datetime) -> Step:
    """`delays[i]` is the minutes to wait after level i fires; `repeat` extra passes."""
    if not delays or at.level_index >= len(delays) or at.round > repeat:
        return Step(fires=None, next=None, next_at=None)
    wait = timedelta(minutes=max(0, delays[at.level_index]))
    if at.level_index + 1 < len(delays):
        following = Position(at.round, at.level_index + 1)
    elif at.round < repeat:
        following = Position(at.round + 1, 0)
    else:
        following = Position(at.round, len(delays))  # past the end: exhausted when due
    return Step(fires=at, next=following, next_at=now + wait)

"""What a new alert does, from its service's rules and maintenance windows: pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.alerts.events import AlertSeverity
from tocsin.alerts.models import RuleAction
from tocsin.incidents.workflow import Severity


@dataclass(frozen=True)
class Rule:
    severity: AlertSeverity | None  # None matches every severity
    action: RuleAction
    incident_severity: Severity | None = None


@dataclass(frozen=True)
class Decision:
    action: RuleAction
    incident_severity: Severity | None = None
    suppressed: bool = False


# A service without rules pages for everything but informational alerts.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(AlertSeverity.INFO, RuleAction.LOG),
    Rule(None, RuleAction.PAGE),
)

# An alert kept quiet by maintenance and still firing after it is routed again this long
# after the end (at once if its sender repeats it after the end): time enough for the
# monitoring to send the resolves the end of the work brings.
MAINTENANCE_GRACE = timedelta(minutes=5)
# ... and only after a window that ended this recently.
MAINTENANCE_LOOKBACK = timedelta(days=1)

# The incident severity an `incident` rule uses when it names none.
INCIDENT_SEVERITY_FOR: dict[AlertSeverity, Severity] = {
    AlertSeverity.CRITICAL: Severity.SEV1,
    AlertSeverity.ERROR: Severity.SEV2,
    AlertSeverity.WARNING: Severity.SEV3,
    AlertSeverity.INFO: Severity.SEV3,
}


def decide(rules: Sequence[Rule], severity: AlertSeverity, in_maintenance: bool) -> Decision:
    """The first matching rule wins; a severity no rule names does what it does by default
    (rules written for critical alerts must not silence the errors). In maintenance, nothing
    pages and no incident is declared."""
    chosen = next(r for r in (*rules, *DEFAULT_RULES) if r.severity in (None, severity))
    if in_maintenance:
        return Decision(RuleAction.LOG, suppressed=True)
    if chosen.action is RuleAction.INCIDENT:
        return Decision(chosen.action, chosen.incident_severity or INCIDENT_SEVERITY_FOR[severity])
    return Decision(chosen.action)


def in_maintenance(windows: Iterable[tuple[datetime, datetime]], at: datetime) -> bool:
    return any(start <= at < end for start, end in windows)

"""The list of engine modules that `tocsin serve` and `tocsin worker` run."""

from __future__ import annotations

from tocsin.config import Settings
from tocsin.engine.alert_router import AlertRouter
from tocsin.engine.comms_reminders import UpdateReminders
from tocsin.engine.delivery import Deliveries
from tocsin.engine.escalation import EscalationSteps
from tocsin.engine.heartbeats import MissedHeartbeats
from tocsin.engine.housekeeping import ExpiredLogins, SqliteStatistics, StaleSubscriptions
from tocsin.engine.maintenance import MaintenanceTransitions
from tocsin.engine.runner import EngineModule
from tocsin.engine.shift_notices import ShiftNotices
from tocsin.engine.subscriber_updates import SubscriberUpdates


def all_modules(settings: Settings) -> list[EngineModule]:
    """In the order of a pass: heartbeats raise alerts, the router starts their pages, the
    escalation fires due levels into the outbox, shift notices, stakeholder update
    reminders and status page subscribers' mail join it, and delivery sends what is due.
    Each module also runs in its own thread (see runner.py)."""
    return [
        MissedHeartbeats(),
        AlertRouter(),
        EscalationSteps(settings),
        ShiftNotices(settings),
        UpdateReminders(settings),
        SubscriberUpdates(),
        Deliveries(settings),
        MaintenanceTransitions(),
        ExpiredLogins(),
        StaleSubscriptions(settings),
        SqliteStatistics(),
    ]

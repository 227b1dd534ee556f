"""The operations snapshot in the Prometheus text format, with no I/O.

Every series a dashboard or an alert rule may name is always there (zero when there is
nothing), so a rule like `tocsin_engine_backlog_seconds > 60` never goes silent because
its series vanished.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from tocsin.alerts.events import AlertSeverity, AlertStatus
from tocsin.incidents.workflow import ACTIVE_STATUSES, Severity
from tocsin.paging.models import DeliveryStatus
from tocsin.reports.schemas import OperationsSnapshot

OPEN_ALERT_STATUSES = (AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED)
UNSENT_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.FAILED)


def render(snapshot: OperationsSnapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: OperationsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        build = InfoMetricFamily("tocsin_build", "The running Tocsin and its database.")
        build.add_metric([], {"version": s.version, "database": s.database})
        yield build

        alerts = GaugeMetricFamily(
            "tocsin_alerts_open",
            "Alerts not yet resolved.",
            labels=["status", "severity"],
        )
        for status in OPEN_ALERT_STATUSES:
            for severity in AlertSeverity:
                count = s.open_alerts.get((status.value, severity.value), 0)
                alerts.add_metric([status.value, severity.value], count)
        yield alerts

        incidents = GaugeMetricFamily(
            "tocsin_incidents_active",
            "Incidents open or being fixed (restricted ones only for those who may see them).",
            labels=["severity", "status"],
        )
        for severity in Severity:
            for status in sorted(ACTIVE_STATUSES):
                count = s.active_incidents.get((severity.value, status.value), 0)
                incidents.add_metric([severity.value, status.value], count)
        yield incidents

        yield GaugeMetricFamily(
            "tocsin_pages_active",
            "Pages still escalating: nobody acknowledged them yet.",
            value=s.active_pages,
        )

        outbox = GaugeMetricFamily(
            "tocsin_notifications",
            "Notifications not sent: waiting (pending), being sent, or given up after the "
            "last retry (failed).",
            labels=["status"],
        )
        for status in UNSENT_STATUSES:
            outbox.add_metric([status.value], getattr(s.outbox, status.value))
        yield outbox
        yield GaugeMetricFamily(
            "tocsin_notifications_retrying",
            "Pending notifications whose earlier attempt failed; they will be tried again.",
            value=s.outbox.retrying,
        )

        backlog = GaugeMetricFamily(
            "tocsin_engine_backlog_seconds",
            "How long the most overdue item of each kind of engine work has waited; it grows "
            "when no engine runs or the engine falls behind.",
            labels=["work"],
        )
        for work, seconds in s.backlog.items():
            backlog.add_metric([work], seconds)
        yield backlog

"""HTML routes: the admin's health page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tocsin.db import now
from tocsin.deps import CurrentUser, DbSession
from tocsin.reports import service
from tocsin.reports.schemas import HealthReport
from tocsin.web.templating import duration, render

router = APIRouter(include_in_schema=False)

WORK_NAMES = {
    "alert_routing": "Routing new alerts",
    "escalation": "Escalation steps",
    "delivery": "Sending notifications",
    "heartbeats": "Missed heartbeats",
    "subscriber_updates": "Telling status page subscribers",
}


@router.get("/admin/health", response_class=HTMLResponse)
def health_page(request: Request, user: CurrentUser, session: DbSession) -> HTMLResponse:
    report = service.health(session, user, now())
    context = {
        "report": report,
        "backlog": _backlog_rows(report),
        "mail_server": bool(request.app.state.settings.smtp_url),
    }
    return render(request, "reports/health.html", context)


@dataclass(frozen=True)
class BacklogRow:
    name: str
    waited: str  # "" when nothing waits
    behind: bool


def _backlog_rows(report: HealthReport) -> list[BacklogRow]:
    rows = []
    for work, seconds in report.snapshot.backlog.items():
        if seconds <= 0:
            waited = ""
        elif seconds < 60:
            waited = f"{int(seconds)}s"
        else:
            waited = duration(timedelta(seconds=seconds))
        rows.append(BacklogRow(WORK_NAMES[work], waited, seconds >= report.behind_after_seconds))
    return rows

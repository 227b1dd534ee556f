"""An alert by its id or ALR- key, and its timeline subject: what every alert module stands on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.alerts.models import Alert
from tocsin.errors import NotFound

SUBJECT = "alert"


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert ALR-{alert_id}.", field="alert_id")
    return alert


def parse_alert_key(key: str) -> int | None:
    digits = key.strip().upper().removeprefix("ALR-")
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 15 else None

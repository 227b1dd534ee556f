"""Settings from the environment (`TOCSIN_*`), read once per process."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tocsin.outbound import Allowlist


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore")

    database_url: str = "sqlite:///./var/tocsin.db"
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    admin_email: str = "admin@example.com"
    admin_password: str | None = None
    session_hours: int = 12
    # Secure cookies need HTTPS; turned on automatically when base_url is https.
    cookie_secure: bool | None = None
    run_engine: bool = True
    # Where email pages go out: smtp://[user:password@]host:port[?starttls=true] or smtps://...
    smtp_url: str | None = None
    mail_from: str = "Tocsin <tocsin@localhost>"
    # How long a claim on a notification lasts unrenewed: a worker renews it while sending, so
    # what a worker that died was sending goes out again (from another worker) within seconds.
    delivery_lease_seconds: int = 5
    # How many notifications one worker sends at once (each waits on a mail server or webhook).
    delivery_concurrency: int = 8
    # Freeze start-up objects and collect less often: full collections were the p99 tail
    # of the ingest path under load (see bench/RESULTS.md). `tocsin serve` turns it on.
    gc_tuning: bool = False
    # One log line per request costs ~9% of the ingest path's CPU; a reverse proxy in front
    # usually keeps access logs already.
    access_log: bool = False
    engine_tick_seconds: float = 1.0
    # What an on-call calendar feed holds: shifts from this many days back to this many
    # ahead of the day it is fetched (a shift overlapping that window appears whole).
    calendar_feed_days_back: int = Field(default=30, ge=0, le=366)
    calendar_feed_days_ahead: int = Field(default=365, ge=1, le=731)
    # Minutes between stakeholder updates per severity; a severity left out keeps no cadence.
    update_cadence: str = "SEV1=30,SEV2=30"
    # Internal addresses that notifications may still go to (an office chat server):
    # CIDRs and host names, comma-separated. Everything else internal is refused.
    outbound_allow: str = ""
    # The public subscribe form: sends per client address per window, and per page per hour
    # (every send may mail someone). Over either, the form answers 429 with Retry-After.
    subscribe_per_client: int = 5
    subscribe_client_window_minutes: int = 10
    subscribe_per_page_hour: int = 60
    # Housekeeping: subscribers who never confirmed are forgotten after this many days, and
    # mailed links older than `subscriber_link_days` stop working (each mail brings a new one).
    unconfirmed_subscriber_days: int = 7
    subscriber_link_days: int = 365
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed (uvicorn's
    # forwarded_allow_ips): the client address the form limits count, and https for HSTS.
    trusted_proxies: str = "127.0.0.1"
    # Strict-Transport-Security max-age, sent when served over https; 0 sends none.
    hsts_seconds: int = 31_536_000
    # Major incidents: resolving one starts its postmortem, closing it needs that approved.
    postmortem_severities: str = "SEV1,SEV2"
    # Working days (Monday to Friday) from resolution to the postmortem's due date.
    postmortem_due_business_days: int = 5
    # Who approves postmortems besides admins: "service:NAME=email ...; team:NAME=email ...".
    postmortem_approvers: str = ""

    @field_validator("update_cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        from tocsin.comms.cadence import Cadence  # pure rules; checked at start-up

        Cadence.parse(value)
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow(cls, value: str) -> str:
        Allowlist.parse(value)  # an unreadable entry stops start-up
        return value

    def outbound_allowlist(self) -> Allowlist:
        """The parsed TOCSIN_OUTBOUND_ALLOW."""
        return Allowlist.parse(self.outbound_allow)

    @field_validator("postmortem_approvers")
    @classmethod
    def _approvers(cls, value: str) -> str:
        from tocsin.postmortems.workflow import parse_approvers  # pure rules

        parse_approvers(value)
        return value

    @field_validator("postmortem_due_business_days")
    @classmethod
    def _due_days(cls, value: int) -> int:
        if not 0 <= value <= 60:
            raise ValueError("must be between 0 and 60 working days")
        return value

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.base_url.startswith("https://")

    def sqlite_path(self) -> Path | None:
        """The database file when on SQLite, so start-up can create its folder."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()

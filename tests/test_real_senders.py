"""Real senders against a live Tocsin: the `prometheus-alertmanager` binary (webhook and its own
PagerDuty receiver) and the pdpyras PagerDuty client library."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.alerting import make_integration
from tests.live_server import live_server  # noqa: F401  (fixture)

ALERTMANAGER = shutil.which("prometheus-alertmanager")
AMTOOL = shutil.which("amtool")
DEADLINE = 30.0


def wait_for(check: Callable[[], object], what: str, deadline: float = DEADLINE) -> object:
    """Polls `check` until it returns something truthy; fails with `what` after the deadline."""
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    while time.monotonic() < give_up:
        result = check()
        if result:
            return result
        pause.wait(0.1)  # a poll interval, not a guess at how long the sender takes
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONFIG = """
route:
  receiver: tocsin-webhook
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: tocsin-webhook
      matchers: ['via="webhook"']
    - receiver: tocsin-pagerduty
      matchers: ['via="pagerduty"']
receivers:
  - name: tocsin-webhook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
  - name: tocsin-pagerduty
    pagerduty_configs:
      - url: {enqueue_url}
        routing_key: {routing_key}
        send_resolved: true
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Callable[[str, str, str], str]]:
    """Starts the real binary with a config pointing at Tocsin; yields a function that starts it."""
    if not (ALERTMANAGER and AMTOOL):
        pytest.skip(
            "needs the prometheus-alertmanager package (apt install prometheus-alertmanager)"
        )
    processes: list[subprocess.Popen] = []

    def start(webhook_url: str, enqueue_url: str, routing_key: str) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            CONFIG.format(webhook_url=webhook_url, enqueue_url=enqueue_url, routing_key=routing_key)
        )
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("w")
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(url) or process.poll() is not None, "Alertmanager to start")
        assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def _ready(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def amtool_alert(am_url: str, *labels: str, summary: str, end: datetime | None = None) -> None:
    command = [
        AMTOOL,
        "alert",
        "add",
        f"--alertmanager.url={am_url}",
        *labels,
        f"--annotation=summary={summary}",
    ]
    if end is not None:
        command.append(f"--end={end.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def alerts_of(api, **params) -> list[dict]:
    return api.get("/api/v1/alerts", params=params).json()["items"]


def test_alertmanager_webhook_and_pagerduty_receivers(live_server, alertmanager, api_as, admin):  # noqa: F811
    ada = api_as(admin)
    webhook = make_integration(ada, "alertmanager", "storage")
    pagerduty = make_integration(ada, "pagerduty", "storage")
    am = alertmanager(
        f"{live_server.url}/integrations/alertmanager/{webhook['key']}",
        f"{live_server.url}/v2/enqueue",
        pagerduty["key"],
    )

    amtool_alert(
        am,
        "alertname=DiskFull",
        "service=db",
        "severity=critical",
        "via=webhook",
        summary="Disk 95% full on db-1",
    )
    amtool_alert(
        am,
        "alertname=QueueStuck",
        "service=jobs",
        "severity=warning",
        "via=pagerduty",
        summary="Jobs queue is not draining",
    )

    def arrived() -> dict[str, dict]:
        found = {a["title"]: a for a in alerts_of(ada)}
        return found if len(found) == 2 else {}

    found = wait_for(arrived, "both alerts to reach Tocsin")
    by_webhook = found["Disk 95% full on db-1"]
    assert by_webhook["severity"] == "critical" and by_webhook["labels"]["alertname"] == "DiskFull"
    by_pagerduty = next(a for t, a in found.items() if "QueueStuck" in t)
    assert by_pagerduty["title"].startswith("[FIRING:1] QueueStuck")
    assert len(by_pagerduty["dedup_key"]) == 64  # Alertmanager's SHA-256 of the group key

    past = datetime.now(UTC) - timedelta(seconds=5)
    amtool_alert(
        am,
        "alertname=DiskFull",
        "service=db",
        "severity=critical",
        "via=webhook",
        summary="Disk 95% full on db-1",
        end=past,
    )
    amtool_alert(
        am,
        "alertname=QueueStuck",
        "service=jobs",
        "severity=warning",
        "via=pagerduty",
        summary="Jobs queue is not draining",
        end=past,
    )
    wait_for(lambda: len(alerts_of(ada, status="resolved")) == 2, "both alerts to be resolved")
    assert len(alerts_of(ada)) == 2  # resolved in place, nothing duplicated


def test_pdpyras_events_session_triggers_acknowledges_and_resolves(live_server, api_as, admin):  # noqa: F811
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pdpyras announces its own deprecation on import
        import pdpyras

    ada = api_as(admin)
    key = make_integration(ada, "pagerduty", "checkout")["key"]
    session = pdpyras.EventsAPISession(key)
    session.url = live_server.url

    dedup_key = session.trigger(
        "Checkout latency p99 > 2s", "web-3", severity="error", custom_details={"p99_ms": 2400}
    )
    assert len(dedup_key) == 32
    [alert] = alerts_of(ada)
    assert (alert["title"], alert["source"], alert["status"]) == (
        "Checkout latency p99 > 2s",
        "web-3",
        "triggered",
    )
    # Lists leave details out; the alert itself carries them.
    assert ada.get(f"/api/v1/alerts/{alert['id']}").json()["details"] == {"p99_ms": 2400}

    session.acknowledge(dedup_key)
    assert alerts_of(ada)[0]["status"] == "acknowledged"
    session.resolve(dedup_key)
    assert alerts_of(ada)[0]["status"] == "resolved"
    assert session.trigger("Checkout latency p99 > 2s", "web-3", dedup_key=dedup_key) == dedup_key
    assert len(alerts_of(ada)) == 2  # a trigger after resolve opens a new alert

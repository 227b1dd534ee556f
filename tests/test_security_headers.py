"""Every HTML page carries a Content-Security-Policy that refuses inline script (a fresh
nonce per answer for what must stay inline), framing, plugins and <base>; answers over https
carry Strict-Transport-Security. Templates are scanned so that a new page with an inline
script or an on*= handler fails here, not silently in a browser."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from jinja2 import DictLoader

from tests.conftest import browser_login
from tests.live_server import start_live_server
from tests.statuspage_world import build_page
from tocsin.app import create_app
from tocsin.web.templating import render, templates

ROOT = Path(__file__).resolve().parent.parent / "tocsin"
TEMPLATES = sorted(ROOT.glob("**/templates/**/*.html"))
HTML = {"Accept": "text/html"}


def policy(response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return dict(part.strip().partition(" ")[::2] for part in header.split(";"))


def assert_strict(response) -> str:
    """The policy's rules; returns this answer's nonce."""
    rules = policy(response)
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]{16,})'", rules["script-src"])
    assert nonce, rules
    assert "'unsafe-inline'" not in rules["script-src"]
    assert rules["object-src"] == "'none'"
    assert rules["base-uri"] == "'none'"
    assert rules["frame-ancestors"] == "'none'"
    assert rules["form-action"] == "'self'"
    assert rules["default-src"] == "'self'"
    return nonce.group(1)


@pytest.fixture
def logged_in(app) -> Iterator[TestClient]:
    with closing(TestClient(app, headers=HTML)) as browser:
        yield browser


def test_every_html_page_refuses_inline_script_and_framing(app, db, admin, logged_in):
    build_page(db, admin)
    browser_login(logged_in, admin)
    pages = [
        "/login",
        "/incidents",
        "/alerts",
        "/oncall",
        "/settings",
        "/status-pages",
        "/admin/users",
        "/docs",
        "/incidents/INC-404",  # an error page
        "/status/acme",
        "/status/acme",  # the second time from the public page cache
        "/status/acme/subscribe",
    ]
    nonces = set()
    for path in pages:
        answer = logged_in.get(path)
        assert answer.headers["content-type"].startswith("text/html"), path
        nonces.add(assert_strict(answer))
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in answer.headers  # plain http
    assert len(nonces) == len(pages)  # fresh for every answer

    # The API answers JSON: no page policy to carry, the other headers still.
    api = logged_in.get("/api/v1/incidents", headers={"Accept": "application/json"})
    assert "content-security-policy" not in api.headers
    assert api.headers["x-frame-options"] == "DENY"


def test_the_nonce_reaches_templates(app, monkeypatch):
    """A template that must keep a script inline writes `nonce="{{ csp_nonce }}"`."""
    loader = templates.env.loader
    probe = DictLoader({"probe.html": '<script nonce="{{ csp_nonce }}">1</script>'})
    monkeypatch.setattr(loader, "loaders", [probe, *loader.loaders])

    @app.get("/nonce-probe")
    def nonce_probe(request: Request) -> HTMLResponse:
        return render(request, "probe.html")

    with closing(TestClient(app)) as client:
        answer = client.get("/nonce-probe")
    nonce = assert_strict(answer)
    assert answer.text == f'<script nonce="{nonce}">1</script>'


def test_https_answers_carry_strict_transport_security(app, settings, db):
    with closing(TestClient(app, base_url="https://testserver", headers=HTML)) as secure:
        answer = secure.get("/login")
        assert answer.headers["strict-transport-security"] == "max-age=31536000"
        assert secure.get("/healthz").headers["strict-transport-security"]
    # Behind a TLS proxy the base URL says https, whatever the hop to Tocsin speaks.
    https_site = settings.model_copy(update={"base_url": "https://tocsin.example.com"})
    with closing(TestClient(create_app(https_site, db), headers=HTML)) as proxied:
        assert proxied.get("/login").headers["strict-transport-security"]
    quiet = settings.model_copy(update={"base_url": "https://x.example", "hsts_seconds": 0})
    with closing(TestClient(create_app(quiet, db), headers=HTML)) as off:
        assert "strict-transport-security" not in off.get("/login").headers


def fetch_headers(url: str, **headers: str) -> dict[str, str]:
    request = urllib.request.Request(url, headers={"Accept": "text/html", **headers})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return {name.lower(): value for name, value in answer.headers.items()}


def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(settings, db):
    """Uvicorn believes X-Forwarded-Proto only from TOCSIN_TRUSTED_PROXIES (127.0.0.1 by
    default, which is where this test's requests come from)."""
    trusted = start_live_server(settings, db)
    try:
        plain = fetch_headers(f"{trusted.url}/login")
        assert "strict-transport-security" not in plain
        forwarded = fetch_headers(f"{trusted.url}/login", **{"X-Forwarded-Proto": "https"})
        assert forwarded["strict-transport-security"] == "max-age=31536000"
    finally:
        trusted.stop()
    stranger = start_live_server(settings, db, forwarded_allow_ips="192.0.2.1")
    try:
        spoofed = fetch_headers(f"{stranger.url}/login", **{"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in spoofed
    finally:
        stranger.stop()


# ---------------------------------------------------------------- templates stay script-free

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"<[a-zA-Z][^>]*?\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
SCRIPT_URL = re.compile(r"""(href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def test_templates_exist_to_be_scanned():
    assert len(TEMPLATES) > 40


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_runs_inline_script(template: Path):
    """Inline script goes into tocsin/web/static/*.js, or carries nonce="{{ csp_nonce }}";
    the Content-Security-Policy would refuse anything else in the browser, silently."""
    source = template.read_text()
    for attributes in SCRIPT_TAG.findall(source):
        assert re.search(r"\b(src|nonce)\s*=", attributes), (
            f"{template}: <script{attributes}> has neither src= nor nonce=; "
            "move it into tocsin/web/static/*.js"
        )
    handler = HANDLER.search(source)
    assert handler is None, (
        f"{template}: inline event handler in {handler.group(0)!r}; "
        "use addEventListener in a static .js file"
    )
    assert not SCRIPT_URL.search(source), f"{template}: a javascript: URL"


@pytest.mark.parametrize(
    "bad",
    [
        "<script>alert(1)</script>",
        '<script type="module">x()</script>',
        '<button type="button" onclick="go()">Go</button>',
        "<body\n  onload='x()'>",
        '<a href="javascript:history.back()">Back</a>',
    ],
)
def test_the_scan_catches_inline_script(tmp_path, bad):
    sample = tmp_path / "templates" / "bad.html"
    sample.parent.mkdir()
    sample.write_text(f"<div>{bad}</div>")
    with pytest.raises(AssertionError):
        test_no_template_runs_inline_script(sample)


def test_the_scan_lets_script_files_and_nonces_through(tmp_path):
    sample = tmp_path / "templates" / "good.html"
    sample.parent.mkdir()
    sample.write_text(
        '<script src="/static/room.js" defer></script>\n'
        '<script nonce="{{ csp_nonce }}">start()</script>\n'
        '<p data-confirm="Close?">Someone online=yes</p>'
    )
    test_no_template_runs_inline_script(sample)

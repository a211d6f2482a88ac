"""The dashboard of a real ``latepay serve``: sign-in over HTTP, then every page in a real
headless browser (Debian's chromium driven by Playwright), on SQLite and on PostgreSQL.

Screenshots go to ``build/screenshots/`` (or ``LATEPAY_SCREENSHOTS``).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import time
from pathlib import Path

import httpx
import pytest

from latepay.dashboard.session import COOKIE_NAME

pytestmark = pytest.mark.slow

PAGES = ("/", "/risk", "/worklist", "/forecast", "/model")
CHROMIUM = os.environ.get("LATEPAY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("LATEPAY_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build/screenshots")
)


@pytest.fixture(scope="module")
def scored(served):
    """The served database with every open invoice scored, as a nightly run would leave it."""
    served.latepay("score", "--open", "--output", str(served.folder / "open.csv"))
    return served


def sign_in(served, role: str = "viewer", next_path: str = "/") -> httpx.Response:
    return httpx.post(
        f"{served.base_url}/login",
        data={"key": served.keys[role], "next": next_path},
        follow_redirects=False,
    )


def session_cookie(response: httpx.Response) -> str:
    match = re.match(rf"{COOKIE_NAME}=([^;]+)", response.headers["set-cookie"])
    assert match, response.headers
    return match.group(1)


def get_page(served, path: str, cookie: str | None) -> httpx.Response:
    cookies = {COOKIE_NAME: cookie} if cookie else None
    url = f"{served.base_url}{path}"
    return httpx.get(url, cookies=cookies, follow_redirects=False, timeout=60)


def test_pages_send_visitors_without_a_session_to_sign_in(served):
    for path in PAGES:
        response = get_page(served, path, None)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


def test_signing_in_sets_a_signed_http_only_secure_cookie_without_the_key(served):
    response = sign_in(served, next_path="/risk")
    assert response.status_code == 303
    assert response.headers["location"] == "/risk"
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header
    assert "Secure" in header
    assert "SameSite=strict" in header
    assert served.keys["viewer"] not in header


@pytest.mark.parametrize("role", ["viewer", "collector", "admin"])
def test_people_roles_may_open_the_dashboard(served, role):
    cookie = session_cookie(sign_in(served, role))
    assert get_page(served, "/model", cookie).status_code == 200


def test_unknown_and_billing_keys_are_refused(served):
    unknown = httpx.post(f"{served.base_url}/login", data={"key": "lp_nope", "next": "/"})
    assert unknown.status_code == 401
    assert "set-cookie" not in unknown.headers
    assert "Unknown or revoked key" in unknown.text
    billing = sign_in(served, "billing")
    assert billing.status_code == 401
    assert "set-cookie" not in billing.headers


def test_a_tampered_cookie_is_no_session(served):
    cookie = session_cookie(sign_in(served))
    body, signature = cookie.split(".")
    forged = f"{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert get_page(served, "/", forged).status_code == 303


def test_sign_in_never_redirects_off_the_site(served):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = sign_in(served, next_path=target)
        assert response.headers["location"] == "/"


def test_problems_are_explained_on_a_page_not_a_stack_trace(served):
    cookie = session_cookie(sign_in(served))
    missing = get_page(served, "/customers/NO-SUCH-CUSTOMER", cookie)
    assert missing.status_code == 404
    assert "no customer 'NO-SUCH-CUSTOMER'" in html.unescape(missing.text)
    bad_day = get_page(served, "/risk?as_of=yesterday", cookie)
    assert bad_day.status_code == 422
    assert "as_of must be a day as YYYY-MM-DD" in bad_day.text
    assert "Traceback" not in missing.text + bad_day.text


def test_revoking_the_key_ends_its_sessions(served):
    created = served.latepay("keys", "create", "--role", "viewer", "--name", "leaves soon")
    key = re.search(r"(lp_\S+)", created.stdout).group(1)
    key_id = re.search(r"Created key (\d+)", created.stdout).group(1)
    cookie = session_cookie(httpx.post(f"{served.base_url}/login", data={"key": key}))
    assert get_page(served, "/model", cookie).status_code == 200
    served.latepay("keys", "revoke", key_id)
    deadline = time.monotonic() + 10
    while get_page(served, "/model", cookie).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key's session still opens pages"
        time.sleep(0.5)
    assert get_page(served, "/model", cookie).status_code == 303


def test_bundled_assets_are_served_and_pages_load_nothing_from_elsewhere(scored):
    cookie = session_cookie(sign_in(scored))
    for name in ("plotly.min.js", "dashboard.css", "dashboard.js"):
        response = httpx.get(f"{scored.base_url}/static/{name}")
        assert response.status_code == 200
        assert len(response.content) > 500
    assert httpx.get(f"{scored.base_url}/static/../pyproject.toml").status_code == 404
    for path in PAGES:
        page = get_page(scored, path, cookie)
        assert page.status_code == 200, page.text[:500]
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert not re.search(r"""(src|href)=["']https?://""", page.text)


def _top_customer(served) -> str:
    with served.client("viewer") as client:
        worklist = client.get("/v1/worklist", params={"limit": 1}).json()
    return worklist["to_work"][0]["customer_id"]


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is not installed")
def test_every_page_draws_its_charts_with_data_in_a_real_browser(scored):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    backend = "postgresql" if scored.database_url.startswith("postgresql") else "sqlite"
    paths = [*PAGES, f"/customers/{_top_customer(scored)}"]
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console: {message.text}") if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(f"{scored.base_url}/risk")
            assert page.url.endswith("/login?next=/risk")
            page.fill("input[name=key]", scored.keys["viewer"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{scored.base_url}/risk")
            for path in paths:
                page.goto(f"{scored.base_url}{path}")
                # Model health is computed in the background; the page says so until it is.
                deadline = time.monotonic() + 120
                while page.locator("#health-pending").count():
                    assert time.monotonic() < deadline, "model health never arrived"
                    page.wait_for_timeout(1000)
                    page.reload()
                expected = page.locator(".plotly-graph-div").count()
                assert expected > 0, f"{path} has no chart"
                # Plotly draws asynchronously: wait until every chart has drawn a trace.
                page.wait_for_function(
                    """expected => {
                        const charts = document.querySelectorAll('.js-plotly-plot');
                        return charts.length === expected &&
                            Array.from(charts).every(chart => chart.querySelector('g.trace'));
                    }""",
                    arg=expected,
                )
                # And every chart's traces hold points.
                points = page.evaluate(
                    """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
                        chart => chart.data.reduce(
                            (n, trace) => n + Math.max((trace.x || []).length,
                                                       (trace.y || []).length), 0))"""
                )
                assert all(count > 0 for count in points), f"{path}: empty chart {points}"
                name = path.strip("/").split("/")[0] or "overview"
                page.screenshot(path=SCREENSHOTS / f"{backend}-{name}.png", full_page=True)
            # The offline report draws the same charts from a file, with no server.
            report = scored.folder / "weekly.html"
            scored.latepay("report", "--output", str(report))
            page.goto(report.as_uri())
            expected = page.locator(".plotly-graph-div").count()
            assert expected >= 8, "the report lacks the overview, risk or forecast charts"
            page.wait_for_function(
                """expected => Array.from(document.querySelectorAll('.js-plotly-plot'))
                    .filter(chart => chart.querySelector('g.trace')).length === expected""",
                arg=expected,
            )
            page.screenshot(path=SCREENSHOTS / f"{backend}-report.png")
            # The worklist's table sorts in the browser.
            page.goto(f"{scored.base_url}/worklist")
            page.click("#worklist-table th:nth-child(8)")
            p_late = page.eval_on_selector_all(
                "#worklist-table tbody tr td:nth-child(8)",
                "cells => cells.map(c => parseFloat(c.textContent))",
            )
            assert p_late == sorted(p_late)
        finally:
            browser.close()
    assert not problems, problems

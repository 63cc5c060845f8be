"""``GET /dashboard``: the door (login by token → session cookie, CSRF, read-only data routes) over HTTP,
and the page itself in a real headless Chromium (Debian's ``chromium``, driven by Playwright): it signs in,
draws charts with data, receives a live run and opens an execution's waterfall. Screenshots go to
``test-artifacts/dashboard/``."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from tests.conftest import PROJECT_ROOT
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

TOKEN = "admin-token-for-dashboard-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
BACKEND_ID = "backend_dash1"
APP = {"X-Parse-Application-Id": BACKEND_ID}
HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
PAY = export(
    component(
        "pay",
        [request_node(), node("stop", "Workflow Stop", {"errorMessage": "card declined"}), response_node()],
        [conn("req", "receive", "stop", "run")],
    )
)
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "dashboard"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="Dash", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: keep cookies of an IP address host (a browser does; aiohttp does not by default)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}", cookie_jar=jar) as session:
        yield session


async def seed(http: aiohttp.ClientSession, hello: int, pay: int) -> None:
    assert (await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN)).status == 200
    assert (await http.put("/admin/workflows/pay", json=PAY, headers=ADMIN)).status == 200
    for index in range(hello):
        async with http.post("/functions/hello", json={"name": f"N{index}"}, headers=APP) as reply:
            assert reply.status == 200
    for _ in range(pay):
        async with http.post("/functions/pay", json={}, headers=APP) as reply:
            assert reply.status == 500


async def login(http: aiohttp.ClientSession) -> None:
    async with http.post("/dashboard/login", json={"token": TOKEN}) as reply:
        assert reply.status == 200
        cookie = reply.cookies["noodl_dashboard"]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/dashboard"


async def test_without_a_session_the_page_is_the_login_and_the_data_is_refused(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/dashboard") as reply:
        assert reply.status == 200
        text = await reply.text()
        assert 'id="login"' in text
        assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
        assert reply.headers["X-Frame-Options"] == "DENY"
    for path in ("/dashboard/api/metrics", "/dashboard/api/failures", "/dashboard/api/executions/x"):
        async with http.get(path) as reply:
            assert reply.status == 401, path
    async with http.get("/dashboard/api/metrics", headers=ADMIN) as reply:
        assert reply.status == 401  # the data routes take the session, not the token


async def test_login_takes_only_the_right_token_as_json_from_this_origin(http: aiohttp.ClientSession) -> None:
    async with http.post("/dashboard/login", json={"token": "wrong-token-0123456789"}) as reply:
        assert reply.status == 401
        assert "noodl_dashboard" not in reply.cookies
    async with http.post("/dashboard/login", data={"token": TOKEN}) as reply:
        assert reply.status == 400  # a cross-site form can only send this kind of body
    async with http.post(
        "/dashboard/login", json={"token": TOKEN}, headers={"Origin": "http://evil.test"}
    ) as reply:
        assert reply.status == 403
    await login(http)
    async with http.get("/dashboard") as reply:
        page = await reply.text()
    assert 'id="live"' in page
    csrf = page.split('name="csrf" content="')[1].split('"')[0]
    assert len(csrf) >= 32
    async with http.post("/dashboard/logout") as reply:
        assert reply.status == 403  # no CSRF token: the session stays
    async with http.get("/dashboard/api/failures") as reply:
        assert reply.status == 200
    async with http.post("/dashboard/logout", headers={"X-CSRF-Token": csrf}) as reply:
        assert reply.status == 200
    async with http.get("/dashboard/api/failures") as reply:
        assert reply.status == 401


async def test_the_data_routes_answer_metrics_failures_and_an_execution(http: aiohttp.ClientSession) -> None:
    await seed(http, hello=3, pay=2)
    await login(http)
    async with http.get("/dashboard/api/metrics", params={"bucket": "all", "groupBy": "workflowId"}) as reply:
        metrics: dict[str, Any] = await reply.json()
    assert {(s["workflowId"], s["runs"], s["errors"]) for s in metrics["series"]} == {
        ("hello", 3, 0),
        ("pay", 2, 2),
    }
    async with http.get("/dashboard/api/failures") as reply:
        failures = (await reply.json())["executions"]
    assert [f["workflowId"] for f in failures] == ["pay", "pay"]
    async with http.get(f"/dashboard/api/executions/{failures[0]['id']}") as reply:
        execution = await reply.json()
    assert execution["steps"]
    async with http.get("/dashboard/static/vendor/uPlot.iife.min.js") as reply:
        assert reply.status == 200
        assert reply.content_type == "text/javascript"
    async with http.get("/dashboard/static/vendor/uPlot.LICENSE") as reply:
        assert "MIT License" in await reply.text()
    for path in (
        "/dashboard/static/../routes.py",
        "/dashboard/static/%2e%2e/sessions.py",
        "/dashboard/static/nope.js",
    ):
        async with http.get(path) as reply:
            assert reply.status == 404, path


async def test_the_dashboard_in_a_real_browser(backend: Backend, http: aiohttp.ClientSession) -> None:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed and scripts/browser-test-deps could not install it")
    from playwright.async_api import async_playwright, expect

    await seed(http, hello=5, pay=2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{backend.port}"
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on(
                "request", lambda r: None if r.url.startswith(base) else problems.append(f"went out: {r.url}")
            )

            await page.goto(f"{base}/dashboard")
            await page.fill("#token", "not-the-token-0123456789")
            await page.click("#signin")
            await expect(page.locator("#error")).to_have_text("That token is not right.")
            problems.clear()  # the refused login's 401 is logged by the browser as a console error
            await page.fill("#token", TOKEN)
            await page.click("#signin")
            await expect(page.locator("#connection")).to_have_text("live", timeout=10_000)

            # Charts drawn by uPlot over 24 hourly points, with the runs of both workflows.
            for chart in ("#chart-runs", "#chart-errors", "#chart-p95"):
                await expect(page.locator(f"{chart} canvas")).to_have_count(1)
                await expect(page.locator(chart)).to_have_attribute("data-points", "24")
            await expect(page.locator('#workflows tr[data-workflow="hello"] td.runs')).to_have_text("5")
            await expect(page.locator('#workflows tr[data-workflow="pay"] td.runs')).to_have_text("2")
            await expect(page.locator("#failures tbody tr")).to_have_count(2)
            await page.screenshot(path=str(ARTIFACTS / "1-charts.png"), full_page=True)

            # A run made now arrives through the live feed.
            async with http.post("/functions/hello", json={"name": "Live"}, headers=APP) as reply:
                assert reply.status == 200
                execution_id = reply.headers.get("X-Execution-Id")
            live_row = page.locator("#latest-runs tbody tr").first
            await expect(live_row).to_contain_text("hello", timeout=5_000)
            if execution_id:
                await expect(page.locator(f'#latest-runs tr[data-execution="{execution_id}"]')).to_have_count(
                    1
                )
            await expect(page.locator("#live-chart canvas")).to_have_count(1)
            await page.screenshot(path=str(ARTIFACTS / "2-live-run.png"), full_page=True)

            # A failure's waterfall: one bar per step, the failed step marked.
            await page.locator("#failures tbody tr").first.click()
            await expect(page.locator("#timeline")).to_be_visible()
            await expect(page.locator("#timeline-summary")).to_contain_text("card declined")
            steps = page.locator("#waterfall .step")
            assert await steps.count() >= 2
            await expect(page.locator("#waterfall .step.error")).not_to_have_count(0)
            await page.screenshot(path=str(ARTIFACTS / "3-timeline.png"), full_page=True)

            # Signing out ends the session: the login page again.
            await page.click("#logout")
            await expect(page.locator("#login")).to_be_visible()
        finally:
            await browser.close()
    assert problems == []
    assert all(
        (ARTIFACTS / name).stat().st_size > 10_000
        for name in ("1-charts.png", "2-live-run.png", "3-timeline.png")
    )

"""The live page and the results page in a real browser: headless Chromium from the system's packages (Debian's
`chromium`, installed by .ci/run when missing; nothing is downloaded at run time) driven by Playwright. Each test
module starts its own Solara server (`viz.py`, as `make viz` does) on a free port of 127.0.0.1 and stops it, also
when a test fails. The browser may reach nothing but that server: any other request is refused and fails the test.
Screenshots go to each test's temporary folder."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import playwright.sync_api as playwright   # the viz extra, which make test installs: missing, the tests fail
import pytest

ROOT = Path(__file__).resolve().parents[1]
RENDER_INTERVAL = 9   # viz.RENDER_INTERVAL
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000   # a loaded 2-core machine draws the page's charts slowly
pytestmark = [pytest.mark.slow]



@pytest.fixture(scope="module", autouse=True)
def _chromium():
    """A missing Chromium fails these tests (not a skip: they are the page's only browser check), and only them:
    the check runs when they do, not when the module is collected, so the quick tier (-m "not slow") is clean on
    a machine without it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver (.ci/run does it)",
                    pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`solara run viz.py` on a free port (make viz's flags); yields its base URL; ends its process group."""
    port = _free_port()
    log = tmp_path_factory.mktemp("viz-server") / "server.log"
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false", "PYTHONUNBUFFERED": "1"}
    env.pop("PERP_VIZ_SWEEP", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "solara", "run", "viz.py", "--host", "127.0.0.1", "--port",
                                 str(port), "--production", "--no-open", "--no-check-version"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the page's server did not start: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def page(tmp_path):
    """A fresh headless Chromium page that may reach 127.0.0.1 only; yields (page, problems): the page errors,
    failed responses and refused outside requests seen, which the test checks are none."""
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "chromium-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_ARGS,
                                                   viewport={"width": 1500, "height": 2300})
        try:
            def route(r):
                if re.match(r"^(https?|wss?)://127\.0\.0\.1[:/]", r.request.url) or r.request.url.startswith("data:"):
                    r.continue_()
                else:
                    problems.append(f"outside request refused: {r.request.url}")
                    r.abort()
            ctx.route("**/*", route)
            pg = ctx.new_page()
            pg.set_default_timeout(TIMEOUT_MS)
            pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            pg.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            yield pg, problems
        finally:
            ctx.close()


def _minute(pg) -> int:
    return int(re.search(r"minute (\d+) of", pg.locator(".run-status").inner_text()).group(1))


def _charts(pg) -> list[str]:
    return pg.locator(".chart img").evaluate_all("els => els.map(e => e.src)")


def _errors_shown(pg) -> list[str]:
    return [t for t in pg.get_by_role("alert").all_inner_texts() if "error" in t.lower()]


def test_the_live_page_steps_plays_checks_a_bad_value_and_resets_with_a_new_design(server, page, tmp_path):
    pg, problems = page
    pg.goto(server + "/")
    pg.get_by_role("button", name="Step", exact=True).wait_for()
    pg.wait_for_function("() => document.querySelectorAll('.chart img').length === 7", timeout=TIMEOUT_MS)
    assert _minute(pg) == 0
    before = _charts(pg)
    fund = pg.locator(".control-venues-hyperliquid-insurance_fund_usd input")
    # a bad value: the command line's one-line message, and the run's settings stay as they were
    fund.fill("-5")
    fund.press("Enter")
    error = pg.locator(".settings-error")
    error.wait_for()
    assert "venues.hyperliquid.insurance_fund_usd: expected a finite amount >= 0" in error.inner_text()
    assert pg.locator(".run-command").inner_text() == \
        "This run: python run.py scenario=oct10 population=small seed=0 steps=1440"
    # a good one: Reset re-runs with it
    fund.fill("5000000")
    fund.press("Enter")
    error.wait_for(state="detached")
    pg.get_by_text("Reset (left) runs:").wait_for()
    pg.get_by_role("button", name="Reset", exact=True).click()
    pg.wait_for_function("() => document.querySelector('.run-command').innerText.endsWith("
                         "'venues.hyperliquid.insurance_fund_usd=5000000')")
    assert pg.get_by_text("Reset (left) runs:").count() == 0
    assert _minute(pg) == 0
    # Step (the render interval: 9 minutes a click) and Play: every chart is drawn again
    for n in (RENDER_INTERVAL, 2 * RENDER_INTERVAL):
        pg.get_by_role("button", name="Step", exact=True).click()
        pg.wait_for_function(f"() => /minute {n} of/.test(document.querySelector('.run-status').innerText)")
    pg.wait_for_function("(old) => { const s = [...document.querySelectorAll('.chart img')].map(e => e.src); "
                         "return s.length === 7 && s.every((v, i) => v !== old[i]); }", arg=before)
    after = _charts(pg)
    assert all(a != b for a, b in zip(after, before)) and len(after) == 7
    pg.get_by_role("button", name="▶", exact=True).click()
    pg.wait_for_function("() => +/minute (\\d+) of/.exec(document.querySelector('.run-status').innerText)[1] >= 40")
    # the page's rate: shown once two drawings have been made in play
    pg.wait_for_function("() => /minutes\\/s/.test(document.querySelector('.run-status').innerText)",
                         timeout=TIMEOUT_MS)
    pg.get_by_role("button", name="❚❚", exact=True).click()
    assert "minutes/s" in pg.locator(".run-status").inner_text()    # the step rate
    assert pg.get_by_text("The largest ADL fills").count() == 1
    assert not _errors_shown(pg)
    pg.screenshot(path=str(tmp_path / "live_page.png"), full_page=True)
    assert (tmp_path / "live_page.png").stat().st_size > 10_000
    assert not problems, problems


def test_the_results_page_shows_a_sweeps_numbers_with_their_intervals(server, page, tmp_path):
    from tests.test_viz import small_sweep
    sweep = small_sweep(tmp_path / "sweep")
    pg, problems = page
    pg.goto(server + "/results")
    folder = pg.get_by_label("sweep folder (holding summary.parquet)")
    folder.fill(str(sweep))
    folder.press("Enter")
    table = pg.locator(".results-table")
    table.wait_for()
    text = table.inner_text()
    assert "totals.liquidated_notional_usd" in text and "t 95% clipped to [0, inf)" in text
    assert pg.get_by_text("9 jobs").count() == 1 and pg.locator("img").count() >= 1
    # the paired base: differences from max_leverage = 5, seed by seed
    pg.locator(".v-select").filter(has_text="paired base").click()
    pg.get_by_role("option", name="5", exact=True).click()
    pg.get_by_text("n_pairs").wait_for()
    assert "diff_mean" in table.inner_text()
    assert not _errors_shown(pg)
    pg.screenshot(path=str(tmp_path / "results_page.png"), full_page=True)
    assert not problems, problems

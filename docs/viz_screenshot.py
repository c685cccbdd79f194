"""The README's screenshot of the live page mid-crash: `python docs/viz_screenshot.py [OUT.png]` starts the page's
server (as `make viz` does) on a free port, plays the default scenario at population=small into the shock
(oct10: it starts at minute 180, the fundamentals' low is at 225), pauses at minute MINUTE or after, shows the shock's hours
and saves a screenshot (default docs/figures/viz_mid_crash.png). Headless Chromium from the system's packages."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.test_viz_browser import CHROMIUM, CHROMIUM_ARGS, _free_port  # noqa: E402

MINUTE = 230


def main(out: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "solara", "run", "viz.py", "--host", "127.0.0.1", "--port",
                             str(port), "--production", "--no-open", "--no-check-version"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                       args=CHROMIUM_ARGS, viewport={"width": 1500, "height": 2150})
            ctx.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
            pg = ctx.new_page()
            pg.set_default_timeout(600_000)
            pg.goto(url)
            pg.get_by_role("button", name="▶", exact=True).click()
            pg.wait_for_function(f"() => +/minute (\\d+) of/.exec(document.querySelector('.run-status').innerText)[1]"
                                 f" >= {MINUTE}", polling=200)
            pg.get_by_role("button", name="❚❚", exact=True).click()
            pg.get_by_role("button", name="the shock").click()
            pg.wait_for_timeout(4000)
            minute = re.search(r"minute (\d+)", pg.locator(".run-status").inner_text()).group(1)
            pg.screenshot(path=str(out), full_page=True)
            ctx.close()
        print(f"{out} (minute {minute})")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "figures" / "viz_mid_crash.png")

"""`batchtop serve --demo` in a real browser: headless Chromium (the system's, never a
downloaded one) driven by Playwright opens the URL the server printed, sees the demo's
batch ids arrive in the terminal widget, presses keys and sees the results screen.

The xterm.js terminal textual-serve uses draws on a canvas and keeps its instance private,
so what the terminal shows is read from the websocket frames it is fed (escape sequences
removed). Set BATCHTOP_SERVE_SCREENSHOTS=DIR to keep the README's screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None
)
try:
    import playwright.sync_api as pw
except ImportError:  # pragma: no cover (the skip says so)
    pw = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium installed (Debian: apt-get install chromium); .ci/run installs it",
    ),
    pytest.mark.skipif(
        pw is None, reason="playwright is not installed (pip install playwright); .ci/run does"
    ),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)"
)
# in full: the detail panel
BATCH_ID = re.compile(r"\b(?:msgbatch_[A-Za-z0-9]{20,}|batch_[0-9a-f]{20,})")
SHORT_ID = re.compile(r"\b01[A-Za-z0-9]{6,}…[A-Za-z0-9]{3}\b")  # the table's ID column


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["BATCHTOP_HOME"] = str(tmp_path / "home")
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchtop.tui.cli", "serve", "--demo", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: bool(first), timeout=60, what="the URL line")
        yield Served(proc, first[0].strip())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pump_until(page: Any, cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for `cond` while Playwright delivers its events (its sync API dispatches them
    only inside its own calls: a plain thread wait would never see a frame arrive)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        page.wait_for_timeout(50)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_url_is_local_and_its_token_is_needed(served: Served) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{20,}", served.url)
    base = served.url.split("?", 1)[0]
    assert _status(base) == 403  # no token, no session
    assert _status(base + "?token=wrong") == 403
    assert _status(base + "static/js/textual.js") == 200


def test_the_dashboard_in_a_browser(served: Served) -> None:
    assert pw is not None
    seen: list[str] = []
    lock = threading.Lock()

    def on_frame(payload: str | bytes) -> None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        with lock:
            seen.append(_ESCAPES.sub("", text))

    def shown(since: int = 0) -> str:
        with lock:
            return "".join(seen[since:])

    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            page.goto(served.url)
            assert "token" not in page.url  # spent, and out of the address bar
            # the demo seeds its batches, then the dashboard lists them
            pump_until(page, lambda: len(set(SHORT_ID.findall(shown()))) >= 6, 90, "the batch ids")
            pump_until(page, lambda: bool(BATCH_ID.search(shown())), 30, "a full id")
            assert "article summaries" in shown()  # the demo's job
            page.locator(".xterm-screen").click()
            mark = len(seen)
            # the oldest batch (the demo's new arrivals, of either provider, go on top)
            page.keyboard.press("G")
            page.keyboard.press("Enter")  # open its results
            pump_until(page, lambda: "Retry failed" in shown(mark), 60, "the results screen")
            page.keyboard.press("Escape")
            shots = os.environ.get("BATCHTOP_SERVE_SCREENSHOTS")
            if shots:
                _screenshots(page, Path(shots), seen, shown)
        finally:
            browser.close()
        # a second browser cannot use the spent token
        other = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            response = other.new_page().goto(served.url)
            assert response is not None
            assert response.status == 403
        finally:
            other.close()


def _screenshots(page: Any, out: Path, seen: list[str], shown: Callable[[int], str]) -> None:
    """The dashboard, then the statistics of the demo's oldest batch (results fetched)."""
    mark = len(seen)
    pump_until(page, lambda: "Import" in shown(mark), 30, "the dashboard again")
    page.wait_for_timeout(1500)  # xterm.js paints on its next animation frame
    page.screenshot(path=str(out / "serve-dashboard.png"))
    mark = len(seen)
    page.keyboard.press("G")  # the oldest batch: ended, with expired requests
    page.keyboard.press("Enter")  # its results viewer downloads its results
    pump_until(page, lambda: "expired" in shown(mark) and "Retry failed" in shown(mark), 60, "r")
    page.keyboard.press("v")
    pump_until(page, lambda: "Top requests" in shown(mark), 60, "the statistics view")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "serve-statistics.png"))

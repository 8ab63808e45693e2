"""The main journey in a real terminal: `batchtop --demo` under tmux, driven with keys.

dashboard → filter to a batch → open its results → search → export → check the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

BATCHTOP = [sys.executable, "-m", "batchtop.tui.cli"]


class Tmux:
    """A detached tmux session running one command, read with capture-pane."""

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        size: tuple[int, int] = (160, 48),
    ) -> None:
        columns, rows = str(size[0]), str(size[1])
        self.name = f"batchtop-e2e-{uuid.uuid4().hex[:8]}"
        self.socket = f"batchtop-e2e-{uuid.uuid4().hex[:8]}"
        shell = " ".join(_quote(part) for part in command)
        tmux = ["tmux", "-L", self.socket, "-f", "/dev/null"]
        # Size the window before the app starts: a detached session can otherwise fall back
        # to tmux's 80x24 default, and the app would lay itself out for that.
        subprocess.run(
            [
                *tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                columns,
                "-y",
                rows,
                "-c",
                str(cwd),
                "sleep 3600",
            ],
            check=True,
            env=env,
            timeout=30,
        )
        subprocess.run(
            [*tmux, "resize-window", "-t", self.name, "-x", columns, "-y", rows],
            check=True,
            timeout=30,
        )
        subprocess.run(
            [
                *tmux,
                "respawn-pane",
                "-k",
                "-t",
                self.name,
                "-c",
                str(cwd),
                f"{shell}; echo BATCHTOP-EXITED-$?; sleep 600",
            ],
            check=True,
            env=env,
            timeout=30,
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def styled_line(self, text: str) -> str:
        """The input line showing exactly `text`, with its colour escapes (shows the cursor)."""
        plain = self.screen().splitlines()
        styled = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-e", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.splitlines()
        for line, colours in zip(plain, styled, strict=False):
            if line.strip().strip("▊▎▌▐│┃").strip() == text:
                return colours
        raise AssertionError(f"no input line shows {text!r}")

    def submit_input(self, text: str) -> None:
        """Press enter in a focused input and wait until it lets go of the focus.

        tmux delivers keys faster than any typist: a key sent right after enter could still
        reach the input. The input's line is drawn differently (no cursor) once blurred.
        """
        focused = self.styled_line(text)
        self.keys("Enter")
        self.wait_for(lambda _: self.styled_line(text) != focused, f"{text!r} to lose focus")

    def press_until(self, key: str, predicate: Callable[[str], bool], what: str) -> None:
        """Press `key` until the screen shows its effect.

        Right after a screen is dismissed Textual can drop a key that arrives during the
        switch; a person never types that fast, tmux does. So a key whose effect is not
        seen within a few seconds is pressed again (at most three times).
        """
        for _ in range(3):
            self.keys(key)
            try:
                self.wait_for(predicate, what, timeout=5)
                return
            except AssertionError:
                continue
        self.wait_for(predicate, what, timeout=5)

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = ["tmux", "-L", self.socket, "send-keys", "-t", self.name]
        if literal:
            args.append("-l")
        subprocess.run([*args, *keys], check=True, timeout=30)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            if "BATCHTOP-EXITED-" in screen or "Traceback" in screen:
                break
            pause.wait(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")

    def wait_text(self, text: str, timeout: float = 60) -> str:
        return self.wait_for(lambda s: text in s, repr(text), timeout)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False, timeout=30)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


def terminal_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """batchtop's environment in a test's terminal: no ANTHROPIC_* (the demo needs no key),
    no COLUMNS/LINES (they would override the terminal's real size: shutil.get_terminal_size
    reads them first), an xterm, private XDG dirs under `tmp_path`; then `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANTHROPIC_") and k not in {"COLUMNS", "LINES"}
    }
    env.update(
        TERM="xterm-256color",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        **extra,
    )
    return env


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Tmux]]:
    sessions: list[Tmux] = []
    env = terminal_env(tmp_path)

    def start(args: list[str], size: tuple[int, int] = (160, 48)) -> Tmux:
        session = Tmux([*BATCHTOP, *args], tmp_path, env, size)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.kill()


def test_demo_journey(terminal: Callable[[list[str]], Tmux], tmp_path: Path) -> None:
    term = terminal(["--demo"])
    screen = term.wait_text("translations-fr", timeout=90)
    assert "DEMO" in screen
    assert "nothing is sent to Anthropic" in screen
    assert "article summaries" in screen

    # Filter the dashboard down to one batch, then open its results.
    term.keys("/")
    term.wait_text("filter by label or id")
    term.keys("translations", literal=True)
    term.wait_for(lambda s: "article summaries" not in s, "the filter to hide other batches")
    term.submit_input("translations")  # back to the table
    term.keys("Enter")  # open the results
    screen = term.wait_text("fr-000", timeout=60)
    assert "errored 4" in screen

    # Full-text search narrows the rows: 15 of the 120 prompts are about beekeeping.
    term.keys("/")
    term.wait_text("search output and input text")
    term.keys("beekeeping", literal=True)
    term.wait_text("of 15", timeout=30)
    term.submit_input("beekeeping")

    # Export the filtered rows with the dialog's defaults (JSONL next to where we started).
    term.keys("e")
    term.wait_text("Export results", timeout=30)
    term.keys("C-s")
    term.wait_text("Export finished", timeout=60)

    [exported] = list(tmp_path.glob("*.jsonl"))
    lines = exported.read_text(encoding="utf-8").splitlines()
    # The demo's prompts cycle through eight topics; beekeeping is the second.
    expected = {f"fr-{i:03d}" for i in range(120) if i % 8 == 1}
    assert {json.loads(line)["custom_id"] for line in lines} == expected
    assert len(lines) == len(expected)

    # esc goes back to the dashboard, esc again clears its filter, q leaves cleanly.
    term.wait_for(lambda s: "Export results" not in s, "the export dialog to close")
    term.press_until("Escape", lambda s: "batches ·" in s, "the dashboard")
    term.press_until(
        "Escape",
        lambda s: "filter:" not in s and "article summaries" in s,  # (the demo keeps adding)
        "the filter to clear",
    )
    term.press_until("q", lambda s: "BATCHTOP-EXITED-0" in s, "batchtop to exit")


def test_demo_at_80x24_shows_help_quit_and_every_view(terminal: Callable[..., Tmux]) -> None:
    """Issue 14.9: the README's demo command in a real 80×24 terminal keeps `q Quit` and
    `? Help` in the footer and every view in the title."""
    term = terminal(["--demo"], size=(80, 24))
    screen = term.wait_text("article summaries", timeout=90)
    lines = screen.splitlines()
    footer = next(line for line in reversed(lines) if line.strip())
    assert "q Quit" in footer
    assert "? Help" in footer
    assert all(f"{n} " in screen for n in "12345")
    assert "5 Jobs" in screen
    term.press_until("q", lambda s: "BATCHTOP-EXITED-0" in s, "batchtop to exit")

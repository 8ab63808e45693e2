"""Desktop notifications: through the terminal (OSC 9 / OSC 777) where it is known to show
them, else `notify-send` where it is installed and a desktop session is there; nothing
otherwise. Text is cleaned of control characters (and of the `;` that separates OSC 777's
fields) so a batch's label can never inject escape sequences into the terminal.

The terminal write and the command runner are passed in, so the TUI can write through its
driver, the CLI to its stdout, and tests to a recorder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

Method = Literal["osc9", "osc777", "notify-send"]

# Terminals that show OSC 9 (iTerm2's "growl" notification) or OSC 777 (rxvt's notify).
_OSC9_PROGRAMS = {"iTerm.app", "ghostty"}
_OSC777_PROGRAMS = {"WezTerm"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
MAX_TEXT = 240
NOTIFY_SEND_TIMEOUT_S = 5.0


def clean(text: str, limit: int = MAX_TEXT) -> str:
    value = _CONTROL.sub(" ", text).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def terminal_method(env: Mapping[str, str]) -> Method | None:
    """The OSC the terminal in `env` shows as a desktop notification, if any is known."""
    program = env.get("TERM_PROGRAM", "")
    term = env.get("TERM", "")
    if program in _OSC9_PROGRAMS or term == "xterm-ghostty" or env.get("ConEmuANSI") == "ON":
        return "osc9"
    if program in _OSC777_PROGRAMS or term.startswith(("foot", "rxvt-unicode")):
        return "osc777"
    return None


def osc(method: Literal["osc9", "osc777"], title: str, body: str, *, tmux: bool = False) -> str:
    """The escape sequence for one notification (wrapped for tmux's passthrough)."""
    title, body = clean(title), clean(body)
    if method == "osc9":
        seq = f"\x1b]9;{title}: {body}\x07"
    else:
        seq = f"\x1b]777;notify;{title.replace(';', ',')};{body.replace(';', ',')}\x07"
    if tmux:
        seq = "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return seq


Runner = Callable[[Sequence[str]], object]


def _run(argv: Sequence[str]) -> object:
    return subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=NOTIFY_SEND_TIMEOUT_S,
        check=False,
    )


class Notifier:
    """Sends desktop notifications the best way this environment allows (or not at all)."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        write: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
        which: Callable[[str], str | None] = shutil.which,
        run: Runner = _run,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self._write = write
        self._run = run
        self.method: Method | None = None
        self._notify_send: str | None = None
        if not enabled:
            return
        method = terminal_method(self.env)
        if method is not None and write is not None:
            self.method = method
            return
        desktop = any(k in self.env for k in ("DISPLAY", "WAYLAND_DISPLAY"))
        self._notify_send = which("notify-send") if desktop else None
        if self._notify_send:
            self.method = "notify-send"

    def send(self, title: str, body: str, *, urgent: bool = False) -> Method | None:
        """Show one notification; returns how (None: not shown). Never raises."""
        try:
            method = self.method
            if (method == "osc9" or method == "osc777") and self._write is not None:
                self._write(osc(method, title, body, tmux="TMUX" in self.env))
                return method
            if self.method == "notify-send" and self._notify_send:
                argv = [self._notify_send, "--app-name=batchtop"]
                if urgent:
                    argv.append("--urgency=critical")
                self._run([*argv, "--", clean(title), clean(body)])
                return self.method
        except (OSError, subprocess.SubprocessError):
            return None
        return None

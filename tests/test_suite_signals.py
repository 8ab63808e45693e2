"""The suite's own set-up: a SIGINT a test sends reaches the process it started, even when
the suite was started with SIGINT ignored (a background job of a script)."""

from __future__ import annotations

import signal
import subprocess
import sys

from signals_support import handle_sigint_for_children

_REPORT = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"


def test_a_process_started_by_a_suite_running_in_the_background_gets_ctrl_c() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `pytest … &` starts
    try:
        handle_sigint_for_children()
        child = subprocess.run(
            [sys.executable, "-c", _REPORT], capture_output=True, text=True, check=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert child.stdout.strip() == "True", child.stdout

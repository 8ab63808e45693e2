"""Ctrl-C reaches the processes tests start, however the suite itself was started.

A suite started as a background job of a shell without job control (`pytest … &` in a
script) runs with SIGINT ignored, and an ignored signal stays ignored in every process it
starts: a `batchtop` subprocess then never sees the SIGINT a test sends it (it lists on and
exits 0 where the test expects 130). A handled signal is reset to its default at `exec`, so
while this process handles SIGINT its children start as from an interactive shell.
"""

from __future__ import annotations

import signal


def handle_sigint_for_children() -> None:
    """If SIGINT is ignored here, handle it as Python does by default (KeyboardInterrupt)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

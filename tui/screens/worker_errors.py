"""One place where a failure in a screen's work becomes a notification.

Workers run with `exit_on_error=False`, so a bug or an unforeseen error (a full disk, a
corrupt store) must not vanish silently either: the user sees one line, the app lives on.
A submit that failed says why, for as long as it takes to read (`report_submit_failure`).
"""

from __future__ import annotations

from typing import Any

from batchtop.tui.format import reading_seconds
from batchtop.tui.safe_text import clean
from textual.markup import escape
from textual.screen import Screen
from textual.worker import Worker, WorkerState

QUIET_GROUPS = frozenset({"results-prefetch"})
"""Best-effort work whose failure the user never needs to hear about."""


def report_worker_error(screen: Screen[Any], event: Worker.StateChanged) -> bool:
    """Notify about a failed worker; True if it was one (the caller may reset its state)."""
    if event.state is not WorkerState.ERROR:
        return False
    worker = event.worker
    if worker.group in QUIET_GROUPS:
        return True
    error = worker.error
    message = str(error) if error is not None else "unknown error"
    screen.notify(
        escape(clean(message, keep_newlines=False)[:300]),
        title=f"{type(error).__name__ if error else 'Error'} in {worker.group}",
        severity="error",
        timeout=10,
    )
    return True


def report_submit_failure(screen: Screen[Any], error: Exception) -> None:
    """A failed submit's notification (the compose and import screens): what the core
    said, up long enough to read (an unresolved create explains until when it waits)."""
    said = clean(str(error))
    screen.notify(
        escape(said), title="Submit failed", severity="error", timeout=reading_seconds(said)
    )

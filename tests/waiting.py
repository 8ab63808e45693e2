"""Waiting on conditions, never on the clock: every test waits through these helpers.

Each one polls its condition and fails with a message once its deadline passes; the short
pause between polls is an event wait (threads) or a yield to the loop (async), not a sleep
that stands in for synchronisation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

_PAUSE = threading.Event()  # never set: .wait(t) pauses a thread between polls
POLL_S = 0.005


def try_wait(cond: Callable[[], bool], timeout: float) -> bool:
    """Block this thread until `cond()` holds; False if `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        _PAUSE.wait(POLL_S)
    return True


def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Block this thread until `cond()` holds; fail after `timeout` seconds."""
    if not try_wait(cond, timeout):
        raise AssertionError(f"{what} not reached within {timeout:g} s")


async def async_wait(cond: Callable[[], bool], limit_s: float = 30.0, what: str = "cond") -> None:
    """Let the event loop run until `cond()` holds; fail after `limit_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {limit_s:g} s")
        await asyncio.sleep(POLL_S)  # lets the loop run the work being waited for

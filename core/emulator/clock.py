"""Clocks the emulator reads its time from: manual (tests) or scaled real time (demos)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything with `now()` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class ManualClock:
    """Time that only moves when told to; thread-safe so tests can drive a server thread."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("ManualClock cannot go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            if when < self._now:
                raise ValueError("ManualClock cannot go backwards")
            self._now = when


class ScaledClock:
    """Real time sped up: `scale` emulated seconds pass per real second."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._start = start or datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.scale)


def to_us(when: datetime) -> int:
    """Microseconds since the epoch: exact integers keep SQLite comparisons exact."""
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def rfc3339(us: int | None) -> str | None:
    """The real API's timestamp format: microseconds and an explicit +00:00 offset."""
    if us is None:
        return None
    return from_us(us).isoformat(timespec="microseconds")

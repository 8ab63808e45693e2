"""Per-endpoint request counters, read by tests to count what a client really sent."""

from __future__ import annotations

import threading
from collections import Counter


class EmulatorStats:
    """Thread-safe counts of (endpoint, HTTP status); endpoint names match route names."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()
        self._arrived: Counter[str] = Counter()
        self._lock = threading.Lock()

    def arrive(self, endpoint: str) -> None:
        with self._lock:
            self._arrived[endpoint] += 1

    def arrivals(self, endpoint: str) -> int:
        """Requests received so far, answered or not (`count` sees only answered ones)."""
        with self._lock:
            return self._arrived[endpoint]

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._counts[(endpoint, status)] += 1

    def count(self, endpoint: str | None = None, status: int | None = None) -> int:
        """Requests seen, optionally only for one endpoint and/or one status."""
        with self._lock:
            return sum(
                n
                for (ep, st), n in self._counts.items()
                if (endpoint is None or ep == endpoint) and (status is None or st == status)
            )

    @property
    def total(self) -> int:
        return self.count()

    def snapshot(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._arrived.clear()

    def __repr__(self) -> str:
        return f"EmulatorStats({self.snapshot()!r})"

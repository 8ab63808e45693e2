"""Shared bench plumbing: statistics, the result record, interleaving, subprocesses, data.

Machines here are shared and noisy, so a figure is never one timing: subject and baseline
run alternately (the order rotates every repetition), each pair gives a ratio, and the
median ratio is reported with its min and max.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
BENCH_KEY = "bench-key"

# --- statistics -------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); exact for the small samples used here."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Measure:
    """One row of the results table.

    `value` is the figure judged against the target (a median ratio, a p95, a count...);
    `lo`/`hi` its spread over repetitions; `detail` the raw figures behind it.
    """

    case: str
    name: str
    value: float
    unit: str
    target: str
    met: bool | None
    lo: float | None = None
    hi: float | None = None
    detail: str = ""
    notes: list[str] = field(default_factory=list)

    def figure(self) -> str:
        fmt = _fmt(self.value, self.unit)
        if self.lo is not None and self.hi is not None:
            return f"{fmt} ({_fmt(self.lo, self.unit)}–{_fmt(self.hi, self.unit)})"
        return fmt

    def verdict(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "MISSED")


def _fmt(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "—"
    if unit == "×":
        return f"{value:.2f}×"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "calls":
        return f"{value:,.0f}"
    return f"{value:.3g} {unit}".strip()


def ratio_measure(
    case: str,
    name: str,
    subject: Sequence[float],
    baseline: Sequence[float],
    *,
    target: str,
    limit: float,
    higher_is_better: bool = False,
    invert: bool = False,
    labels: tuple[str, str] = ("batchtop", "baseline"),
) -> Measure:
    """Pairwise ratios subject/baseline (or baseline/subject with `invert`) over repetitions."""
    pairs = list(zip(subject, baseline, strict=True))
    ratios = [(b / s if invert else s / b) for s, b in pairs if s > 0 and b > 0]
    value = median(ratios)
    met = value >= limit if higher_is_better else value <= limit
    detail = (
        f"{labels[0]} {secs(median(subject))} vs {labels[1]} {secs(median(baseline))}"
        f" (medians of {len(pairs)})"
    )
    return Measure(
        case,
        name,
        value,
        "×",
        target,
        met,
        min(ratios) if ratios else None,
        max(ratios) if ratios else None,
        detail,
    )


def secs(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def interleave(reps: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every callable `reps` times, alternating them and rotating the order each time.

    Each callable returns its own measured duration in seconds (so untimed setup stays out).
    """
    names = list(runs)
    out: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].append(runs[name]())
    return out


@contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t: ...` then `t[0]` holds the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


# --- subprocesses ---------------------------------------------------------------------------


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child Python: the repo importable, batchtop's files under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / ".dev")])
    env["BATCHTOP_HOME"] = str(home)
    # Bytecode is cached (outside the tree) as an installed package's would be: without it,
    # every start compiled batchtop from source while Textual loaded from its .pyc files.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    env.update(extra)
    return env


def run_child(
    args: Sequence[str], env: dict[str, str], *, timeout: float = 600.0
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"child {args[:2]} failed ({proc.returncode}):\n" + "\n".join(tail))
    return proc


# --- the emulator in its own process -------------------------------------------------------


class EmulatorProcess:
    """`python -m bench.emu_proc` on loopback: the server never competes for our GIL."""

    def __init__(self, home: Path, **config: Any) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.emu_proc", orjson.dumps(config).decode()],
            env=child_env(home),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.close()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.base_url = line

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def http_client(base_url: str) -> Any:
    import httpx2

    return httpx2.Client(
        base_url=base_url,
        timeout=600,
        headers={"x-api-key": BENCH_KEY, "anthropic-version": "2023-06-01"},
    )


def create_batch(base_url: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """POST one batch with raw HTTP (not the SDK: setup should not measure request building)."""
    with http_client(base_url) as http:
        resp = http.post(
            "/v1/messages/batches",
            content=orjson.dumps({"requests": requests}),
            headers={"content-type": "application/json"},
        )
        resp.raise_for_status()
        batch: dict[str, Any] = resp.json()
        return batch


def retrieve_batch(base_url: str, batch_id: str) -> dict[str, Any]:
    with http_client(base_url) as http:
        resp = http.get(f"/v1/messages/batches/{batch_id}")
        resp.raise_for_status()
        batch: dict[str, Any] = resp.json()
        return batch


# --- synthetic data ------------------------------------------------------------------------

_WORDS_TEXT = (
    "review product arrived quickly works described manual clearer battery charger cable "
    "screen bright colours sound speaker quiet loud delivery late early package damaged "
    "refund support friendly helpful slow fast price cheap expensive quality excellent poor "
    "design elegant sturdy fragile weight light heavy size compact bulky setup easy hard "
    "software update crash stable feature missing useful warranty replacement order again"
)
WORDS = tuple(_WORDS_TEXT.split())
RARE = [f"zq{i:04d}x" for i in range(2000)]  # rare tokens: each appears in ~1 in 2,000 prompts


def prompt(i: int, chars: int, rng: random.Random) -> str:
    words = [f"Summarise review {i}:"]
    size = len(words[0])
    if i % 50 == 0:
        words.append(RARE[(i // 50) % len(RARE)])
    while size < chars:
        w = rng.choice(WORDS)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)[:chars]


def requests(
    n: int, *, chars: int = 120, model: str = "claude-haiku-4-5", seed: int = 7
) -> Iterator[dict[str, Any]]:
    """`n` native batch requests (`{custom_id, params}`) with varied, searchable prompts."""
    rng = random.Random(seed)
    for i in range(n):
        yield {
            "custom_id": f"req-{i:06d}",
            "params": {
                "model": model,
                "max_tokens": 256,
                "messages": [{"role": "user", "content": prompt(i, chars, rng)}],
            },
        }


# Outcome mix for results: most succeed; a few error, expire or are canceled.
def outcome_rules() -> list[dict[str, Any]]:
    return [
        {
            "pattern": "7$",
            "outcome": "errored",
            "error_type": "overloaded_error",
            "error_message": "Overloaded",
        },
        {
            "pattern": "13$",
            "outcome": "errored",
            "error_type": "invalid_request_error",
            "error_message": "max_tokens: too large",
        },
        {"pattern": "99$", "outcome": "expired"},
        {"pattern": "421$", "outcome": "canceled"},
    ]


def remote_batches(n: int, now: datetime, *, active_every: int = 10) -> list[Any]:
    """`n` synthetic RemoteBatch objects (one in `active_every` still in progress)."""
    from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts

    out = []
    for i in range(n):
        created = now - timedelta(minutes=3 * i + 1)
        active = i % active_every == 0
        total = 100 + (i * 37) % 5000
        if active:
            done = (i * 13) % total
            counts = RequestCounts(processing=total - done, succeeded=done)
            status = ProcessingStatus.IN_PROGRESS
            ended = None
        else:
            errored = (i * 7) % 11
            counts = RequestCounts(succeeded=total - errored, errored=errored)
            status = ProcessingStatus.ENDED
            ended = created + timedelta(minutes=20 + i % 300)
        out.append(
            RemoteBatch(
                id=f"msgbatch_{i:024d}",
                processing_status=status,
                request_counts=counts,
                created_at=created,
                expires_at=created + timedelta(hours=24),
                ended_at=ended,
                results_url=None if active else f"https://example.invalid/{i}/results",
            )
        )
    return out


def utcnow() -> datetime:
    return datetime.now(UTC)


def machine() -> dict[str, str]:
    import platform

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpus": str(os.cpu_count()),
    }

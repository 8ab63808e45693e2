"""Several `batchtop results` processes download one batch into one data directory at once.

One of them downloads (it holds the batch's download lock), the others say on stderr that
another batchtop is downloading it, wait, and export what it indexed: every process exits 0
with the same data, the batch is fetched and indexed once. A holder killed with -9 releases
the lock (the kernel drops it): the process waiting for it goes on and completes.

The emulator's `results_latency_s` pauses the results stream after its first piece, so the
holder is mid-download for as long as the test needs (no timing, no sleeps); the test then
releases it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
from batchtop.core.emulator import EmulatorHandle
from reliability_support import CLI
from test_rel_kill9 import Workspace, ended_batch, make_emulator
from waiting import wait_until

WAITING = "Another batchtop is downloading the results of"
DONE_BY_ANOTHER = "were already downloaded by another batchtop process"


class Run:
    """One `batchtop results BID --out -` process, its stdout and stderr in files."""

    def __init__(self, ws: Workspace, bid: str, name: str) -> None:
        self.out = ws.tmp / f"{name}.out"
        self.err = ws.tmp / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [*CLI, "results", bid, "--format", "jsonl", "--out", "-"],
                cwd=ws.cwd,
                env=ws.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def says_waiting(self) -> bool:
        return WAITING in self.stderr()

    def finish(self) -> int:
        return self.proc.wait(timeout=180)


def indexed_rows(ws: Workspace, bid: str) -> tuple[int, int]:
    """(rows in the results table, `results_indexed`) of the batch, read from the store."""
    (rows,) = ws.query(f"SELECT count(*) FROM results WHERE batch_id = '{bid}'")[0]
    listed = json.loads(ws.cli("ls", "--json", "--offline").stdout)
    (recorded,) = [row["results_indexed"] for row in listed if row["id"] == bid]
    return int(rows), int(recorded)


def temp_bytes(results_dir: Path, bid: str) -> int:
    """The bytes in the batch's download temp files now (whatever they are named)."""
    total = 0
    for temp in results_dir.glob(f".{bid}.jsonl*.part"):
        with contextlib.suppress(FileNotFoundError):
            total += temp.stat().st_size
    return total


def held(emulator: EmulatorHandle) -> Callable[[], bool]:
    return lambda: emulator.server.held_results >= 1


async def test_three_processes_download_one_batch_once(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = make_emulator(emulator_factory, rate=None)
    ws = Workspace(tmp_path, emulator)
    n = 20_000
    bid = await ended_batch(ws, emulator, n)
    emulator.set_faults(results_latency_s=600.0)  # until released below

    runs = [Run(ws, bid, f"p{i}") for i in range(3)]
    # Each process is streaming (paused by the emulator), waiting, or done: one holder
    # mid-download and two waiting for it, never three streams of the same results.
    wait_until(
        lambda: (
            emulator.server.held_results
            + sum(r.says_waiting() or r.proc.poll() is not None for r in runs)
            >= 3
        ),
        90,
        "each process streaming, waiting or done",
    )
    assert emulator.server.held_results == 1, [r.stderr() for r in runs]
    emulator.call(emulator.server.release_slow_results)
    codes = [r.finish() for r in runs]

    assert codes == [0, 0, 0], [r.stderr()[-1500:] for r in runs]
    for r in runs:
        assert "Traceback" not in r.stderr(), r.stderr()
        assert "unexpected" not in r.stderr(), r.stderr()
    assert sum(r.says_waiting() for r in runs) == 2, [r.stderr() for r in runs]
    # the two that waited say whose download it was, and only the holder counts it as its own
    assert sum(DONE_BY_ANOTHER in r.stderr() for r in runs) == 2, [r.stderr() for r in runs]
    assert sum(f"downloaded {n:,} results of" in r.stderr() for r in runs) == 1
    assert emulator.stats.arrivals("results") == 1  # downloaded by one process only
    outs = [r.out.read_bytes() for r in runs]
    assert outs[0] == outs[1] == outs[2]
    lines = outs[0].splitlines()
    assert len(lines) == n
    assert len({orjson.loads(line)["custom_id"] for line in lines}) == n
    assert indexed_rows(ws, bid) == (n, n)
    results_dir = ws.data / "results"
    assert sorted(p.name for p in results_dir.iterdir()) == [f"{bid}.jsonl"]


async def test_the_process_that_waited_says_another_downloaded_the_results(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = make_emulator(emulator_factory, rate=None)
    ws = Workspace(tmp_path, emulator)
    n = 50
    bid = await ended_batch(ws, emulator, n)
    emulator.set_faults(results_latency_s=600.0)  # until released below

    holder = Run(ws, bid, "holder")
    wait_until(held(emulator), 90, "the holder's results stream under way")
    waiter = Run(ws, bid, "waiter")
    wait_until(
        lambda: waiter.says_waiting() or waiter.proc.poll() is not None,
        90,
        "the second process waiting or done",
    )
    assert waiter.says_waiting(), waiter.stderr()
    emulator.call(emulator.server.release_slow_results)
    assert holder.finish() == 0, holder.stderr()
    assert waiter.finish() == 0, waiter.stderr()

    assert f"downloaded 50 results of {bid}" in holder.stderr()
    assert DONE_BY_ANOTHER not in holder.stderr()
    said = waiter.stderr()
    assert f"The results of {bid} {DONE_BY_ANOTHER} (50 results)" in said, said
    assert "downloaded 50 results" not in said  # it downloaded nothing itself
    assert emulator.stats.arrivals("results") == 1
    assert waiter.out.read_bytes() == holder.out.read_bytes()
    assert len(waiter.out.read_bytes().splitlines()) == n


async def test_holder_killed_mid_download_does_not_block_the_next(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = make_emulator(emulator_factory, rate=None)
    ws = Workspace(tmp_path, emulator)
    n = 5_000
    bid = await ended_batch(ws, emulator, n)
    emulator.set_faults(results_latency_s=600.0)
    results_dir = ws.data / "results"

    holder = Run(ws, bid, "holder")
    wait_until(held(emulator), 90, "the holder's results stream under way")
    wait_until(lambda: temp_bytes(results_dir, bid) > 0, 60, "the holder's temp file")
    waiter = Run(ws, bid, "waiter")
    wait_until(
        lambda: (
            waiter.says_waiting()
            or emulator.server.held_results >= 2
            or waiter.proc.poll() is not None
        ),
        90,
        "the second process waiting, streaming or done",
    )
    assert waiter.says_waiting(), waiter.stderr()
    emulator.clear_faults()  # the waiter's stream will run; the holder's stays paused
    holder.proc.send_signal(signal.SIGKILL)
    assert holder.finish() == -signal.SIGKILL
    emulator.call(emulator.server.release_slow_results)  # the dead holder's stream ends
    wait_until(lambda: waiter.proc.poll() is not None, 60, "the waiter done after the kill")
    assert waiter.finish() == 0, waiter.stderr()

    lines = waiter.out.read_bytes().splitlines()
    assert len(lines) == n
    assert len({orjson.loads(line)["custom_id"] for line in lines}) == n
    assert indexed_rows(ws, bid) == (n, n)
    # the killed holder's temp file and lock file are gone once the next download is done
    assert sorted(p.name for p in results_dir.iterdir()) == [f"{bid}.jsonl"]
    assert emulator.stats.arrivals("results") == 2

"""kill -9 at chosen points of a real `batchtop` process; restart; nothing lost or doubled.

The emulator runs in this process (a thread, loopback port); `batchtop` runs as a
subprocess pointed at it. A seed chooses each kill point, which is reached by waiting on a
condition (intents in the store, requests seen by the emulator, a temp file on disk) with a
deadline, never by sleeping. After SIGKILL the test restarts `batchtop` (`reconcile`, `ls`,
the same command again) and checks:

- submit: every batch on the server is known locally with the right job part, no part was
  created twice, an intent is left open only when its batch never reached the server;
- results download: nothing partial under the final names (only hidden temp names), the
  re-run downloads everything and leaves no temp file behind;
- export: the destination either does not exist or is complete, never a partial file.

The emulator's ManualClock starts at the real time so the CLI's real clock and the server
agree about when intents and batches were made.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle, ManualClock
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import (
    cli_env,
    run_cli,
    server_custom_ids,
    soak_full,
    start_cli,
    store_file,
    store_rows,
    unresolved_exit,
)
from results_support import results_of
from waiting import try_wait

PART_SIZE = 4
PARTS = 5
SUBMIT_SEEDS_SHORT = (5, 1, 7)  # frozen, intent, created (see the seed → kind choice)
SUBMIT_SEEDS_FULL = tuple(range(1, 13))


def seeds(short: tuple[int, ...], full: tuple[int, ...]) -> list[Any]:
    extra = [s for s in full if s not in short]
    return [pytest.param(s, id=f"seed{s}") for s in short] + [
        pytest.param(s, id=f"seed{s}", marks=pytest.mark.soak) for s in extra
    ]


def skip_unless_full(seed: int, short: tuple[int, ...], config: pytest.Config) -> None:
    if seed not in short and not soak_full(config):
        pytest.skip("more kill seeds: run with -m soak or BATCHTOP_SOAK=full")


class Workspace:
    """One user's batchtop home (XDG dirs) talking to one emulator."""

    def __init__(self, tmp: Path, emulator: EmulatorHandle, **settings: Any) -> None:
        self.tmp = tmp
        self.emulator = emulator
        self.env = cli_env(tmp, base_url=emulator.base_url)
        self.data = tmp / "xdg" / "data" / "batchtop"
        config = tmp / "xdg" / "config" / "batchtop"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(
            "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
        )
        self.cwd = tmp / "work"
        self.cwd.mkdir()

    @property
    def store_path(self) -> Path:
        return store_file(self.data)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return store_rows(self.store_path, sql)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.cwd, env=self.env)

    def kill_when(
        self,
        proc: subprocess.Popen[str],
        cond: Callable[[], bool],
        limit_s: float,
        before_kill: Callable[[], object] | None = None,
    ) -> str:
        """SIGKILL `proc` as soon as `cond()` holds; returns what happened."""
        reached = try_wait(lambda: cond() or proc.poll() is not None, limit_s)
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"batchtop ended before the kill point: {out[-800:]} {err[-800:]}")
        assert reached, "kill point not reached in time"
        if before_kill is not None:
            proc.send_signal(signal.SIGSTOP)  # frozen: its sockets stay open, nothing moves
            before_kill()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        return "killed"


def server_batch_count(emulator: EmulatorHandle) -> int:
    """Batches the server has committed (read on its own thread)."""
    db: Any = emulator.server.state._db
    return int(emulator.call(lambda: db.execute("SELECT count(*) FROM batches").fetchone()[0]))


def make_emulator(emulator_factory: Callable[..., EmulatorHandle], **kw: Any) -> EmulatorHandle:
    start = datetime.now(UTC).replace(microsecond=0)
    return emulator_factory(clock=ManualClock(start), **kw)


# --- 1. a multi-part submit ------------------------------------------------------------------


def write_input(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            req = {
                "custom_id": f"r-{i:03d}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": f"kill test {i}"}],
                },
            }
            fh.write(json.dumps(req) + "\n")


def part_of(custom_id: str) -> int:
    return int(custom_id.split("-")[1]) // PART_SIZE + 1


@pytest.mark.parametrize("seed", seeds(SUBMIT_SEEDS_SHORT, SUBMIT_SEEDS_FULL))
def test_kill_during_multipart_submit(
    seed: int,
    emulator_factory: Callable[..., EmulatorHandle],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    skip_unless_full(seed, SUBMIT_SEEDS_SHORT, request.config)
    rng = random.Random(seed)
    emulator = make_emulator(emulator_factory, rate=None)
    # Kill points: right after intent k is journaled (its create in flight); as soon as the
    # server holds batch k (the client may not have recorded it yet); or "frozen": SIGSTOP
    # right after intent k, let the server finish the create it received, then SIGKILL —
    # the batch exists and the journal only has the open intent (a response lost to a crash).
    kind = rng.choice(["intent", "created", "frozen"])
    k = rng.randint(1 if kind == "created" else 2, PARTS - 1)
    emulator.set_faults(latency_s=0.4)  # a slow API: each create takes a while (a kill
    # point polled from another process must not miss the window on a loaded machine)
    ws = Workspace(tmp_path, emulator, max_requests_per_batch=PART_SIZE)
    write_input(ws.cwd / "input.jsonl", PART_SIZE * PARTS)

    proc = start_cli("submit", "input.jsonl", "--json", cwd=ws.cwd, env=ws.env)
    if kind == "created":
        ws.kill_when(proc, lambda: server_batch_count(emulator) >= k, limit_s=60)
    elif kind == "intent":
        ws.kill_when(proc, lambda: len(ws.query("SELECT id FROM intents")) >= k, limit_s=60)
    else:
        ws.kill_when(
            proc,
            lambda: len(ws.query("SELECT id FROM intents")) >= k,
            limit_s=60,
            before_kill=lambda: try_wait(lambda: server_batch_count(emulator) >= k, 2.0),
        )
    intents_at_kill = len(ws.query("SELECT id FROM intents"))
    # an in-flight create still lands on the server after the client died: let it finish
    try_wait(lambda: emulator.stats.count("create") >= intents_at_kill, 3.0)
    emulator.clear_faults()

    first = ws.cli("reconcile", "--json")
    assert first.returncode == unresolved_exit(json.loads(first.stdout)), first.stderr
    assert "Traceback" not in first.stderr
    # The ids this file names prove nothing after a crash (another client may send the same
    # ones): a part's one ended look-alike is reported with `reconcile --adopt ID`, which the
    # user, who knows these are theirs, runs.
    for entry in json.loads(first.stdout):
        if entry.get("state") == "unknown" and "reconcile --adopt" in (entry["message"] or ""):
            (bid,) = entry["candidates"]
            took = ws.cli("reconcile", "--adopt", bid, "--json")
            assert took.returncode == unresolved_exit(json.loads(took.stdout)), took.stderr
    if seed == SUBMIT_SEEDS_SHORT[0] or soak_full(request.config):
        again = ws.cli("reconcile", "--json")  # idempotent: nothing more to find
        assert again.returncode == unresolved_exit(json.loads(again.stdout)), again.stderr
        # (the job itself may be reported as partly submitted: that is not an intent)
        assert [e for e in json.loads(again.stdout) if "part" in e] == []
    listed = ws.cli("ls", "--json", "--offline")
    assert listed.returncode == 0, listed.stderr
    local = {row["id"]: row for row in json.loads(listed.stdout)}

    on_server = server_custom_ids(emulator)
    parts_on_server: dict[int, list[str]] = {}
    for bid, cids in on_server.items():
        parts = {part_of(c) for c in cids}
        assert len(parts) == 1, cids
        parts_on_server.setdefault(parts.pop(), []).append(bid)
    doubled = {p: ids for p, ids in parts_on_server.items() if len(ids) > 1}
    assert not doubled, f"parts submitted twice: {doubled}"
    for part, (bid,) in parts_on_server.items():
        assert bid in local, f"server batch {bid} (part {part}) unknown locally after restart"
        assert local[bid]["job_part"] == part
        assert local[bid]["job_id"] is not None
    intents = ws.query("SELECT part, state, batch_id FROM intents")
    for part, state, batch_id in intents:
        if state == "pending":
            assert part not in parts_on_server, f"part {part} exists but its intent is open"
        elif batch_id is not None:
            assert parts_on_server.get(part) == [batch_id]
    print(
        f"\nkill during submit seed={seed}: after {kind} {k}; intents={len(intents)}"
        f" server batches={len(on_server)} reconciled={len(json.loads(first.stdout))}"
    )


# --- 2. a results download --------------------------------------------------------------------


async def ended_batch(ws: Workspace, emulator: EmulatorHandle, n: int) -> str:
    """A batch submitted by batchtop (in-process, on the workspace's store) that has ended."""
    store = Store.open(store_file(ws.data, emulator.base_url, emulator.server.workspace_id))
    service = BatchService(
        store,
        Settings(),
        api_key="test-key",
        base_url=emulator.base_url,
        now=emulator.clock.now,
    )
    service.auto_download = False
    try:
        reqs = [
            {
                "custom_id": f"d-{i:05d}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": f"download {i}"}],
                },
            }
            for i in range(n)
        ]
        outcome = await service.submit_requests(reqs, name="download")
        emulator.advance(3600)
        await service.refresh()
        (bid,) = outcome.batch_ids
        view = service.batch(bid)
        assert view is not None
        assert view.remote.processing_status is ProcessingStatus.ENDED
        return bid
    finally:
        await service.close()
        store.close()


def assert_complete_jsonl(path: Path, lines: int) -> None:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    rows = data.splitlines()
    assert len(rows) == lines
    for row in rows:
        orjson.loads(row)


DOWNLOAD_SEEDS_SHORT = (1,)
DOWNLOAD_SEEDS_FULL = (1, 2, 3, 4)


@pytest.mark.parametrize("seed", seeds(DOWNLOAD_SEEDS_SHORT, DOWNLOAD_SEEDS_FULL))
async def test_kill_during_results_download(
    seed: int,
    emulator_factory: Callable[..., EmulatorHandle],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    skip_unless_full(seed, DOWNLOAD_SEEDS_SHORT, request.config)
    rng = random.Random(seed)
    emulator = make_emulator(emulator_factory, rate=None)
    ws = Workspace(tmp_path, emulator)
    n = 1500
    bid = await ended_batch(ws, emulator, n)
    # every stream is cut half-way: the CLI retries with backoff, and dies in between
    emulator.set_faults(cut_results_after_bytes=300_000)
    results_dir = ws.data / "results"
    final = results_dir / f"{bid}.jsonl"
    k = rng.randint(1, 3)
    args = ("results", bid, "--format", "jsonl", "--out", "out.jsonl")
    proc = start_cli(*args, cwd=ws.cwd, env=ws.env)
    temp = results_dir / f".{bid}.jsonl.{proc.pid}.part"  # named per process
    if rng.random() < 0.5:
        ws.kill_when(proc, lambda: emulator.stats.count("results") >= k, limit_s=60)
        point = f"after cut stream {k}"
    else:
        ws.kill_when(proc, lambda: temp.exists() and temp.stat().st_size > 0, limit_s=60)
        point = "while the temp file grows"
    assert not final.exists(), "a partial download is visible under the final name"
    assert not (ws.cwd / "out.jsonl").exists()
    leftovers = [p.name for p in results_dir.iterdir()] if results_dir.exists() else []
    assert all(name.startswith(".") and name.endswith((".part", ".lock")) for name in leftovers), (
        leftovers
    )

    emulator.clear_faults()
    rerun = ws.cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert_complete_jsonl(final, n)
    assert_complete_jsonl(ws.cwd / "out.jsonl", n)
    assert sorted(p.name for p in results_dir.iterdir()) == [final.name]
    assert (final.stat().st_mode & 0o777) == 0o600
    listed = json.loads(ws.cli("ls", "--json", "--offline").stdout)
    assert [row["results_indexed"] for row in listed if row["id"] == bid] == [n]
    print(f"\nkill during download seed={seed}: {point}; temp leftovers={leftovers}")


# --- 3. an export -----------------------------------------------------------------------------


def seed_indexed_batch(ws: Workspace, batch_id: str, n: int) -> None:
    """An ended batch with `n` indexed results (about 1 KB of text each), no network."""
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    # the store of the emulator's workspace: the batch exists nowhere else
    where = store_file(ws.data, ws.emulator.base_url, ws.emulator.server.workspace_id)
    store = Store.open(where)
    try:
        remote = RemoteBatch(
            id=batch_id,
            processing_status=ProcessingStatus.ENDED,
            request_counts=RequestCounts(succeeded=n),
            created_at=t0,
            expires_at=t0 + timedelta(hours=24),
            ended_at=t0 + timedelta(hours=1),
            results_url=f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results",
        )
        store.upsert_remote([remote], t0 + timedelta(hours=1))
        path = ws.tmp / "results.jsonl"
        body = "lorem ipsum dolor sit amet " * 40
        with path.open("wb") as fh:
            for i in range(n):
                line = {
                    "custom_id": f"e-{i:06d}",
                    "result": {
                        "type": "succeeded",
                        "message": {
                            "id": f"msg_{i}",
                            "type": "message",
                            "role": "assistant",
                            "model": "claude-haiku-4-5-20251001",
                            "content": [{"type": "text", "text": f"{i}: {body}"}],
                            "stop_reason": "end_turn",
                            "stop_sequence": None,
                            "usage": {"input_tokens": 10, "output_tokens": 200},
                        },
                    },
                }
                fh.write(orjson.dumps(line) + b"\n")
        assert results_of(store).ingest_results(batch_id, path) == n
        results_of(store).set_results_file(batch_id, path, downloaded=True)
    finally:
        store.close()


EXPORT_SEEDS_SHORT = (1,)
EXPORT_SEEDS_FULL = (1, 2, 3, 4)


@pytest.mark.parametrize("seed", seeds(EXPORT_SEEDS_SHORT, EXPORT_SEEDS_FULL))
def test_kill_during_export(
    seed: int,
    emulator_factory: Callable[..., EmulatorHandle],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    skip_unless_full(seed, EXPORT_SEEDS_SHORT, request.config)
    rng = random.Random(seed)
    emulator = make_emulator(emulator_factory)
    ws = Workspace(tmp_path, emulator)
    bid = "msgbatch_01KILLEXPORT" + "0" * 8
    n = 15_000
    seed_indexed_batch(ws, bid, n)
    fmt = ("jsonl", "csv", "markdown")[seed % 3]
    out = ws.cwd / f"out.{fmt}"
    proc = start_cli("export", bid, "--format", fmt, "--out", out.name, cwd=ws.cwd, env=ws.env)

    def temp_growing() -> bool:
        temps = [p for p in ws.cwd.iterdir() if p.name.startswith(f".{out.name}.")]
        return any(p.stat().st_size > rng.randint(1, 4) * 100_000 for p in temps)

    try:
        ws.kill_when(proc, temp_growing, limit_s=60)
        killed = True
    except AssertionError as exc:  # the export finished before the kill point: also fine
        if "ended before the kill point" not in str(exc):
            raise
        killed = False
    names = sorted(p.name for p in ws.cwd.iterdir())
    if killed:
        assert out.name not in names, "a partial export is visible under the final name"
    assert all(name == out.name or name.startswith(f".{out.name}.") for name in names), names

    rerun = ws.cli("export", bid, "--format", fmt, "--out", out.name, "--json", "--force")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["rows"] == n
    text = out.read_text(encoding="utf-8")
    assert f"e-{n - 1:06d}" in text
    if fmt == "jsonl":
        assert len(text.splitlines()) == n
    assert (out.stat().st_mode & 0o777) == 0o600
    print(f"\nkill during export seed={seed}: format={fmt} killed={killed} leftovers={names}")

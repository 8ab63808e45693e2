"""kill -9 of a real `batchtop submit --provider openai` (upload + create per part, journaled)
at chosen points; restart with `reconcile`; nothing lost, doubled or left unreported.

As `test_rel_kill9.py` for Message Batches, against the OpenAI emulator (in this process,
a loopback port) through the official `openai` SDK inside `batchtop`. Kill points: right
after intent k is journaled (its upload or create in flight), as soon as the server holds
batch k, as soon as it holds upload k (before its create), or frozen (SIGSTOP after intent
k, the server finishes what it got, then SIGKILL). A second data directory submits to the
same project meanwhile. After the restart: every batch on the server is known locally with
its job part, no part has two batches, an intent stays open only when its part has no
batch, an input file that no batch uses is reported by `reconcile` of its own data
directory (and gone after its `--delete-orphans`; the other's leaves it alone), and the
other data directory adopted nothing of the first. A results download killed while its
temp file grows, or between two cut downloads, leaves nothing under a final name, and the
same command run again writes every row once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from data_factory import openai_chat, write_jsonl
from reliability_support import (
    cli_env,
    run_cli,
    server_custom_ids,
    server_input_file_ids,
    server_input_files,
    start_cli,
    store_file,
    store_rows,
    unresolved_exit,
)
from waiting import try_wait

pytest.importorskip("openai")
# Runs once the OpenAI emulator (core/emulator/openai_api) is in.
pytest.importorskip("batchtop.core.emulator.openai_api")

PART_SIZE = 4
PARTS = 5
# Kill points (kind, k): right after intent k is journaled (its upload or create in flight);
# as soon as the server holds batch k; as soon as the server holds upload k (between its
# upload and its create); "frozen": SIGSTOP right after intent k, the server finishes what
# it received, then SIGKILL (a batch whose answer was lost, or a file no batch uses).
KILLS = [
    pytest.param("intent", 4, id="intent4"),
    pytest.param("created", 2, id="created2"),
    pytest.param("uploaded", 3, id="uploaded3"),
    pytest.param("frozen", 3, id="frozen3"),
]


def server_parts(emulator: EmulatorHandle, prefix: str = "r") -> dict[int, list[str]]:
    """Each part of one home's input (custom_ids `<prefix>-NNN`) → the server's batches
    holding it."""
    out: dict[int, list[str]] = {}
    for bid, cids in server_custom_ids(emulator).items():
        if not cids or not cids[0].startswith(f"{prefix}-"):
            continue
        parts = {int(cid.split("-")[1]) // PART_SIZE + 1 for cid in cids}
        assert len(parts) == 1, parts
        out.setdefault(parts.pop(), []).append(bid)
    return out


class Home:
    """One data directory (XDG dirs) submitting to the OpenAI emulator; custom_ids
    `<prefix>-NNN` say whose a batch is."""

    def __init__(self, tmp: Path, emulator: EmulatorHandle, prefix: str) -> None:
        self.prefix = prefix
        self.env = cli_env(
            tmp, api_key=None, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=emulator.base_url
        )
        self.data = tmp / "xdg" / "data" / "batchtop"
        config = tmp / "xdg" / "config" / "batchtop"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(
            f'provider = "openai"\nmax_requests_per_batch = {PART_SIZE}\n'
        )
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        write_jsonl(
            self.cwd / "input.jsonl",
            (
                openai_chat(f"{prefix}-{i:03d}", f"kill {prefix} {i}")
                for i in range(PART_SIZE * PARTS)
            ),
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [
            row
            for path in self.data.glob("stores/*/*/batchtop.sqlite3")
            for row in store_rows(path, sql)
        ]

    def intents(self) -> int:
        return len(self.query("SELECT id FROM intents"))

    def uploads(self, emulator: EmulatorHandle) -> set[str]:
        """The input files on the server named after this home's jobs."""
        jobs = {job for (job,) in self.query("SELECT id FROM jobs")}
        return {
            fid
            for fid, name in server_input_files(emulator).items()
            if any(name.startswith(f"batchtop-{job}_") for job in jobs)
        }

    def submit(self) -> subprocess.Popen[str]:
        return start_cli("submit", "input.jsonl", "--yes", "--json", cwd=self.cwd, env=self.env)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.cwd, env=self.env)


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """The OpenAI emulator on a loopback port, its clock starting at the real time (the
    CLI's clock and the server's agree about when intents and batches were made)."""
    config = EmulatorConfig(rate=None, start_delay_s=0.0, counters="live", seed=1234)
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with run_in_thread(config, clock, api="openai") as handle:
        yield handle


@pytest.mark.parametrize(("kind", "k"), KILLS)
def test_kill_during_openai_submit(
    kind: str, k: int, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """kill -9 of one home's submit while a second home (another data directory) submits a
    same-sized file to the same project; then reconcile, --delete-orphans and the same
    submit again in the first, reconcile in the second."""
    emulator.set_faults(latency_s=0.15)  # a slow API: each upload and create takes a while
    alpha = Home(tmp_path / "alpha", emulator, "r")
    bravo = Home(tmp_path / "bravo", emulator, "q")
    proc = alpha.submit()
    other = bravo.submit()
    conds: dict[str, Callable[[], bool]] = {
        "intent": lambda: alpha.intents() >= k,
        "frozen": lambda: alpha.intents() >= k,
        "created": lambda: len(server_parts(emulator, "r")) >= k,
        "uploaded": lambda: len(alpha.uploads(emulator)) >= k,
    }
    reached = try_wait(lambda: conds[kind]() or proc.poll() is not None, 90)
    assert proc.poll() is None, proc.communicate()
    assert reached, "kill point not reached in time"
    if kind == "frozen":
        proc.send_signal(signal.SIGSTOP)  # its sockets stay open, nothing moves
        try_wait(lambda: len(server_parts(emulator, "r")) >= k, 2.0)
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, (out[-800:], err[-800:])
    try_wait(lambda: False, 0.5)  # an in-flight create may still land after the client died
    emulator.clear_faults()

    first = alpha.cli("reconcile", "--json")
    assert first.returncode == unresolved_exit(json.loads(first.stdout)), first.stderr
    assert "Traceback" not in first.stderr
    listed = alpha.cli("ls", "--json", "--offline")
    assert listed.returncode == 0, listed.stderr
    local = {row["id"]: row for row in json.loads(listed.stdout)}
    on_server = server_parts(emulator, "r")
    doubled = {p: ids for p, ids in on_server.items() if len(ids) > 1}
    assert not doubled, f"parts submitted twice: {doubled}"
    for part, (bid,) in on_server.items():
        assert bid in local, f"server batch {bid} (part {part}) unknown locally after restart"
        assert local[bid]["job_part"] == part
        assert local[bid]["provider"] == "openai"
    # the other home's batches are listed, never adopted into this home's job
    for ids in server_parts(emulator, "q").values():
        assert all(local.get(bid, {}).get("job_id") is None for bid in ids)
    conn = sqlite3.connect(store_file(alpha.data))
    rows = conn.execute("SELECT part, state, batch_id FROM intents").fetchall()
    conn.close()
    for part, state, batch_id in rows:
        if state == "pending":
            assert part not in on_server, f"part {part} exists but its intent is open"
        elif batch_id is not None:
            assert on_server.get(part) == [batch_id]
    # Files uploaded for a create that never happened are reported, then deleted when asked;
    # the other home's files are neither.
    used = server_input_file_ids(emulator)
    mine = alpha.uploads(emulator)
    theirs = bravo.uploads(emulator)
    orphaned = ("orphaned file", "too recent to delete")
    reported = {e["file_id"] for e in json.loads(first.stdout) if e.get("state") in orphaned}
    assert reported == mine - used
    # the other home's reconcile --delete-orphans leaves this home's files alone
    settled = bravo.cli("reconcile", "--delete-orphans", "--json")
    assert settled.returncode == 0, settled.stderr
    assert [e for e in json.loads(settled.stdout) if "part" in e or "file_id" in e] == []
    assert alpha.uploads(emulator) == mine
    # seconds old: another process of this home may be between an upload and its create
    kept = alpha.cli("reconcile", "--delete-orphans", "--json")
    assert kept.returncode == unresolved_exit(json.loads(kept.stdout)), kept.stderr
    recent = {e["file_id"] for e in json.loads(kept.stdout) if e.get("state") in orphaned}
    assert all(e["state"] != "deleted" for e in json.loads(kept.stdout)), kept.stdout
    assert recent == reported
    assert alpha.uploads(emulator) == mine
    with (alpha.data.parent.parent / "config" / "batchtop" / "config.toml").open("a") as fh:
        fh.write("orphan_min_age_s = 0\n")  # old enough now
    cleaned = alpha.cli("reconcile", "--delete-orphans", "--json")
    assert cleaned.returncode == unresolved_exit(json.loads(cleaned.stdout)), cleaned.stderr
    assert alpha.uploads(emulator) == mine & used
    assert bravo.uploads(emulator) == theirs
    # The same submit again sends only the parts never sent: no part twice; a part whose
    # create is unresolved (its answer lost) is not resent until reconcile can tell.
    again = alpha.cli("submit", "input.jsonl", "--yes", "--json")
    assert "Traceback" not in again.stderr
    final = server_parts(emulator, "r")
    assert all(len(ids) == 1 for ids in final.values()), final
    conn = sqlite3.connect(store_file(alpha.data))
    still_open = {p for (p,) in conn.execute("SELECT part FROM intents WHERE state = 'pending'")}
    conn.close()
    assert set(range(1, PARTS + 1)) - set(final) <= still_open
    # the other home: every part once, its journal closed, nothing of the first adopted
    theirs_final = server_parts(emulator, "q")
    assert sorted(theirs_final) == list(range(1, PARTS + 1))
    assert all(len(ids) == 1 for ids in theirs_final.values())
    bravo_rows = json.loads(bravo.cli("ls", "--json", "--offline").stdout)
    adopted = {row["id"] for row in bravo_rows if row["job_id"] is not None}
    assert adopted == {bid for ids in theirs_final.values() for bid in ids}
    print(
        f"\nopenai kill {kind} {k}: server parts {sorted(on_server)}; orphans reported"
        f" {len(reported)}; open after the resubmit {sorted(still_open)}"
    )


@pytest.mark.parametrize("point", ["temp-grows", "after-cut-2"])
def test_kill_during_openai_results_download(
    point: str, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = cli_env(
        tmp_path, api_key=None, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=emulator.base_url
    )
    data = tmp_path / "xdg" / "data" / "batchtop"
    cwd = tmp_path / "work"
    cwd.mkdir()
    n = 1500
    write_jsonl(cwd / "input.jsonl", (openai_chat(f"d-{i:05d}", f"dl {i}") for i in range(n)))
    sent = run_cli(
        "submit", "--provider", "openai", "input.jsonl", "--yes", "--json", cwd=cwd, env=env
    )
    assert sent.returncode == 0, sent.stderr
    (bid,) = json.loads(sent.stdout)["batch_ids"]
    emulator.advance(3600)
    # every file content is cut part-way: the CLI tries again, and dies while it writes
    emulator.set_faults(cut_results_after_bytes=300_000)
    results_dir = data / "results"
    final = results_dir / f"{bid}.jsonl"
    args = ("results", "--provider", "openai", bid, "--format", "jsonl", "--out", "out.jsonl")
    proc = start_cli(*args, cwd=cwd, env=env)
    temp = results_dir / f".{bid}.jsonl.{proc.pid}.part"  # named per process
    if point == "temp-grows":
        cond: Callable[[], bool] = lambda: temp.exists() and temp.stat().st_size > 0  # noqa: E731
    else:  # the second cut download has been answered: the CLI waits, then tries again
        cond = lambda: emulator.stats.count("file_content") >= 2  # noqa: E731
    reached = try_wait(lambda: cond() or proc.poll() is not None, 90)
    assert proc.poll() is None, proc.communicate()
    assert reached, "kill point not reached in time"
    proc.kill()
    proc.communicate(timeout=30)
    assert not final.exists(), "a partial download is visible under the final name"
    assert not (cwd / "out.jsonl").exists()
    leftovers = [p.name for p in results_dir.iterdir()]
    assert all(name.startswith(".") and name.endswith((".part", ".lock")) for name in leftovers), (
        leftovers
    )

    emulator.clear_faults()
    rerun = run_cli(*args, cwd=cwd, env=env)
    assert rerun.returncode == 0, rerun.stderr
    for path in (final, cwd / "out.jsonl"):
        rows = path.read_bytes().splitlines()
        assert len(rows) == n
        assert len({orjson.loads(row)["custom_id"] for row in rows}) == n
    assert sorted(p.name for p in results_dir.iterdir()) == [final.name]

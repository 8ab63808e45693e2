"""kill -9 of a real `batchtop submit --provider openai` (upload + create per part, journaled)
at chosen points; restart with `reconcile`; nothing lost, doubled or left unreported.

As `test_rel_kill9.py` for Message Batches, against the OpenAI emulator (in this process,
a loopback port) through the official `openai` SDK inside `batchtop`. Kill points: right
after intent k is journaled (its upload or create in flight), or as soon as the server holds
batch k. After the restart: every batch on the server is known locally with its job part,
no part has two batches, an intent stays open only when its part has no batch, and an input
file that no batch uses is reported by `reconcile` (and gone after `--delete-orphans`).
A results download killed while its temp file grows leaves nothing under a final name, and
the same command run again writes every row.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from reliability_support import cli_env, run_cli, start_cli, store_file
from waiting import try_wait

pytest.importorskip("openai")
# Runs once the OpenAI emulator (core/emulator/openai_api) is in.
pytest.importorskip("batchtop.core.emulator.openai_api")

PART_SIZE = 4
PARTS = 5
SEEDS = (3, 7)  # a kill after intent 4 is journaled; one as the server holds batch 2


def sdk(emulator: EmulatorHandle) -> Any:
    from openai import OpenAI

    return OpenAI(api_key="test-key", base_url=emulator.base_url, max_retries=2)


def server_parts(emulator: EmulatorHandle) -> dict[int, list[str]]:
    """Each part (from its input file's custom_ids) → the server's batches holding it."""
    client = sdk(emulator)
    out: dict[int, list[str]] = {}
    for batch in client.batches.list(limit=100):
        lines = client.files.content(batch.input_file_id).content.splitlines()
        parts = {
            int(orjson.loads(line)["custom_id"].split("-")[1]) // PART_SIZE + 1 for line in lines
        }
        assert len(parts) == 1, parts
        out.setdefault(parts.pop(), []).append(batch.id)
    return out


def server_batches(emulator: EmulatorHandle) -> int:
    return len(sdk(emulator).batches.list(limit=100).data)


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """The OpenAI emulator on a loopback port, its clock starting at the real time (the
    CLI's clock and the server's agree about when intents and batches were made)."""
    config = EmulatorConfig(rate=None, start_delay_s=0.0, counters="live", seed=1234)
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with run_in_thread(config, clock, api="openai") as handle:
        yield handle


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_during_openai_submit(seed: int, emulator: EmulatorHandle, tmp_path: Path) -> None:
    rng = random.Random(seed)
    kind = rng.choice(["intent", "created"])
    k = rng.randint(2, PARTS - 1)
    emulator.set_faults(latency_s=0.15)  # a slow API: each upload and create takes a while
    env = cli_env(
        tmp_path, api_key=None, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=emulator.base_url
    )
    data = tmp_path / "xdg" / "data" / "batchtop"
    config = tmp_path / "xdg" / "config" / "batchtop"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        f'provider = "openai"\nmax_requests_per_batch = {PART_SIZE}\n'
    )
    cwd = tmp_path / "work"
    cwd.mkdir()
    with (cwd / "input.jsonl").open("w") as fh:
        for i in range(PART_SIZE * PARTS):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"kill {i}"}]}
            line = {
                "custom_id": f"r-{i:03d}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            }
            fh.write(json.dumps(line) + "\n")

    def intents() -> int:
        total = 0
        for path in data.glob("stores/*/*/batchtop.sqlite3"):
            conn = sqlite3.connect(path, timeout=10)
            try:
                total += int(conn.execute("SELECT count(*) FROM intents").fetchone()[0])
            except sqlite3.OperationalError:
                pass
            finally:
                conn.close()
        return total

    proc = start_cli("submit", "input.jsonl", "--yes", "--json", cwd=cwd, env=env)
    cond = (lambda: intents() >= k) if kind == "intent" else (lambda: server_batches(emulator) >= k)
    reached = try_wait(lambda: cond() or proc.poll() is not None, 90)
    assert proc.poll() is None, proc.communicate()
    assert reached, "kill point not reached in time"
    proc.kill()
    proc.communicate(timeout=30)
    try_wait(lambda: False, 0.5)  # an in-flight create may still land after the client died
    emulator.clear_faults()

    first = run_cli("reconcile", "--json", cwd=cwd, env=env)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    listed = run_cli("ls", "--json", "--offline", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    local = {row["id"]: row for row in json.loads(listed.stdout)}
    on_server = server_parts(emulator)
    doubled = {p: ids for p, ids in on_server.items() if len(ids) > 1}
    assert not doubled, f"parts submitted twice: {doubled}"
    for part, (bid,) in on_server.items():
        assert bid in local, f"server batch {bid} (part {part}) unknown locally after restart"
        assert local[bid]["job_part"] == part
        assert local[bid]["provider"] == "openai"
    conn = sqlite3.connect(store_file(data))
    rows = conn.execute("SELECT part, state, batch_id FROM intents").fetchall()
    conn.close()
    for part, state, batch_id in rows:
        if state == "pending":
            assert part not in on_server, f"part {part} exists but its intent is open"
        elif batch_id is not None:
            assert on_server.get(part) == [batch_id]
    # Files uploaded for a create that never happened are reported, then deleted when asked.
    reported = [e for e in json.loads(first.stdout) if e.get("state") == "orphaned file"]
    client = sdk(emulator)
    used = {b.input_file_id for b in client.batches.list(limit=100)}
    ours = [f for f in client.files.list(purpose="batch") if f.filename.startswith("batchtop-")]
    assert {e["file_id"] for e in reported} == {f.id for f in ours if f.id not in used}
    cleaned = run_cli("reconcile", "--delete-orphans", "--json", cwd=cwd, env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    left = {f.id for f in client.files.list(purpose="batch") if f.filename.startswith("batchtop-")}
    assert left == {f.id for f in ours if f.id in used}
    # The same submit again sends only the parts never sent: no part twice; a part whose
    # create is unresolved (its answer lost) is not resent until reconcile can tell.
    again = run_cli("submit", "input.jsonl", "--yes", "--json", cwd=cwd, env=env)
    assert "Traceback" not in again.stderr
    final = server_parts(emulator)
    assert all(len(ids) == 1 for ids in final.values()), final
    conn = sqlite3.connect(store_file(data))
    still_open = {p for (p,) in conn.execute("SELECT part FROM intents WHERE state = 'pending'")}
    conn.close()
    assert set(range(1, PARTS + 1)) - set(final) <= still_open
    print(f"\nopenai kill seed={seed}: after {kind} {k}; orphans reported={len(reported)}")


def test_kill_during_openai_results_download(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = cli_env(
        tmp_path, api_key=None, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=emulator.base_url
    )
    data = tmp_path / "xdg" / "data" / "batchtop"
    cwd = tmp_path / "work"
    cwd.mkdir()
    n = 1500
    with (cwd / "input.jsonl").open("w") as fh:
        for i in range(n):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"dl {i}"}]}
            line = {
                "custom_id": f"d-{i:05d}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            }
            fh.write(json.dumps(line) + "\n")
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
    temp = results_dir / f".{bid}.jsonl.part"
    args = ("results", "--provider", "openai", bid, "--format", "jsonl", "--out", "out.jsonl")
    proc = start_cli(*args, cwd=cwd, env=env)
    reached = try_wait(
        lambda: (temp.exists() and temp.stat().st_size > 0) or proc.poll() is not None, 90
    )
    assert proc.poll() is None, proc.communicate()
    assert reached, "kill point not reached in time"
    proc.kill()
    proc.communicate(timeout=30)
    assert not final.exists(), "a partial download is visible under the final name"
    assert not (cwd / "out.jsonl").exists()
    leftovers = [p.name for p in results_dir.iterdir()]
    assert all(name.startswith(".") and name.endswith(".part") for name in leftovers), leftovers

    emulator.clear_faults()
    rerun = run_cli(*args, cwd=cwd, env=env)
    assert rerun.returncode == 0, rerun.stderr
    for path in (final, cwd / "out.jsonl"):
        rows = path.read_bytes().splitlines()
        assert len(rows) == n
        assert len({orjson.loads(row)["custom_id"] for row in rows}) == n
    assert sorted(p.name for p in results_dir.iterdir()) == [final.name]

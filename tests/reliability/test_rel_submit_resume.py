"""A half-submitted job is finished, not duplicated; one file makes one job. Real processes.

- A 3-part submit whose middle part is refused (413: the emulator's body limit is set below
  its size) keeps its prepared parts, `reconcile` reports the job as partly submitted, and
  `batchtop submit` of the same file (once the limit allows it) sends only that part and
  says so. Submitting the file once more is refused (it would be billed twice) unless
  `--force`.
- Two `batchtop submit` of one file at the same time in one home make ONE job: every part
  created once.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from reliability_support import cli_env, run_cli, server_custom_ids, start_cli, store_file
from waiting import wait_until

PART = 3
PARTS = 3


class Home:
    def __init__(self, root: Path, emulator: EmulatorHandle) -> None:
        self.root = root
        self.env = cli_env(root, base_url=emulator.base_url)
        config = root / "xdg" / "config" / "batchtop"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(f"max_requests_per_batch = {PART}\n")
        self.work = root / "work"
        self.work.mkdir()
        self.data = root / "xdg" / "data" / "batchtop"

    def write_input(self, long_part: int | None = None) -> None:
        with (self.work / "input.jsonl").open("w") as fh:
            for i in range(PART * PARTS):
                long = long_part is not None and i // PART + 1 == long_part
                text = f"resume {i} " + ("x" * 3000 if long else "")
                req = {
                    "custom_id": f"r-{i:03d}",
                    "params": {
                        "model": "claude-haiku-4-5",
                        "max_tokens": 8,
                        "messages": [{"role": "user", "content": text}],
                    },
                }
                fh.write(json.dumps(req) + "\n")

    def cli(self, *args: str) -> Any:
        return run_cli(*args, cwd=self.work, env=self.env, timeout=180)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(store_file(self.data), timeout=10)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def prepared_files(self) -> list[Path]:
        imports = self.data / "imports"
        return (
            sorted(p for p in imports.rglob("part-*.jsonl") if "manifest" not in p.name)
            if imports.exists()
            else []
        )


def parts_on_server(emulator: EmulatorHandle) -> list[int]:
    """The part of each batch on the server (from its custom_ids), sorted."""
    out = []
    for cids in server_custom_ids(emulator).values():
        parts = {int(c.split("-")[1]) // PART + 1 for c in cids}
        assert len(parts) == 1, cids
        out.append(parts.pop())
    return sorted(out)


@pytest.mark.timeout(600)  # real processes on a shared machine
def test_a_half_submitted_job_is_resumed_not_duplicated(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None, max_body_bytes=4000)
    home = Home(tmp_path, emulator)
    home.write_input(long_part=2)  # part 2's body is ~10 KB: over the limit

    first = home.cli("submit", "input.jsonl", "--json")
    assert first.returncode == 1, first.stderr[-2000:]
    report = json.loads(first.stdout)
    assert report["failed_parts"] == [2]
    assert len(report["batch_ids"]) == 2
    assert parts_on_server(emulator) == [1, 3]
    assert len(home.prepared_files()) == PARTS  # kept: part 2 still has to be sent

    rec = home.cli("reconcile", "--json")
    assert rec.returncode == 0, rec.stderr[-2000:]
    (partial,) = [e for e in json.loads(rec.stdout) if e["state"] == "partly submitted"]
    assert (partial["job_id"], partial["missing_parts"]) == (report["job_id"], [2])
    text = home.cli("reconcile")
    assert "partly submitted" in text.stdout
    assert "batchtop submit" in text.stdout

    emulator.server.config.max_body_bytes = 1 << 20  # the limit no longer stands in the way
    again = home.cli("submit", "input.jsonl", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = json.loads(again.stdout)
    assert resumed["job_id"] == report["job_id"]
    assert resumed["resumed"] is True
    assert resumed["resumed_parts"] == [1, 3]
    assert len(resumed["batch_ids"]) == 1  # only the missing part was sent
    assert parts_on_server(emulator) == [1, 2, 3]
    assert home.prepared_files() == []  # every part created: the prepared copy is gone
    said = home.cli("submit", "input.jsonl")  # human output says it resumed… or refuses
    assert said.returncode == 1
    assert "billed twice" in said.stderr or "bills every request twice" in said.stderr
    assert "--force" in said.stderr
    assert parts_on_server(emulator) == [1, 2, 3]  # nothing sent twice without --force
    assert home.prepared_files() == []

    forced = home.cli("submit", "input.jsonl", "--force", "--json")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert json.loads(forced.stdout)["job_id"] != report["job_id"]
    assert parts_on_server(emulator) == [1, 1, 2, 2, 3, 3]


@pytest.mark.timeout(600)
def test_the_resume_is_said_on_the_terminal_output(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None, max_body_bytes=4000)
    home = Home(tmp_path, emulator)
    home.write_input(long_part=3)
    assert home.cli("submit", "input.jsonl").returncode == 1
    emulator.server.config.max_body_bytes = 1 << 20
    again = home.cli("submit", "input.jsonl")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resumed job" in again.stdout
    assert "1, 2 were already created" in again.stdout
    assert parts_on_server(emulator) == [1, 2, 3]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("round_", range(2))
def test_two_submits_of_one_file_at_once_make_one_job(
    round_: int, emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None)
    emulator.set_faults(latency_s=0.2)  # slow creates: the two submits overlap
    home = Home(tmp_path, emulator)
    home.write_input()
    # a home in use (its store already bound to its workspace): this is about two submits,
    # not two first starts of a fresh home
    assert home.cli("ls").returncode == 0
    procs = [start_cli("submit", "input.jsonl", "--json", cwd=home.work, env=home.env)]
    procs.append(start_cli("submit", "input.jsonl", "--json", cwd=home.work, env=home.env))
    outs = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err, err[-2000:]
        assert proc.returncode in (0, 1), err[-2000:]
    assert len(home.query("SELECT id FROM jobs")) == 1
    assert parts_on_server(emulator) == [1, 2, 3], [o[1][-3000:] for o in outs]  # every part once
    assert [r[0] for r in home.query("SELECT count(*) FROM intents WHERE state = 'pending'")] == [0]


@pytest.mark.timeout(600)
def test_a_second_submit_leaves_the_running_submits_parts_in_place(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    """A submit whose create of part 1 is still at the server, and a second submit of the
    same file that ends meanwhile (parts 2 and 3 sent, part 1 left to the first): the first
    still has its prepared parts when its create returns, finds 2 and 3 created and exits 0.
    (A second submit that removed them lost a part the first had journaled but not yet
    streamed: never sent, both exiting 1.)"""
    emulator = emulator_factory(rate=None)
    home = Home(tmp_path, emulator)
    config = home.root / "xdg" / "config" / "batchtop" / "config.toml"
    # the held create is waited for however long the second submit takes on a loaded machine
    config.write_text(config.read_text() + "request_timeout_s = 900\n")
    home.write_input()
    assert home.cli("ls").returncode == 0  # a home in use: its store bound to the workspace
    emulator.set_faults(create_latency_s=600)
    first = start_cli("submit", "input.jsonl", "--json", cwd=home.work, env=home.env)
    wait_until(lambda: emulator.server.held_creates == 1, 300, "the first submit's part 1 held")
    (own,) = {p.parent for p in home.prepared_files()}
    emulator.set_faults(create_latency_s=0)

    second = home.cli("submit", "input.jsonl", "--json")
    assert second.returncode == 1, second.stderr[-2000:]  # part 1 is the first's: unresolved
    assert second.stdout, second.stderr[-2000:]
    said = json.loads(second.stdout)
    assert (said["unresolved_parts"], said["resumed_parts"]) == ([1], []), said
    assert parts_on_server(emulator) == [2, 3]
    assert [p for p in home.prepared_files() if p.parent == own] == [
        own / f"part-{i:04d}.jsonl" for i in range(1, PARTS + 1)
    ]  # the first's parts are still where it reads them

    emulator.call(emulator.server.release_slow_creates)
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert (report["failed_parts"], report["unresolved_parts"]) == ([], []), report
    assert len(report["batch_ids"]) == 1
    assert parts_on_server(emulator) == [1, 2, 3]  # every part once
    assert home.query("SELECT count(*) FROM intents WHERE state = 'pending'") == [(0,)]
    assert home.prepared_files() == []  # every part created: no copy left


@pytest.mark.timeout(600)
def test_ctrl_c_during_a_slow_create_says_when_it_settles(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    """Ctrl-C while a create is at the server: its batch may still appear, so the part is
    unresolved. A second submit sends nothing twice and fails (exit 1) saying when it
    settles; reconcile says the same instead of pointing back at submit; once the batch
    appears, reconcile adopts it and the job is complete."""
    emulator = emulator_factory(rate=None)
    home = Home(tmp_path, emulator)
    (home.root / "xdg" / "config" / "batchtop" / "config.toml").write_text(
        "max_requests_per_batch = 100\n"  # one part
    )
    home.write_input()
    assert home.cli("ls").returncode == 0  # a home in use: its store bound to the workspace
    emulator.set_faults(create_latency_s=600)  # the create arrives, the batch comes much later
    proc = start_cli("submit", "input.jsonl", cwd=home.work, env=home.env)
    # the whole create is at the server (an arrival alone may be cut mid-body by the Ctrl-C)
    wait_until(lambda: emulator.server.held_creates == 1, 300, "the create held at the server")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    # not a bare "interrupted": the batch may exist, and reconcile is what finds it
    said = " ".join(err.split())
    assert "Interrupted while its create was being sent (job " in said, said
    assert "the batch may exist. Run `batchtop reconcile` to find it" in said, said
    assert home.query("SELECT state FROM intents") == [("pending",)]

    again = home.cli("submit", "input.jsonl", "--json")
    assert again.returncode == 1, again.stderr[-2000:]  # not "0 batches" and success
    assert json.loads(again.stdout)["unresolved_parts"] == [1]
    assert "unresolved" in again.stderr
    assert emulator.stats.arrivals("create") == 1  # nothing sent twice
    text = home.cli("submit", "input.jsonl")
    said = " ".join(text.stdout.split())  # as read, whatever the terminal width wrapped
    assert text.returncode == 1
    assert "`batchtop reconcile` adopts the batch as soon as it appears" in said
    assert re.search(r"if none has by \d\d:\d\d UTC", said), said

    rec = home.cli("reconcile")
    assert rec.returncode == 1, rec.stderr[-2000:]  # a part is still unresolved: not done
    assert "still unresolved" in rec.stderr
    said = " ".join(rec.stdout.split())
    assert re.search(r"part 1 unresolved \(a batch may still appear until \d\d:\d\d UTC", said)
    (partial,) = json.loads(home.cli("reconcile", "--json").stdout)
    assert partial["open_parts"] == [1]
    assert partial["open_settles_by"] is not None

    emulator.set_faults(create_latency_s=0)
    emulator.call(emulator.server.release_slow_creates)
    wait_until(lambda: len(server_custom_ids(emulator)) == 1, 300, "the slow create's batch")
    # the file names its own ids, which prove nothing after the answer was lost: the one
    # look-alike is named with `reconcile --adopt`, which the user (whose file it is) runs
    held = json.loads(home.cli("reconcile", "--json").stdout)
    (entry,) = [e for e in held if "part" in e]
    assert entry["state"] == "unknown", entry
    assert "reconcile --adopt" in entry["message"], entry
    adopted = home.cli("reconcile", "--adopt", entry["candidates"][0], "--json")
    assert adopted.returncode == 0, adopted.stderr[-2000:]
    states = [e["state"] for e in json.loads(adopted.stdout)]
    assert states == ["reconciled"]
    assert home.query("SELECT state FROM intents") == [("reconciled",)]

"""Store safety: the TUI's service and `batchtop` commands share one SQLite file safely, and
an old store migrates forward without losing anything.

Concurrency: while the in-process service refreshes, downloads and indexes results (the
TUI's work) and sets labels, several `batchtop label` / `batchtop ls` processes and a
writer process hammering labels through the Store use the same file. WAL plus the busy
timeout must absorb it all: every command exits 0, nothing says "database is locked",
every label lands. Migration: a store filled by a real run (batches, snapshots, jobs,
journal, manifests, results + full-text index) gets a hypothetical migration 2 that rebuilds
a table, is reopened, and must read back identically. A store from a newer batchtop and a
file that is not a database each get a one-line error from the command line.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from batchtop.core import schema
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ResultFilter
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import CLI, assert_clean_failure, cli_env, run_cli, store_file
from results_support import results_of

WRITER = """
import sys
from pathlib import Path
from batchtop.core.store import Store

path, ids = Path(sys.argv[1]), sys.argv[2:]
errors = 0
for round_ in range(60):
    store = Store.open(path) if round_ % 20 == 0 else store
    for bid in ids:
        try:
            store.set_label(bid, f"writer-{round_}")
        except Exception as exc:  # counted and reported, never hidden
            errors += 1
            print(f"error: {exc}", file=sys.stderr)
print(f"errors={errors}")
"""


def req(cid: str) -> dict[str, Any]:
    return {
        "custom_id": cid,
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": f"store test {cid}"}],
        },
    }


async def populate(service: BatchService, emulator: EmulatorHandle, n: int) -> list[str]:
    ids: list[str] = []
    for k in range(n):
        out = await service.submit_requests([req(f"b{k}-{i}") for i in range(30)], name=f"j{k}")
        ids.extend(out.batch_ids)
    return ids


async def test_service_and_cli_share_the_store(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = cli_env(tmp_path, base_url=emulator.base_url)
    # the store the CLI opens for this endpoint and workspace (not the path from before
    # scoping, which a CLI run moves into place while this process has it open)
    data = tmp_path / "xdg" / "data" / "batchtop"
    store_path = store_file(data, emulator.base_url, emulator.server.workspace_id)
    store = Store.open(store_path)
    service = BatchService(
        store, Settings(), api_key="test-key", base_url=emulator.base_url, now=emulator.clock.now
    )
    service.auto_download = False
    try:
        ids = await populate(service, emulator, 9)
        cli_ids, writer_ids, own_ids = ids[:3], ids[3:6], ids[6:]
        procs: list[tuple[str, subprocess.Popen[str]]] = []

        def spawn(name: str, *args: str) -> None:
            proc = subprocess.Popen(
                args,
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            procs.append((name, proc))

        spawn("writer", sys.executable, "-c", WRITER, str(store_path), *writer_ids)
        for bid in cli_ids:
            spawn(f"label {bid}", *CLI, "label", bid, f"cli-{bid[-6:]}")
        spawn("ls", *CLI, "ls", "--offline", "--json")
        spawn("ls active", *CLI, "ls", "--offline", "--active")

        # meanwhile, the TUI's service does its usual writes: refresh, download + index
        rounds = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while any(p.poll() is None for _, p in procs) or rounds < 3:
            assert loop.time() < deadline, "the processes did not finish"
            emulator.advance(2)
            await service.refresh()
            for bid in own_ids:
                service.set_label(bid, f"service-{rounds}")
            ended = [b for b in service.batches("ended") if not b.results_downloaded]
            for view in ended[:2]:
                await service.download_results(view.id)
            rounds += 1
        outputs = {name: p.communicate(timeout=30) for name, p in procs}
        for name, p in procs:
            err = outputs[name][1]
            assert p.returncode == 0, (name, err)
            assert "locked" not in err.lower(), (name, err)
            assert "busy" not in err.lower(), (name, err)
            assert "Traceback" not in err
        assert "errors=0" in outputs["writer"][0], outputs["writer"]
        for bid in cli_ids:
            assert service.batch(bid).label == f"cli-{bid[-6:]}"  # type: ignore[union-attr]
        for bid in writer_ids:
            assert service.batch(bid).label == "writer-59"  # type: ignore[union-attr]
        for bid in own_ids:
            assert service.batch(bid).label == f"service-{rounds - 1}"  # type: ignore[union-attr]
        print(f"\nstore sharing: {len(procs)} processes, {rounds} service rounds, no lock errors")
    finally:
        await service.close()
        store.close()


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table batchtop keeps (FTS shadow tables aside)."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'results_fts%' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        out = {}
        for table in sorted(tables):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c != "pinned"]  # the column migration 2 adds
            out[table] = sorted(
                conn.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall(), key=repr
            )
        return out
    finally:
        conn.close()


# A plausible migration 2: a column with a default, and a table rebuilt (create, copy,
# drop, rename) the way SQLite changes a column's type or constraints.
def _jobs_table_sql() -> str:
    """The current `CREATE TABLE jobs` statement, whatever columns the schema has by now."""
    conn = sqlite3.connect(":memory:")
    try:
        schema.migrate(conn)
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
    finally:
        conn.close()


def _future_migration() -> tuple[str, ...]:
    """A plausible next migration: a new column, and `jobs` rebuilt the way SQLite needs."""
    create = _jobs_table_sql()
    return (
        "ALTER TABLE batch_local ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
        create.replace("CREATE TABLE jobs", "CREATE TABLE jobs_new", 1),
        "INSERT INTO jobs_new SELECT * FROM jobs",
        "DROP TABLE jobs",
        "ALTER TABLE jobs_new RENAME TO jobs",
    )


async def test_a_real_store_migrates_forward_without_loss(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    store = Store.open(path)
    service = BatchService(
        store, Settings(), api_key="test-key", base_url=emulator.base_url, now=emulator.clock.now
    )
    service.auto_download = False
    try:
        ids = await populate(service, emulator, 3)
        emulator.advance(3600)
        await service.refresh()
        for bid in ids:
            await service.download_results(bid)
        service.set_label(ids[0], "keep me")
        before_search = service.results_page(ids, ResultFilter(search="store test b1"), 0, 100)
    finally:
        await service.close()
        store.close()
    before = dump(path)
    for table in ("results", "manifests", "intents", "snapshots", "batch_local"):
        assert before[table], f"the old store has no {table}: the check would prove nothing"

    from batchtop.core import database

    v2 = (*schema.MIGRATIONS, _future_migration())
    monkeypatch.setattr(database, "migrate", functools.partial(schema.migrate, migrations=v2))
    with Store.open(path) as migrated:
        conn = sqlite3.connect(path)
        assert schema.user_version(conn) == len(v2)
        conn.close()
        assert dump(path) == before
        assert migrated.get_batch(ids[0]).label == "keep me"  # type: ignore[union-attr]
        after_search = results_of(migrated).query_results(
            ids, ResultFilter(search="store test b1"), 0, 100
        )
        assert after_search.total == before_search.total == 30
        assert sorted(j.name for j in migrated.list_jobs()) == ["j0", "j1", "j2"]


def test_newer_or_broken_store_gets_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    data = tmp_path / "xdg" / "data" / "batchtop"
    data.mkdir(parents=True)
    path = data / "batchtop.sqlite3"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    assert_clean_failure(run_cli("ls", "--offline", cwd=tmp_path, env=env), "newer version")
    path = store_file(data)  # moved into the scope of its endpoint (core/scope.py)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database, it is a text file " * 100)
    assert_clean_failure(run_cli("ls", "--offline", cwd=tmp_path, env=env), "not a usable")

"""Exports: each format read back and compared, formula injection, atomicity, modes."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from batchtop.core import export
from batchtop.core.errors import UserError
from batchtop.core.export import csv_safe, default_export_path, export_results
from batchtop.core.models import ResultRow, ResultType
from batchtop.core.store import Store
from data_factory import (
    HOSTILE_TEXTS,
    T0,
    ended,
    errored,
    mixed_results,
    remote,
    succeeded,
    write_jsonl,
)
from results_support import results_of

Rows = list[tuple[ResultRow, str]]


@pytest.fixture
def rows(tmp_path: Path) -> Rows:
    """Results joined with inputs, hostile text included, straight from a real store."""
    store = Store.open(tmp_path / "s.db")
    job = store.create_job("j")
    lines = [
        *(succeeded(name, text) for name, text in HOSTILE_TEXTS.items()),
        succeeded("-dash-id", "+1 plus at start"),
        succeeded("big", "y" * 1_000_000),
        errored("err", "invalid_request_error", "@SUM(A1:A2) is not a model"),
        errored("err2", "overloaded_error", "Overloaded"),
        ended("exp", "expired"),
        ended("can", "canceled"),
    ]
    inputs = {name: f"=cmd|' /C calc'!A0 input for {name}" for name in HOSTILE_TEXTS}
    inputs["err"] = "line 1\nline 2\n\x1b[31mred input\x1b[0m"
    store.add_manifest(job.id, 1, [(c, t, "{}") for c, t in inputs.items()])
    store.upsert_remote([remote("b1")], T0)
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", lines))
    out = list(results_of(store).iter_results(["b1"]))
    store.close()
    assert len(out) == len(lines)
    return out


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_jsonl_is_the_raw_lines(rows: Rows, tmp_path: Path) -> None:
    out = tmp_path / "out" / "r.jsonl"
    out.parent.mkdir()
    result = export_results(rows, "jsonl", out)
    assert (result.path, result.format, result.rows) == (out, "jsonl", len(rows))
    assert out.read_text(encoding="utf-8").splitlines() == [raw for _row, raw in rows]
    for (row, _raw), line in zip(rows, out.read_bytes().splitlines(), strict=True):
        assert orjson.loads(line)["custom_id"] == row.custom_id
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert no_temp_files(out.parent)


@pytest.mark.skipif(sys.platform == "win32", reason="leftovers are told apart with flock")
def test_temp_files_of_killed_exports_are_removed_by_the_next_one(
    rows: Rows, tmp_path: Path
) -> None:
    """A kill -9 mid-export leaves `.r.csv.<random>.tmp`; the next export to the same name
    removes it — but not a temp file another export is still writing, nor a fresh one."""
    import fcntl

    out = tmp_path / "r.csv"
    old = time.time() - 3600
    killed = tmp_path / ".r.csv.k1ll3d.tmp"
    killed.write_text("half a file")
    os.utime(killed, (old, old))
    busy = tmp_path / ".r.csv.bu5y.tmp"
    busy.write_text("being written")
    os.utime(busy, (old, old))
    fresh = tmp_path / ".r.csv.fr3sh.tmp"
    fresh.write_text("just created")
    other = tmp_path / ".other.csv.x.tmp"
    other.write_text("another target")
    os.utime(other, (old, old))
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live export holds its lock
        export_results(rows, "csv", out)
    finally:
        os.close(fd)
    assert out.exists()
    assert not killed.exists()
    assert busy.exists()
    assert fresh.exists()
    assert other.exists()


def test_csv_reads_back_and_defeats_formulas(rows: Rows, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert export_results(rows, "csv", out).rows == len(rows)
    limit = csv.field_size_limit(10_000_000)  # the 1 MB cell is over the reader's default
    try:
        with open(out, newline="", encoding="utf-8") as fh:
            got = list(csv.DictReader(fh))
    finally:
        csv.field_size_limit(limit)
    assert list(got[0]) == list(export.CSV_COLUMNS)
    assert len(got) == len(rows)
    for (row, _raw), cell in zip(rows, got, strict=True):
        assert cell["custom_id"] == csv_safe(row.custom_id)
        assert cell["status"] == row.type.value
        assert cell["output"] == csv_safe(row.text)
        assert cell["input"] == csv_safe(row.input_text)
        assert cell["input_tokens"] == str(row.input_tokens)
        assert cell["output_tokens"] == str(row.output_tokens)
        assert cell["error_type"] == (row.error_type or "")
        assert cell["error_message"] == csv_safe(row.error_message)
        for value in cell.values():
            assert not value or value[0] not in "=+-@\t\r", value
    by_id = {c["custom_id"]: c for c in got}
    assert by_id["formula"]["output"] == "'" + HOSTILE_TEXTS["formula"]
    assert by_id["formula"]["input"].startswith("'=cmd|")
    assert by_id["'-dash-id"]["output"] == "'+1 plus at start"
    assert by_id["err"]["error_message"] == "'@SUM(A1:A2) is not a model"
    assert by_id["newlines"]["output"] == HOSTILE_TEXTS["newlines"]  # \r\n inside kept
    assert by_id["rtl"]["output"] == HOSTILE_TEXTS["rtl"]
    assert by_id["ansi"]["output"] == HOSTILE_TEXTS["ansi"]
    assert len(by_id["big"]["output"]) == 1_000_000


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("", ""),
        (None, ""),
    ],
)
def test_csv_safe(cell: str | None, expected: str) -> None:
    assert csv_safe(cell) == expected


def test_json_is_the_classic_dict(rows: Rows, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = export_results(rows, "json", out)
    data = json.loads(out.read_text(encoding="utf-8"))
    expected = {r.custom_id: r.text for r, _ in rows if r.type is ResultType.SUCCEEDED}
    assert data == expected
    assert result.rows == len(expected)
    assert data["markup"] == HOSTILE_TEXTS["markup"]


def test_markdown_report(rows: Rows, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    export_results(rows, "markdown", out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Batch results\n")
    assert text.count("\n## ") == len(rows)
    assert "## `formula`" in text
    assert "**Status:** errored · `invalid_request_error`" in text
    assert "> line 1\n> line 2\n> \\x1b[31mred input\\x1b[0m" in text
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "\\u202e" in text
    assert HOSTILE_TEXTS["markup"] in text  # literal, as written by the model
    assert "\u200b" in text  # harmless zero-width characters are kept


def test_parquet_reads_back(rows: Rows, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "r.parquet"
    assert export_results(rows, "parquet", out).rows == len(rows)
    table = pq.read_table(out).to_pylist()
    assert len(table) == len(rows)
    for (row, _raw), rec in zip(rows, table, strict=True):
        assert rec["custom_id"] == row.custom_id
        assert rec["status"] == row.type.value
        assert rec["input"] == row.input_text
        assert rec["output"] == (row.text if row.type is ResultType.SUCCEEDED else None)
        assert rec["input_tokens"] == row.input_tokens
        assert rec["error_message"] == row.error_message
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_parquet_without_pyarrow(
    rows: Rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "r.parquet"
    with pytest.raises(UserError, match=r"pip install batchtop\[parquet\]"):
        export_results(rows, "parquet", out)
    assert not out.exists()
    assert no_temp_files(tmp_path)


def test_empty_exports(tmp_path: Path) -> None:
    assert export_results([], "json", tmp_path / "e.json").rows == 0
    assert json.loads((tmp_path / "e.json").read_text()) == {}
    export_results([], "csv", tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text().splitlines() == [",".join(export.CSV_COLUMNS)]
    export_results([], "jsonl", tmp_path / "e.jsonl")
    assert (tmp_path / "e.jsonl").read_bytes() == b""


def test_interrupted_export_leaves_old_file_and_no_temp(rows: Rows, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous export\n")

    def exploding() -> Iterator[tuple[ResultRow, str]]:
        yield rows[0]
        yield rows[1]
        raise RuntimeError("killed mid-way")

    for fmt in ("csv", "jsonl", "json", "markdown"):
        with pytest.raises(RuntimeError, match="killed"):
            export_results(exploding(), fmt, out)  # type: ignore[arg-type]
        assert out.read_text() == "previous export\n"
        assert no_temp_files(tmp_path)


def test_bad_destinations(rows: Rows, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        export_results(rows, "csv", tmp_path / "missing" / "r.csv")
    (tmp_path / "adir").mkdir()
    with pytest.raises(UserError, match="is a directory"):
        export_results(rows, "csv", tmp_path / "adir")
    with pytest.raises(UserError, match="Unknown export format"):
        export_results(rows, "xlsx", tmp_path / "r.xlsx")  # type: ignore[arg-type]
    if os.geteuid() != 0:  # root ignores directory permissions
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(UserError, match="Cannot write"):
            export_results(rows, "csv", locked / "r.csv")


def test_default_export_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_export_path("msgbatch_01abc", "markdown") == (
        tmp_path / "msgbatch_01abc-results.md"
    )
    assert default_export_path("job_1", "parquet").name == "job_1-results.parquet"
    assert default_export_path("../../etc/passwd", "csv").parent == tmp_path


def test_progress_and_async(tmp_path: Path) -> None:
    many = [
        (ResultRow("b", f"id-{i:05d}", ResultType.SUCCEEDED, text=f"t{i}"), f'{{"i":{i}}}')
        for i in range(12_000)
    ]
    calls: list[int] = []
    export_results(many, "jsonl", tmp_path / "p.jsonl", progress=calls.append)
    assert calls == [5_000, 10_000, 12_000]
    result = asyncio.run(export.export_results_async(many, "csv", tmp_path / "a.csv"))
    assert result.rows == 12_000


def test_csv_speed_close_to_plain_csv_module(tmp_path: Path) -> None:
    """Within 1.5x of writing the same rows with the csv module (looser bound here for CI)."""
    store = Store.open(tmp_path / "s.db")
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(20_000)))
    rows = list(results_of(store).iter_results(["b1"]))
    store.close()
    plain = [
        (
            r.custom_id,
            r.type.value,
            r.input_text or "",
            r.text,
            r.stop_reason or "",
            r.input_tokens,
            r.output_tokens,
            r.error_type or "",
            r.error_message or "",
            r.original_id or "",
        )
        for r, _ in rows
    ]

    def baseline() -> float:
        start = time.perf_counter()
        with open(tmp_path / "plain.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(export.CSV_COLUMNS)
            writer.writerows(plain)
        return time.perf_counter() - start

    def ours() -> float:
        start = time.perf_counter()
        export_results(rows, "csv", tmp_path / "ours.csv")
        return time.perf_counter() - start

    base = min(baseline() for _ in range(3))
    mine = min(ours() for _ in range(3))
    assert mine < base * 3 + 0.05, (mine, base)
    with open(tmp_path / "ours.csv", newline="", encoding="utf-8") as fh:
        assert sum(1 for _ in csv.reader(fh)) == 20_001


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("out.csv", "csv"),
        ("OUT.CSV", "csv"),
        ("a/b/results.jsonl", "jsonl"),
        ("x.ndjson", "jsonl"),
        ("x.json", "json"),
        ("report.md", "markdown"),
        ("report.markdown", "markdown"),
        ("t.parquet", "parquet"),
        ("notes.txt", None),
        ("no-suffix", None),
    ],
)
def test_format_for_path(name: str, fmt: str | None) -> None:
    from batchtop.core.export import format_for_path

    assert format_for_path(name) == fmt


def test_paged_export_from_the_store_matches_the_row_writers(tmp_path: Path) -> None:
    """JSONL/CSV from `iter_results` read just their columns: same bytes as from rows."""
    store = Store.open(tmp_path / "s.db")
    job = store.create_job("j")
    lines = [
        *(succeeded(name, text) for name, text in HOSTILE_TEXTS.items()),
        *mixed_results(4_321, text_size=30),
        succeeded("-dash", "-minus"),
        succeeded("tab", "\tx"),
        succeeded("cr", "\rx"),
        succeeded("empty", ""),
        errored("at", "invalid_request_error", "@SUM(A1:A2)"),
        # a NUL in a cell (SQLite's printf would end the value there)
        succeeded("nul", "a\x00b, c"),
        succeeded("nul-input", "-x"),
        errored("nul-error", "invalid_request_error", "=bad\x00byte"),
        succeeded("nul-model", "x", model="model\x00tail"),
    ]
    store.add_manifest(
        job.id,
        1,
        [("tab", "+input", "{}"), ("cr", "", "{}"), ("nul-input", "in\x00put,", "{}")],
    )
    store.upsert_remote([remote("b1")], T0)
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", lines))
    plain = list(results_of(store).iter_results(["b1"]))
    seen: list[int] = []
    for fmt in ("jsonl", "csv"):
        paged = results_of(store).iter_results(["b1"])
        assert isinstance(paged, export.PagedRows)
        fast = export_results(paged, fmt, tmp_path / f"fast.{fmt}", seen.append)
        slow = export_results(iter(plain), fmt, tmp_path / f"slow.{fmt}")
        assert fast.rows == slow.rows == len(lines)
        assert (tmp_path / f"fast.{fmt}").read_bytes() == (tmp_path / f"slow.{fmt}").read_bytes()
    assert seen[-1] == len(lines)
    assert seen == sorted(seen)
    store.close()


def test_parquet_without_pyarrow_is_one_line_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optional extra missing: one line that says which extra to install."""
    import sys

    from batchtop.core import export

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(UserError) as info:
        export.export_results([], "parquet", tmp_path / "out.parquet")
    assert str(info.value) == "Parquet export needs pyarrow: run `pip install batchtop[parquet]`."
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_an_export_waiting_for_a_fifos_reader_stops_when_cancelled(
    rows: Rows, tmp_path: Path
) -> None:
    """No program reads the FIFO yet: the export waits for one (as a shell's `>` does), and
    a cancel (Ctrl-C, the dialog's Cancel) ends the wait; a blocking open could not be
    stopped, and batchtop then waited on it for good. A reader that comes gets the lines."""
    import threading

    from waiting import try_wait

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    cancel = threading.Event()
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(export_results(rows, "jsonl", fifo, cancel=cancel))
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    cancel.set()
    if not try_wait(lambda: not worker.is_alive(), 30):
        fifo.read_bytes()  # a reader lets the blocked open go (and the export end)
        worker.join()
        pytest.fail("the cancelled export still waited for a reader")
    assert isinstance(outcome[0], export.ExportCancelled)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = export_results(rows, "jsonl", fifo, cancel=threading.Event())
    reader.join()
    assert result.rows == len(rows)
    assert got[0].count(b"\n") == len(rows)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_an_export_to_a_fifo_whose_reader_stalls_stops_when_cancelled(
    rows: Rows, tmp_path: Path
) -> None:
    """The reader takes a little, then reads no more: the export waits for room in the FIFO,
    and a cancel ends that wait too. A blocking write could not be stopped: a cancelled
    export then kept the process (the dashboard after `q`, the CLI after Ctrl-C) alive until
    the reader read on or left."""
    import threading

    from waiting import try_wait

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    cancel = threading.Event()
    outcome: list[object] = []
    took = threading.Event()
    leave = threading.Event()

    def read_a_little() -> None:
        with open(fifo, "rb", buffering=0) as fh:
            fh.read(1000)
            took.set()
            leave.wait(60)  # stalled: reads nothing more until the test lets it go

    def run() -> None:
        try:
            outcome.append(export_results(rows, "jsonl", fifo, cancel=cancel))
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    reader = threading.Thread(target=read_a_little, daemon=True)
    reader.start()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert try_wait(took.is_set, 30)
    cancel.set()
    ended = try_wait(lambda: not worker.is_alive(), 30)
    leave.set()  # the reader leaves: a write still blocked fails and the export ends
    worker.join()
    reader.join()
    assert ended, "the cancelled export still waited for its reader to read"
    assert isinstance(outcome[0], export.ExportCancelled)

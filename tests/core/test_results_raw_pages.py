"""The JSONL export's pages over many rows: each page's places in the results file come as
one string from SQLite and its lines are read from the file (whole, or a `pread` per line),
by custom_id, byte for byte; rows that hold their own line, a job's batches and a filter
take the same road. Cancelled or failing, the export leaves its connection free."""

from __future__ import annotations

import io
import random
import threading
from pathlib import Path

import orjson
import pytest
from batchtop.core.errors import UserError
from batchtop.core.export import ExportCancelled, export_to_stream
from batchtop.core.models import ResultFilter, ResultType
from batchtop.core.results import export_pages, raw_lines
from batchtop.core.results.export_pages import RAW_PAGE
from batchtop.core.store import Store
from data_factory import T0, line, mixed_results, remote
from results_support import results_of

ALL = ResultFilter()
ROWS = 6_500  # two pages


def _jsonl(store: Store, batch_ids: list[str], filt: ResultFilter = ALL) -> bytes:
    out = io.BytesIO()
    export_to_stream(results_of(store).iter_results(batch_ids, filt), "jsonl", out)
    return out.getvalue()


def _sorted(lines: list[bytes]) -> bytes:
    return b"".join(sorted(lines, key=lambda ln: orjson.loads(ln)["custom_id"]))


def _ingest(store: Store, batch_id: str, path: Path, lines: list[bytes]) -> None:
    store.upsert_remote([remote(batch_id)], T0)
    path.write_bytes(b"".join(lines))
    assert results_of(store).ingest_results(batch_id, path) == len(lines)
    results_of(store).set_results_file(batch_id, path, downloaded=True)


@pytest.fixture
def shuffled(tmp_path: Path) -> tuple[Store, list[bytes]]:
    """A batch of `ROWS` results whose file has them in no particular order."""
    store = Store.open(tmp_path / "s.db")
    lines = [line(o) for o in mixed_results(ROWS, text_size=40)]
    random.Random(7).shuffle(lines)
    _ingest(store, "b1", tmp_path / "b1.jsonl", lines)
    yield store, lines  # type: ignore[misc]
    store.close()


def test_pages_of_a_shuffled_file_come_by_custom_id_byte_for_byte(
    shuffled: tuple[Store, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, lines = shuffled
    expected = _sorted(lines)
    assert _jsonl(store, ["b1"]) == expected  # the file read whole
    monkeypatch.setattr(raw_lines, "WHOLE_FILE_MAX", 1_000)
    assert _jsonl(store, ["b1"]) == expected  # a read per line
    errored = ResultFilter(types=frozenset({ResultType.ERRORED}))
    wanted = [ln for ln in lines if b'"type":"errored"' in ln]
    assert _jsonl(store, ["b1"], errored) == _sorted(wanted)


def test_rows_holding_their_line_and_rows_in_the_file_are_exported_together(
    shuffled: tuple[Store, list[bytes]], tmp_path: Path
) -> None:
    """Pages whose rows are of both kinds (a line in the row, as an older batchtop kept it,
    or a place in the file) are read row by row: one export, by custom_id."""
    store, lines = shuffled
    conn = store._conn()
    by_id = {orjson.loads(ln)["custom_id"]: ln for ln in lines}
    kept = sorted(by_id)[RAW_PAGE::3]  # the first page has none: the pages differ
    with conn:
        conn.executemany(
            "UPDATE results SET raw = ?, raw_at = NULL WHERE batch_id = 'b1' AND custom_id = ?",
            [(by_id[cid].decode(), cid) for cid in kept],
        )
    assert _jsonl(store, ["b1"]) == _sorted(lines)


def test_a_job_of_an_older_batch_and_a_downloaded_one_is_exported_by_custom_id(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "s.db")
    lines = [line(o) for o in mixed_results(ROWS, text_size=40)]
    ingest = results_of(store).start_ingest("b0")  # fed without a file: lines in the rows
    try:
        ingest.feed(b"".join(lines[::3]))
        ingest.finish()
    finally:
        ingest.close()
    _ingest(store, "b1", tmp_path / "b1.jsonl", [ln for i, ln in enumerate(lines) if i % 3])
    assert _jsonl(store, ["b0", "b1"]) == _sorted(lines)
    store.close()


def test_a_jobs_batches_are_exported_together_by_custom_id(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    lines = [line(o) for o in mixed_results(ROWS, text_size=40)]
    _ingest(store, "b1", tmp_path / "b1.jsonl", lines[1::2])
    _ingest(store, "b2", tmp_path / "b2.jsonl", lines[::2])
    assert _jsonl(store, ["b1", "b2"]) == _sorted(lines)
    store.close()


def test_a_cancelled_or_failing_export_leaves_its_connection_free(
    shuffled: tuple[Store, list[bytes]], tmp_path: Path
) -> None:
    store, lines = shuffled
    cancel = threading.Event()
    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(n)
        cancel.set()  # after the first page

    out = io.BytesIO()
    rows = results_of(store).iter_results(["b1"], ALL)
    with pytest.raises(ExportCancelled):
        export_to_stream(rows, "jsonl", out, progress, cancel)
    assert seen
    assert 0 < len(out.getvalue()) < len(b"".join(lines))
    assert _export_threads() == []  # the page and file readers ended with the export
    path = tmp_path / "b1.jsonl"
    data = path.read_bytes()
    at = data.rindex(b"answer")  # one line of the file changed, same size
    path.write_bytes(data[:at] + b"ANSWER" + data[at + 6 :])
    with pytest.raises(raw_lines.RawFileChanged, match="changed since"):
        _jsonl(store, ["b1"])
    path.write_bytes(data)
    assert _jsonl(store, ["b1"]) == _sorted(lines)  # the same connection reads on


def _export_threads() -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("batchtop-export", "batchtop-read"))
    ]


def test_a_store_closed_mid_export_is_a_clear_error_and_its_threads_end(
    shuffled: tuple[Store, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pages are queried on a thread of their own: its error (the store closed under
    it) is the export's, said in words, and no thread is left behind."""
    store, _lines = shuffled
    monkeypatch.setattr(export_pages, "RAW_PAGE", 100)  # pages left to query at the close
    rows = results_of(store).iter_results(["b1"], ALL)
    with pytest.raises(UserError, match="The store is closed"):
        export_to_stream(rows, "jsonl", io.BytesIO(), lambda _n: store.close())
    assert _export_threads() == []


class _FillsUp(io.BytesIO):
    """A stream that takes one write, then has no space left."""

    def write(self, data: object) -> int:
        if self.tell():
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_write_that_fails_mid_export_is_raised(
    shuffled: tuple[Store, list[bytes]],
) -> None:
    store, lines = shuffled
    out = _FillsUp()
    with pytest.raises(OSError, match="No space left"):
        export_to_stream(results_of(store).iter_results(["b1"], ALL), "jsonl", out)
    assert out.getvalue() == _sorted(lines)[: len(out.getvalue())]
    assert _jsonl(store, ["b1"]) == _sorted(lines)

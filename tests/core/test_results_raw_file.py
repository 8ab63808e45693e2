"""Raw lines read back from the batch's results file (schema 15), never other bytes.

An ingest of a file keeps where each line is (offset, length, CRC-32) instead of the line;
the JSONL export and the raw view read the lines from the file. A file deleted, truncated or
replaced gives a one-line error naming it (or, for the first two, a download that fetches
the results again), and rows of an older store still hold their lines.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import zlib
from pathlib import Path

import orjson
import pytest
from batchtop.core import paths
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import UserError
from batchtop.core.export import export_to_stream
from batchtop.core.models import ResultFilter
from batchtop.core.store import Store
from data_factory import T0, errored, line, mixed_results, remote, requests, succeeded
from results_support import results_of
from service_support import ServiceFactory

ALL = ResultFilter()
V8 = Path(__file__).parent / "data" / "store_v8.sqlite3"


def _jsonl(store: Store, batch_ids: list[str]) -> bytes:
    out = io.BytesIO()
    export_to_stream(results_of(store).iter_results(batch_ids, ALL), "jsonl", out)
    return out.getvalue()


def _by_custom_id(data: bytes) -> bytes:
    """A results file's lines as the JSONL export writes them: by custom_id, stripped."""
    lines = [ln.strip() for ln in data.split(b"\n") if ln.strip()]
    lines.sort(key=lambda ln: orjson.loads(ln)["custom_id"])
    return b"".join(ln + b"\n" for ln in lines)


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Store, Path]:
    store = Store.open(tmp_path / "s.db")
    store.upsert_remote([remote("b1")], T0)
    objs = list(mixed_results(300, text_size=60))
    objs.insert(5, succeeded("naïve-☕", "café 𝄞 \u202e \x1b[31m"))  # multi-byte, controls
    path = tmp_path / "r.jsonl"
    # a CRLF line, a line with spaces around it, a blank line, no newline at the end
    data = b"".join(line(o) for o in objs[:-1]).replace(b"\n", b"\r\n", 1)
    data += b"  " + line(errored("spaced", "overloaded_error", "Overloaded"))[:-1] + b"  \n\n"
    data += line(objs[-1])[:-1]
    path.write_bytes(data)
    assert results_of(store).ingest_results("b1", path) == 302
    results_of(store).set_results_file("b1", path, downloaded=True)
    assert results_of(store).completed_download("b1") == 302
    yield store, path  # type: ignore[misc]
    store.close()


def test_rows_keep_where_their_lines_are_and_reads_give_the_same_bytes(
    indexed: tuple[Store, Path],
) -> None:
    store, path = indexed
    conn = store._conn()
    assert conn.execute("SELECT count(*) FROM results WHERE raw <> ''").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM results WHERE raw_at IS NULL").fetchone()[0] == 0
    assert _jsonl(store, ["b1"]) == _by_custom_id(path.read_bytes())  # byte for byte
    for cid in ("naïve-☕", "spaced", "req-000000", "req-000299"):
        found = results_of(store).result_detail("b1", cid)
        assert found is not None
        assert orjson.loads(found[1])["custom_id"] == cid
        assert found[1].encode() in path.read_bytes()
    found = results_of(store).result_detail("b1", "naïve-☕")
    assert found is not None
    message = orjson.loads(found[1])["result"]["message"]
    assert "café 𝄞 \u202e \x1b[31m" in message["content"][0]["text"]
    # every other export reads the lines too, from the same place
    pairs = list(results_of(store).iter_results(["b1"], ALL))
    assert b"".join(raw.encode() + b"\n" for _row, raw in pairs) == _jsonl(store, ["b1"])


def _fails_naming_the_file(store: Store, path: Path, words: str) -> None:
    for read in (
        lambda: _jsonl(store, ["b1"]),
        lambda: results_of(store).result_detail("b1", "req-000007"),
        lambda: list(results_of(store).iter_results(["b1"], ALL)),
    ):
        with pytest.raises(UserError) as info:
            read()
        message = str(info.value)
        assert "\n" not in message
        assert words in message
        assert str(path) in message
        assert "b1" in message


def test_a_deleted_results_file_is_a_one_line_error(indexed: tuple[Store, Path]) -> None:
    store, path = indexed
    path.unlink()
    assert not results_of(store).raw_lines_present("b1")
    _fails_naming_the_file(store, path, "is missing")
    # the rows themselves are still browsable
    assert results_of(store).query_results(["b1"], ALL, 0, 10).total == 302


def test_a_truncated_results_file_is_a_one_line_error(indexed: tuple[Store, Path]) -> None:
    store, path = indexed
    os.truncate(path, path.stat().st_size // 2)
    assert not results_of(store).raw_lines_present("b1")
    assert results_of(store).completed_download("b1") is None  # a waiting download redoes it
    _fails_naming_the_file(store, path, "changed since its results were indexed")


def test_a_replaced_file_of_the_same_size_never_gives_its_bytes(
    indexed: tuple[Store, Path],
) -> None:
    store, path = indexed
    data = path.read_bytes()
    # another batch's results, same size, same custom_ids: one character changed
    at = data.index(b"answer 7:")
    path.write_bytes(data[:at] + b"ANSWER" + data[at + 6 :])
    assert results_of(store).raw_lines_present("b1")  # the size says nothing
    _fails_naming_the_file(store, path, "changed since its results were indexed")
    found = results_of(store).result_detail("b1", "req-000008")  # an untouched line is fine
    assert found is not None
    # the lines in another order, same size and bytes: every moved line is refused
    lines = data.split(b"\n")
    path.write_bytes(b"\n".join([lines[1], lines[0], *lines[2:]]))
    with pytest.raises(UserError, match="changed since"):
        _jsonl(store, ["b1"])


def test_the_whole_file_is_checked_once_and_an_older_batch_line_by_line(
    indexed: tuple[Store, Path],
) -> None:
    """An unfiltered export reads the file whole and checks it against the CRC-32 of the
    whole file as indexed; a batch indexed before that was kept (NULL) checks each line.
    Either way, a file changed in place at the same size gives none of its bytes."""
    store, path = indexed
    data = path.read_bytes()
    (crc,) = (
        store.db.conn()
        .execute("SELECT raw_file_crc FROM batch_local WHERE batch_id = 'b1'")
        .fetchone()
    )
    assert crc == zlib.crc32(data)  # every byte fed, CRLF, blanks and the unended last line
    expected = _jsonl(store, ["b1"])
    assert expected == _by_custom_id(data)
    at = data.index(b"answer 7:")
    changed = data[:at] + b"ANSWER" + data[at + 6 :]
    for older in (False, True):
        if older:
            store.db.conn().execute("UPDATE batch_local SET raw_file_crc = NULL")
        path.write_bytes(changed)
        _fails_naming_the_file(store, path, "changed since its results were indexed")
        path.write_bytes(data)
        assert _jsonl(store, ["b1"]) == expected


def test_a_file_replaced_by_the_same_bytes_is_read_again(indexed: tuple[Store, Path]) -> None:
    """A re-download renames a new file with the same bytes into place (another inode)."""
    store, path = indexed
    expected = _jsonl(store, ["b1"])
    fresh = path.with_name("fresh")
    shutil.copyfile(path, fresh)
    os.replace(fresh, path)
    assert _jsonl(store, ["b1"]) == expected


def test_rows_of_an_older_store_keep_their_lines(tmp_path: Path) -> None:
    """A store indexed at schema 8 (the line in each row) reads its lines from the rows, its
    results file gone or not."""
    path = tmp_path / "batchtop.sqlite3"
    shutil.copyfile(V8, path)
    conn = sqlite3.connect(path)
    stored = dict(
        conn.execute("SELECT custom_id, raw FROM results WHERE batch_id = 'msgbatch_v8_ended'")
    )
    conn.close()
    assert stored
    with Store.open(path) as store:
        for cid, raw in stored.items():
            found = results_of(store).result_detail("msgbatch_v8_ended", cid)
            assert found is not None
            assert found[1] == raw
        assert _jsonl(store, ["msgbatch_v8_ended"]) == b"".join(
            stored[cid].encode() + b"\n" for cid in sorted(stored)
        )
        assert results_of(store).raw_lines_present("msgbatch_v8_ended")


def test_an_ingest_fed_without_a_file_keeps_the_lines_in_its_rows(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    ingest = results_of(store).start_ingest("b1")
    try:
        ingest.feed(line(succeeded("a", "alpha")) + line(succeeded("b", "beta")))
        ingest.finish()
    finally:
        ingest.close()
    assert _jsonl(store, ["b1"]) == line(succeeded("a", "alpha")) + line(succeeded("b", "beta"))
    store.close()


async def _ended(service, emulator: EmulatorHandle, n: int) -> str:  # type: ignore[no-untyped-def]
    service.auto_download = False
    outcome = await service.submit_requests(requests(n))
    emulator.advance(3600)
    await service.refresh()
    return str(outcome.batch_ids[0])


def _export(service, bid: str) -> bytes:  # type: ignore[no-untyped-def]
    return _jsonl(service.store, [bid])


async def test_a_download_points_into_its_file_and_a_lost_file_is_downloaded_again(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    service = make_service()
    bid = await _ended(service, emulator, 40)
    assert (await service.download_results(bid)).rows == 40
    final = paths.results_dir() / f"{bid}.jsonl"
    assert _export(service, bid) == _by_custom_id(final.read_bytes())
    assert service.results_on_disk(bid)
    # a re-download of the same bytes (another inode) keeps the rows pointing right
    assert (await service.download_results(bid)).rows == 40
    assert _export(service, bid) == _by_custom_id(final.read_bytes())
    # the file deleted, then truncated: the next download fetches and indexes it again
    for damage in ("delete", "truncate"):
        if damage == "delete":
            final.unlink()
        else:
            os.truncate(final, 100)
        assert not service.results_on_disk(bid)
        with pytest.raises(UserError):
            _export(service, bid)
        assert (await service.download_results(bid)).rows == 40
        assert service.results_on_disk(bid)
        assert _export(service, bid) == _by_custom_id(final.read_bytes())

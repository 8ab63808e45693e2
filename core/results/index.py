"""`ResultsIndex`: the one object that owns a store's result rows and their threads.

It writes the rows (an ingest, fed from a file or as a download arrives), has the search
index built after each ingest on its background thread (`search.SearchIndexer`, which then
runs the follow-up it is given: the statistics' rows), and reads them (pages, counts,
details, summaries, failed requests, export pages). It shares the store's
SQLite file (`core/database.py`) with `Store`; `BatchService` assembles both. Reads never
start work: a search-index build left unfinished is resumed by `resume_search_index`
(called on open and by the service after a refresh).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..database import Database, track_calls
from ..models import (
    FailedRequest,
    ResultFilter,
    ResultPage,
    ResultRow,
    ResultSummary,
    ResultType,
)
from . import queries
from .raw_lines import raw_file_intact
from .search import FollowUp, SearchIndexer, build_fts, fts_complete, fts_pending
from .sql import record_results_file

if TYPE_CHECKING:  # the ingest and the export pages are imported when first used
    from .export_pages import ResultStream
    from .ingest import Ingest, IngestStats, ProgressFn

_ALL = ResultFilter()
# The ingest's page cache: its index inserts land all over their B-trees (results come in
# random custom_id order), and every page that falls out of the cache is read back from the OS.
INGEST_CACHE_KIB = 16_000


class ResultsIndex:
    """A store's results: see the module docstring. Thread-safe like the database: each
    thread reads on its own connection; an ingest and the builder have private ones."""

    def __init__(self, db: Database, *, after_index: FollowUp | None = None) -> None:
        """Touches nothing; `open` also resumes an unfinished search-index build.
        `after_index(conn, should_stop)` runs on the builder after each search-index build."""
        self.db = db
        self._totals: queries.TotalsCache = {}
        self._indexer = SearchIndexer(db, after_index)

    @classmethod
    def open(cls, db: Database, *, after_index: FollowUp | None = None) -> ResultsIndex:
        index = cls(db, after_index=after_index)
        index.resume_search_index()
        return index

    # --- writing: ingest and the raw file -----------------------------------------------

    def ingest_results(
        self, batch_id: str, jsonl_path: Path, progress: ProgressFn | None = None
    ) -> int:
        """Index a downloaded results file, replacing the batch's earlier rows; returns rows.

        Malformed lines are skipped and counted (see `ingest_results_stats`).
        `progress(bytes_read, bytes_total)` is called about every 10,000 lines.
        """
        return self.ingest_results_stats(batch_id, jsonl_path, progress).rows

    def ingest_results_stats(
        self, batch_id: str, jsonl_path: Path, progress: ProgressFn | None = None
    ) -> IngestStats:
        from .ingest import ingest_file

        return ingest_file(lambda path: self.start_ingest(batch_id, path), jsonl_path, progress)

    def start_ingest(self, batch_id: str, raw_file: Path | None = None) -> Ingest:
        """An ingest fed as the bytes arrive (a download), replacing the batch's rows now.

        `raw_file`: the file that holds (a download: will hold) exactly the bytes fed; the
        rows then keep where their lines are in it, and reads take the lines from it
        (`raw_lines.py`). Without one, the rows keep their lines.

        Call `finish()` then `close()` (always): closing releases its private connection and
        starts the search-index build. The connection is the ingest's own: it hands it to a
        writer thread, so a progress callback reading the store here never shares it.
        """
        from .ingest import Ingest

        conn = self.db.connect(cache_kib=INGEST_CACHE_KIB)

        def closed() -> None:
            self.db.release(conn)
            self._indexer.start()

        try:
            return Ingest(conn, batch_id, on_close=closed, raw_file=raw_file)
        except BaseException:
            self.db.release(conn)
            raise

    def set_results_file(self, batch_id: str, path: Path | None, *, downloaded: bool) -> None:
        """Where the batch's raw results live, and whether the download completed."""
        record_results_file(self.db.conn(), batch_id, path, downloaded=downloaded)

    def results_file(self, batch_id: str) -> Path | None:
        row = (
            self.db.conn()
            .execute("SELECT results_path FROM batch_local WHERE batch_id = ?", (batch_id,))
            .fetchone()
        )
        return Path(row[0]) if row is not None and row[0] else None

    def completed_download(self, batch_id: str) -> int | None:
        """The rows indexed from a complete download whose file is on disk, else None
        (read afresh: another process may have just finished one)."""
        row = (
            self.db.conn()
            .execute(
                "SELECT results_path, results_indexed FROM batch_local"
                " WHERE batch_id = ? AND results_downloaded AND results_indexed > 0",
                (batch_id,),
            )
            .fetchone()
        )
        if row is None or not row[0] or not Path(row[0]).is_file():
            return None
        if not self.raw_lines_present(batch_id):
            return None
        return int(row[1])

    def raw_lines_present(self, batch_id: str) -> bool:
        """False when the batch's rows point into a results file that is gone or no longer
        has the size it had when indexed (`raw_lines.py`): its results need downloading
        again. (A file of the same size with other bytes is found when its lines are read.)"""
        return raw_file_intact(self.db.conn(), batch_id)

    # --- search index: built in the background after an ingest ---------------------------

    def resume_search_index(self) -> None:
        """Start the background build if a search index was left unfinished (an earlier
        process, an interrupted build) and no build runs."""
        if not self._indexer.running and fts_pending(self.db.conn()):
            self._indexer.start()

    def build_search_index(self) -> None:
        """Finish every pending search index on this thread (the background builder's job)."""
        build_fts(self.db.conn())

    def wait_search_index(self, timeout: float | None = None) -> bool:
        """Wait for the background builder; True when no search index is left pending."""
        self._indexer.wait(timeout)
        return not fts_pending(self.db.conn())

    def search_index_ready(self, batch_ids: Sequence[str]) -> bool:
        """True when searches over these batches use the full-text index (else a LIKE scan)."""
        return fts_complete(self.db.conn(), batch_ids)

    def close(self, *, index_wait_s: float) -> None:
        """Stop the builder (`index_wait_s` to finish first); the database closes it too."""
        self._indexer.stop(index_wait_s)

    # --- reads ----------------------------------------------------------------------------

    def query_results(
        self,
        batch_ids: Sequence[str],
        filt: ResultFilter,
        offset: int,
        limit: int,
        *,
        count: bool = True,
    ) -> ResultPage:
        """A page ordered by custom_id; totals of repeated filters are cached until new data.
        `count=False`: the page alone (see `queries.query`); `count_results` follows."""
        return queries.query(
            self.db.conn(), batch_ids, filt, offset, limit, self._totals, count=count
        )

    def count_results(self, batch_ids: Sequence[str], filt: ResultFilter = _ALL) -> int:
        return queries.cached_count(self.db.conn(), batch_ids, filt, self._totals)

    def result_detail(
        self, batch_id: str, custom_id: str
    ) -> tuple[ResultRow, str, str | None] | None:
        """(row, raw JSON line, params JSON from the manifest or None)."""
        return queries.detail(self.db.conn(), batch_id, custom_id)

    def result_summary(self, batch_ids: Sequence[str]) -> ResultSummary:
        return queries.summary(self.db.conn(), batch_ids)

    def iter_results(self, batch_ids: Sequence[str], filt: ResultFilter = _ALL) -> ResultStream:
        """Every matching (row, raw line), by custom_id, streamed in pages (for export)."""
        from .export_pages import ResultStream

        return ResultStream(self.db, batch_ids, filt)

    def failed_requests(
        self, batch_id: str, unlisted: ResultType | None = None
    ) -> list[FailedRequest]:
        """A batch's errored, expired and canceled requests, with parameters when known
        (`unlisted`: see `queries.failed_requests`)."""
        return queries.failed_requests(self.db.conn(), batch_id, unlisted)

    def succeeded_input_tokens(self, batch_id: str) -> list[tuple[str, int]]:
        """(custom_id, input tokens incl. cache reads and writes) of a batch's successes."""
        rows = self.db.conn().execute(
            "SELECT custom_id, input_tokens + cache_creation_input_tokens"
            " + cache_read_input_tokens FROM results WHERE batch_id = ? AND type = 'succeeded'",
            (batch_id,),
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    def error_types(self, batch_ids: Sequence[str]) -> dict[str, int]:
        return queries.error_types(self.db.conn(), batch_ids)


# Every public method is a tracked call (see `Database.close`), as the store's are.
track_calls(ResultsIndex)

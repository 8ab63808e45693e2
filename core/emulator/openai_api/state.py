"""The OpenAI emulator's SQLite state: files, batches, their requests and result lines.

Lifecycle is lazy, as in the Anthropic emulator: every request has the time it finishes, so a
batch's status is derived from the clock when read, and the moment a batch is seen ended
its output and error files are written and the end is persisted (its request rows are then
dropped: the files hold their lines, the batch its counts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from ..state import open_db
from .bodies import hex_id

US = 1_000_000
DAY_US = 86_400 * US
WINDOW_US = DAY_US  # completion_window "24h"
FILE_TTL_US = 30 * DAY_US  # batch files expire after 30 days unless told otherwise

_SCHEMA = """
CREATE TABLE IF NOT EXISTS oai_files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    expires_us INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    project TEXT NOT NULL DEFAULT '',
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS oai_batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    input_file_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    metadata TEXT,
    model TEXT,
    total INTEGER NOT NULL,
    validated_us INTEGER NOT NULL,
    errors TEXT,
    done_us INTEGER NOT NULL,
    final_us INTEGER NOT NULL,
    output_ttl_us INTEGER NOT NULL,
    cancel_us INTEGER,
    cancel_end_us INTEGER,
    ended_us INTEGER,
    end_status TEXT,
    n_completed INTEGER NOT NULL DEFAULT 0,
    n_failed INTEGER NOT NULL DEFAULT 0,
    in_tokens INTEGER NOT NULL DEFAULT 0,
    out_tokens INTEGER NOT NULL DEFAULT 0,
    output_file_id TEXT,
    error_file_id TEXT,
    project TEXT NOT NULL DEFAULT '',
    cached_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oai_requests (
    rid INTEGER PRIMARY KEY,
    batch_seq INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ready_us INTEGER,
    in_tokens INTEGER NOT NULL,
    out_tokens INTEGER NOT NULL,
    line BLOB,
    cached_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oai_requests_batch ON oai_requests(batch_seq, ready_us, kind);
"""

_BATCH_COLUMNS = (
    "seq, id, created_us, input_file_id, endpoint, metadata, model, total, validated_us, "
    "errors, done_us, final_us, output_ttl_us, cancel_us, cancel_end_us, ended_us, end_status, "
    "n_completed, n_failed, in_tokens, out_tokens, output_file_id, error_file_id, project, "
    "cached_tokens"
)
_FILE_COLUMNS = "seq, id, created_us, filename, purpose, bytes, expires_us, deleted"


@dataclass(frozen=True, slots=True)
class FileRecord:
    seq: int
    id: str
    created_us: int
    filename: str
    purpose: str
    bytes: int
    expires_us: int | None
    deleted: bool

    def gone(self, now_us: int) -> bool:
        return self.deleted or (self.expires_us is not None and now_us >= self.expires_us)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One row of `oai_batches`; counters and file ids are final once `ended_us` is set."""

    seq: int
    id: str
    created_us: int
    input_file_id: str
    endpoint: str
    metadata: str | None
    model: str | None
    total: int
    validated_us: int
    errors: str | None
    done_us: int
    final_us: int
    output_ttl_us: int
    cancel_us: int | None
    cancel_end_us: int | None
    ended_us: int | None
    end_status: str | None
    n_completed: int
    n_failed: int
    in_tokens: int
    out_tokens: int
    output_file_id: str | None
    error_file_id: str | None
    project: str  # "" is the default project
    cached_tokens: int = 0  # of in_tokens, read from the prompt cache

    @property
    def expires_us(self) -> int:
        return self.created_us + WINDOW_US

    def end(self) -> tuple[int, str]:
        """When the batch ends and as what, given no further cancel."""
        early_cancel = self.cancel_us is not None and self.cancel_us < self.validated_us
        if self.errors is not None and not early_cancel:
            return self.validated_us, "failed"
        if self.cancel_us is not None and self.cancel_end_us is not None:
            end, status = self.cancel_end_us, "cancelled"
        else:
            end, status = self.final_us, "completed"
            if self.done_us > self.expires_us:
                end, status = self.expires_us, "expired"
        if end > self.expires_us and status == "cancelled":
            end, status = self.expires_us, "expired"
        return end, status

    def cutoff(self, now_us: int) -> int:
        """Requests finishing by this time count as done: nothing completes after a cancel
        began or the window closed."""
        cut = min(now_us, self.expires_us)
        if self.ended_us is not None:
            cut = min(cut, self.ended_us)
        if self.cancel_us is not None:
            cut = min(cut, self.cancel_us)
        return cut

    def status(self, now_us: int) -> str:
        if self.end_status is not None:
            return self.end_status
        if self.cancel_us is not None:
            return "cancelling"
        if now_us < self.validated_us:
            return "validating"
        return "in_progress" if now_us < self.done_us else "finalizing"


@dataclass(frozen=True, slots=True)
class PendingRequest:
    custom_id: str
    kind: str  # completed | failed | unprocessed
    ready_us: int | None
    in_tokens: int
    out_tokens: int
    line: bytes | None
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class NewBatch:
    id: str
    created_us: int
    input_file_id: str
    endpoint: str
    metadata: dict[str, str] | None
    model: str | None
    validated_us: int
    errors: list[dict[str, Any]] | None
    done_us: int
    final_us: int
    output_ttl_us: int
    requests: list[PendingRequest]
    project: str = ""


def _batch(row: tuple[Any, ...]) -> BatchRecord:
    return BatchRecord(*row)


def _file(row: tuple[Any, ...]) -> FileRecord:
    values = list(row)
    values[7] = bool(values[7])
    return FileRecord(*values)


class OpenAIState:
    """Synchronous SQLite access from the server's event-loop thread."""

    def __init__(self, db_path: Path | None) -> None:
        self._db = open_db(db_path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def next_seq(self, table: str) -> int:
        row = self._db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
        ).fetchone()
        return (int(row[0]) if row else 0) + 1

    # --- files ---------------------------------------------------------------------------

    def add_file(
        self,
        file_id: str,
        created_us: int,
        filename: str,
        purpose: str,
        content: bytes,
        expires_us: int | None,
        project: str = "",
    ) -> FileRecord:
        cur = self._db.execute(
            "INSERT INTO oai_files (id, created_us, filename, purpose, bytes, expires_us, "
            "content, project) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (file_id, created_us, filename, purpose, len(content), expires_us, content, project),
        )
        return FileRecord(
            int(cur.lastrowid or 0),
            file_id,
            created_us,
            filename,
            purpose,
            len(content),
            expires_us,
            False,
        )

    def file(self, file_id: str, project: str = "") -> FileRecord | None:
        """The file if it belongs to `project` (another project's is as unknown as none)."""
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM oai_files WHERE id = ? AND project = ?",
            (file_id, project),
        ).fetchone()
        return _file(row) if row else None

    def content(self, file: FileRecord) -> bytes:
        row = self._db.execute(
            "SELECT content FROM oai_files WHERE seq = ?", (file.seq,)
        ).fetchone()
        return bytes(row[0])

    def delete_file(self, file: FileRecord) -> None:
        self._db.execute(
            "UPDATE oai_files SET deleted = 1, content = x'' WHERE seq = ?", (file.seq,)
        )

    def files(
        self,
        now_us: int,
        *,
        limit: int,
        after: str | None,
        ascending: bool,
        purpose: str | None,
        project: str = "",
    ) -> tuple[list[FileRecord], bool]:
        where = ["deleted = 0", "(expires_us IS NULL OR expires_us > ?)", "project = ?"]
        args: list[Any] = [now_us, project]
        if purpose:
            where.append("purpose = ?")
            args.append(purpose)
        if after:
            row = self._db.execute("SELECT seq FROM oai_files WHERE id = ?", (after,)).fetchone()
            if row is None:
                return [], False
            where.append("seq > ?" if ascending else "seq < ?")
            args.append(row[0])
        order = "ASC" if ascending else "DESC"
        rows = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM oai_files WHERE {' AND '.join(where)} "
            f"ORDER BY seq {order} LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        return [_file(r) for r in rows[:limit]], len(rows) > limit

    # --- batches -------------------------------------------------------------------------

    def insert_batch(self, new: NewBatch) -> BatchRecord:
        seq = self.insert_batches([new])[0]
        record = self._batch_where("seq = ?", seq)
        assert record is not None
        return record

    def insert_batches(self, batches: list[NewBatch]) -> list[int]:
        """Insert batches and their requests in one transaction; their sequence numbers."""
        db = self._db
        seqs: list[int] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for new in batches:
                cur = db.execute(
                    "INSERT INTO oai_batches (id, created_us, input_file_id, endpoint, metadata, "
                    "model, total, validated_us, errors, done_us, final_us, output_ttl_us, "
                    "project) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new.id,
                        new.created_us,
                        new.input_file_id,
                        new.endpoint,
                        orjson.dumps(new.metadata).decode() if new.metadata is not None else None,
                        new.model,
                        len(new.requests),
                        new.validated_us,
                        orjson.dumps(new.errors).decode() if new.errors is not None else None,
                        new.done_us,
                        new.final_us,
                        new.output_ttl_us,
                        new.project,
                    ),
                )
                seq = int(cur.lastrowid or 0)
                seqs.append(seq)
                db.executemany(
                    "INSERT INTO oai_requests (batch_seq, custom_id, kind, ready_us, in_tokens, "
                    "out_tokens, line, cached_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (
                            seq,
                            r.custom_id,
                            r.kind,
                            r.ready_us,
                            r.in_tokens,
                            r.out_tokens,
                            r.line,
                            r.cached_tokens,
                        )
                        for r in new.requests
                    ),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return seqs

    def _batch_where(self, where: str, *values: object) -> BatchRecord | None:
        row = self._db.execute(
            f"SELECT {_BATCH_COLUMNS} FROM oai_batches WHERE {where}", values
        ).fetchone()
        return _batch(row) if row else None

    def batch(self, batch_id: str, project: str = "") -> BatchRecord | None:
        return self._batch_where("id = ? AND project = ?", batch_id, project)

    def batch_any_project(self, batch_id: str) -> BatchRecord | None:
        return self._batch_where("id = ?", batch_id)

    def expire_files(self, record: BatchRecord, now_us: int) -> None:
        """The batch's input, output and error files expire at `now_us` (or when they were
        due, if sooner): gone from the API, their content dropped."""
        ids = [f for f in (record.input_file_id, record.output_file_id, record.error_file_id) if f]
        marks = ", ".join("?" * len(ids))
        self._db.execute(
            "UPDATE oai_files SET expires_us = min(coalesce(expires_us, ?), ?), content = x''"
            f" WHERE id IN ({marks}) AND project = ?",
            (now_us, now_us, *ids, record.project),
        )

    def batches(
        self, limit: int, after: str | None, project: str = ""
    ) -> tuple[list[BatchRecord], bool]:
        """Newest first; `after` pages towards older batches; only `project`'s."""
        where, args = "project = ?", [project]
        if after:
            row = self._db.execute("SELECT seq FROM oai_batches WHERE id = ?", (after,)).fetchone()
            if row is None:
                return [], False
            where, args = "project = ? AND seq < ?", [project, row[0]]
        rows = self._db.execute(
            f"SELECT {_BATCH_COLUMNS} FROM oai_batches WHERE {where} ORDER BY seq DESC LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        return [_batch(r) for r in rows[:limit]], len(rows) > limit

    def live_counts(self, record: BatchRecord, cutoff_us: int) -> tuple[int, int]:
        """(completed, failed) among the requests finished by `cutoff_us`."""
        counts = {"completed": 0, "failed": 0}
        for kind, n in self._db.execute(
            "SELECT kind, COUNT(*) FROM oai_requests WHERE batch_seq = ? AND ready_us <= ? "
            "GROUP BY kind",
            (record.seq, cutoff_us),
        ):
            counts[kind] = n
        return counts["completed"], counts["failed"]

    def cancel(self, record: BatchRecord, now_us: int, delay_us: int) -> BatchRecord:
        self._db.execute(
            "UPDATE oai_batches SET cancel_us = ?, cancel_end_us = ? WHERE seq = ?",
            (now_us, now_us + delay_us, record.seq),
        )
        return replace(record, cancel_us=now_us, cancel_end_us=now_us + delay_us)

    def settle(self, record: BatchRecord, now_us: int, file_ids: tuple[str, str]) -> BatchRecord:
        """Persist the end the clock says has happened, writing the output and error files
        (`file_ids`: the ids they get)."""
        if record.ended_us is not None:
            return record
        end, status = record.end()
        if now_us < end:
            return record
        cut = record.cutoff(end)
        output: list[bytes] = []
        errors: list[bytes] = []
        n_completed = n_failed = in_tokens = out_tokens = cached_tokens = 0
        for custom_id, kind, ready, tin, tout, line, tcached in self._db.execute(
            "SELECT custom_id, kind, ready_us, in_tokens, out_tokens, line, cached_tokens "
            "FROM oai_requests "
            "WHERE batch_seq = ? ORDER BY rid",
            (record.seq,),
        ):
            if ready is not None and ready <= cut:
                if kind == "completed":
                    output.append(line)
                    n_completed += 1
                    in_tokens += tin
                    out_tokens += tout
                    cached_tokens += tcached
                else:
                    errors.append(line)
                    n_failed += 1
            elif status == "expired":
                # in the error file, but not counted: `failed` counts the requests that ran
                # and failed; the batch's expiry kept this one from running
                errors.append(expired_line(record.id, custom_id))
        out_id = err_id = None
        ttl = record.output_ttl_us
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for lines, file_id, kind in (
                (output, file_ids[0], "output"),
                (errors, file_ids[1], "error"),
            ):
                if not lines:
                    continue
                content = b"\n".join(lines) + b"\n"
                db.execute(
                    "INSERT INTO oai_files (id, created_us, filename, purpose, bytes, "
                    "expires_us, content, project) VALUES (?, ?, ?, 'batch_output', ?, ?, ?, ?)",
                    (
                        file_id,
                        end,
                        f"{record.id}_{kind}.jsonl",
                        len(content),
                        end + ttl,
                        content,
                        record.project,
                    ),
                )
                if kind == "output":
                    out_id = file_id
                else:
                    err_id = file_id
            db.execute(
                "UPDATE oai_batches SET ended_us = ?, end_status = ?, n_completed = ?, "
                "n_failed = ?, in_tokens = ?, out_tokens = ?, output_file_id = ?, "
                "error_file_id = ?, cached_tokens = ? WHERE seq = ?",
                (
                    end,
                    status,
                    n_completed,
                    n_failed,
                    in_tokens,
                    out_tokens,
                    out_id,
                    err_id,
                    cached_tokens,
                    record.seq,
                ),
            )
            # the files hold every line now and the batch its counts: its requests are read
            # no more (an emulator that runs for hours keeps each reply once, not twice)
            db.execute("DELETE FROM oai_requests WHERE batch_seq = ?", (record.seq,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return replace(
            record,
            ended_us=end,
            end_status=status,
            n_completed=n_completed,
            n_failed=n_failed,
            in_tokens=in_tokens,
            cached_tokens=cached_tokens,
            out_tokens=out_tokens,
            output_file_id=out_id,
            error_file_id=err_id,
        )


def expired_line(batch_id: str, custom_id: str) -> bytes:
    return orjson.dumps(
        {
            "id": "batch_req_" + hex_id("req", batch_id, custom_id),
            "custom_id": custom_id,
            "response": None,
            "error": {
                "code": "batch_expired",
                "message": "This request could not be executed before the completion window"
                " expired.",
            },
        }
    )

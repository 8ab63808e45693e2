"""SQL shared by the results package: how a result row finds its input text (its batch's
manifest, linked before an ingest), what search sees as its output text, and where a batch's
raw results file is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..sqlite_util import Columns, write_txn

MANIFEST_ENTRY = "mi.job_id = ri.job_id AND mi.part = ri.part AND mi.custom_id = r.custom_id"
"""How a row of `results r` finds its entry `mi` in the manifest its batch links `ri` to."""

INPUT_TEXT = (
    "coalesce(r.input_text, (SELECT mi.input_text FROM result_inputs ri JOIN manifests mi"
    f" ON {MANIFEST_ENTRY} WHERE ri.batch_id = r.batch_id))"
)
"""A row's input text (of `results r`): read from its batch's manifest (see `result_inputs`);
rows ingested by a store older than schema 3 hold a copy of it themselves. FTS indexing and
de-indexing use this same expression."""

INPUT_JOIN = (
    " LEFT JOIN result_inputs ri ON ri.batch_id = r.batch_id"
    f" LEFT JOIN manifests mi ON {MANIFEST_ENTRY}"
)
INPUT_JOINED = "coalesce(r.input_text, mi.input_text)"
"""`INPUT_TEXT` where the query has `INPUT_JOIN` (see `_Source.with_inputs`): rows read in
custom_id order probe the manifest in order, and a CSV line uses the value eight times."""

ROW = Columns(
    ("batch_id", "r.batch_id"),
    ("custom_id", "r.custom_id"),
    ("type", "r.type"),
    ("stop_reason", "r.stop_reason"),
    ("input_tokens", "r.input_tokens"),
    ("output_tokens", "r.output_tokens"),
    ("cache_creation_input_tokens", "r.cache_creation_input_tokens"),
    ("cache_read_input_tokens", "r.cache_read_input_tokens"),
    ("model", "r.model"),
    ("text", "r.text"),
    ("error_type", "r.error_type"),
    ("error_message", "r.error_message"),
    ("input_text", INPUT_JOINED),
    ("original_id", "mi.original_id"),
    ("cost_usd", "r.cost_usd"),
    ("thinking", "r.thinking"),
    ("tool_calls", "r.tool_calls"),
    ("tool_names", "r.tool_names"),
    ("citations", "r.citations"),
    ("stop_details", "r.stop_details"),
)
"""A `ResultRow`'s columns (the query has `INPUT_JOIN`), named as its fields."""
RAW_AT = len(ROW)
"""Where `r.raw` is in a row that selects it right after `ROW`."""


def manifest_key(conn: sqlite3.Connection, batch_id: str) -> tuple[str, int] | None:
    """The (job, part) whose manifest describes a batch's requests.

    A retry batch without a manifest of its own uses its parent's (following the chain).
    """
    seen: set[str] = set()
    current: str | None = batch_id
    while current is not None and current not in seen:
        seen.add(current)
        row = conn.execute(
            "SELECT job_id, job_part, parent_batch_id FROM batch_local WHERE batch_id = ?",
            (current,),
        ).fetchone()
        if row is None:
            return None
        job_id, part, parent = row
        if job_id is not None and part is not None:
            exists = conn.execute(
                "SELECT 1 FROM manifests WHERE job_id = ? AND part = ? LIMIT 1", (job_id, part)
            ).fetchone()
            if exists:
                return (job_id, int(part))
        current = parent
    return None


def link_inputs(conn: sqlite3.Connection, batch_id: str) -> None:
    """Record which manifest gives the input texts of a batch's results (before an ingest)."""
    key = manifest_key(conn, batch_id)
    if key is None:
        conn.execute("DELETE FROM result_inputs WHERE batch_id = ?", (batch_id,))
    else:
        conn.execute(
            "INSERT OR REPLACE INTO result_inputs (batch_id, job_id, part) VALUES (?, ?, ?)",
            (batch_id, *key),
        )


SEARCH_TEXT = "coalesce(nullif(r.text, ''), r.error_message, '')"
"""What search sees as a row's output (of `results r`): its text, or for a failed request
its error message (so searching "overloaded" finds those rows). Indexing and de-indexing must
use the same expression: the FTS table is external-content and is told exactly what to
remove."""


def record_results_file(
    conn: sqlite3.Connection, batch_id: str, path: Path | None, *, downloaded: bool
) -> None:
    """Where the batch's raw results live, and whether the download completed."""
    with write_txn(conn):
        conn.execute(
            "INSERT INTO batch_local (batch_id, results_path, results_downloaded)"
            " VALUES (?, ?, ?) ON CONFLICT (batch_id) DO UPDATE SET"
            " results_path = excluded.results_path,"
            " results_downloaded = excluded.results_downloaded",
            (batch_id, str(path) if path is not None else None, int(downloaded)),
        )

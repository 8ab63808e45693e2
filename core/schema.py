"""The store's SQLite schema as an ordered list of forward migrations.

`PRAGMA user_version` records how many migrations a database has applied. Opening a database
applies the missing ones, each in its own `BEGIN IMMEDIATE` transaction (so two processes
opening an old file at once cannot both migrate it). To change the schema, append a new
migration to `MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .errors import UserError
from .sqlite_util import begin_immediate

# Substring search (the user types a fragment of an id, a word, a phrase): the trigram
# tokenizer matches any substring of 3+ characters, case-insensitively.
FTS_TOKENIZER = "trigram"

_MIGRATION_1: tuple[str, ...] = (
    # Remote state, exactly as the API last described each batch.
    """
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        processing INTEGER NOT NULL DEFAULT 0,
        succeeded INTEGER NOT NULL DEFAULT 0,
        errored INTEGER NOT NULL DEFAULT 0,
        canceled INTEGER NOT NULL DEFAULT 0,
        expired INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        ended_at TEXT,
        cancel_initiated_at TEXT,
        archived_at TEXT,
        results_url TEXT,
        seen_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX batches_created ON batches (created_at DESC)",
    "CREATE INDEX batches_status ON batches (status)",
    # What batchtop knows locally. Kept apart from `batches` so metadata can be recorded
    # (right after a create call, say) before the first refresh has stored the remote row.
    """
    CREATE TABLE batch_local (
        batch_id TEXT PRIMARY KEY,
        label TEXT,
        note TEXT,
        job_id TEXT,
        job_part INTEGER,
        parent_batch_id TEXT,
        model TEXT,
        estimated_cost_usd REAL,
        deleted INTEGER NOT NULL DEFAULT 0,
        results_path TEXT,
        results_downloaded INTEGER NOT NULL DEFAULT 0,
        results_indexed INTEGER NOT NULL DEFAULT 0,
        results_malformed INTEGER NOT NULL DEFAULT 0,
        actual_cost_usd REAL
    )
    """,
    "CREATE INDEX batch_local_job ON batch_local (job_id, job_part)",
    """
    CREATE TABLE snapshots (
        batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        processing INTEGER NOT NULL,
        succeeded INTEGER NOT NULL,
        errored INTEGER NOT NULL,
        canceled INTEGER NOT NULL,
        expired INTEGER NOT NULL
    )
    """,
    "CREATE INDEX snapshots_batch ON snapshots (batch_id, at)",
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        source TEXT,
        created_at TEXT NOT NULL
    )
    """,
    # The submission journal: an intent is written before the create call.
    """
    CREATE TABLE intents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        part INTEGER NOT NULL,
        request_count INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL,
        batch_id TEXT,
        error TEXT
    )
    """,
    "CREATE INDEX intents_job ON intents (job_id, part)",
    "CREATE INDEX intents_state ON intents (state)",
    """
    CREATE TABLE manifests (
        job_id TEXT NOT NULL,
        part INTEGER NOT NULL,
        custom_id TEXT NOT NULL,
        input_text TEXT,
        params_json TEXT NOT NULL,
        PRIMARY KEY (job_id, part, custom_id)
    ) WITHOUT ROWID
    """,
    # The results index: one row per result line; `raw` is the line itself.
    """
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        custom_id TEXT NOT NULL,
        type TEXT NOT NULL,
        stop_reason TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
        model TEXT,
        text TEXT NOT NULL DEFAULT '',
        error_type TEXT,
        error_message TEXT,
        input_text TEXT,
        cost_usd REAL,
        raw TEXT NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX results_batch_cid ON results (batch_id, custom_id)",
    "CREATE INDEX results_batch_type ON results (batch_id, type, custom_id)",
    "CREATE INDEX results_batch_error ON results (batch_id, error_type, custom_id)"
    " WHERE error_type IS NOT NULL",
    # External-content FTS over the output and input text, kept in sync by the results
    # index module (bulk statements per ingest chunk, not per-row triggers: much faster).
    f"""
    CREATE VIRTUAL TABLE results_fts USING fts5 (
        text, input_text, content='results', content_rowid='id', tokenize='{FTS_TOKENIZER}'
    )
    """,
)

# Search indexing leaves the ingest's critical path: rows are committed (and browsable) first,
# the FTS index is built right after in short transactions. A batch with a row here is not
# fully indexed yet: its searches use the LIKE scan (same results, slower). `next_id` is the
# first row id not indexed yet; `last_id` the batch's last row id, -1 while its ingest is
# still writing rows. Version-1 stores indexed rows in the ingest transaction: nothing pending.
_MIGRATION_2: tuple[str, ...] = (
    """
    CREATE TABLE results_fts_pending (
        batch_id TEXT PRIMARY KEY,
        next_id INTEGER NOT NULL,
        last_id INTEGER NOT NULL
    )
    """,
)

# Results arrive in random custom_id order, so every index on them is written at random
# places; the ingest's cost was mostly that (see bench/HISTORY.md). Two changes:
# - Input texts are read from the manifest when rows are read, not copied into each row at
#   ingest (a random manifest lookup per row): `result_inputs` names the manifest a batch's
#   results take their inputs from. Rows ingested before keep their copied `input_text`.
# - The (batch, type) index holds only the rows that did not succeed, the few that status
#   filters look for (queries add the index's condition; succeeded rows are most of a batch
#   and are found through `results_batch_cid`).
_MIGRATION_3: tuple[str, ...] = (
    """
    CREATE TABLE result_inputs (
        batch_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        part INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    "DROP INDEX results_batch_type",
    "CREATE INDEX results_batch_failed ON results (batch_id, type, custom_id)"
    " WHERE type <> 'succeeded'",
)

# The statistics view (core/stats.py) aggregates a batch's results by outcome, stop reason
# and model, and buckets their token counts: through this covering index it reads a few MB
# of index instead of every full row (text and raw line included) of a 100k-result batch.
_MIGRATION_4: tuple[str, ...] = (
    "CREATE INDEX results_stats ON results (batch_id, type, error_type, stop_reason, model,"
    " output_tokens, input_tokens, cache_creation_input_tokens, cache_read_input_tokens,"
    " cost_usd)",
)

# A custom_id made from an invalid id of the input (`--id-field`) keeps that original id
# beside it, for the results viewer and exports.
_MIGRATION_5: tuple[str, ...] = ("ALTER TABLE manifests ADD COLUMN original_id TEXT",)

# What the store knows about itself, as keys and values: how far the first listing of the
# workspace got (`list_cursor`: the last batch id stored, to continue from after an
# interruption; `list_complete`: the whole list was walked once) and which endpoint and
# workspace it holds (`base_url`, `workspace_id`, `organization_id`). An older store has
# none: its listing is completed by the next refresh, its scope recorded by the next call.
_MIGRATION_6: tuple[str, ...] = (
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)

# The submission journal proves which batch is ours (a batch of another client on the same
# workspace may look alike) and lets a half-submitted job be finished:
# - an intent keeps the server clock's offset when it was written, when its last create
#   attempt ended (unknown after a crash), and the batches that could be its own but are
#   not proven yet ("unknown: not adopted", space-separated ids);
# - a job keeps the hash of its prepared requests (one job per content: unique), how many
#   parts it has and where its prepared part files wait until every part is created.
_MIGRATION_7: tuple[str, ...] = (
    "ALTER TABLE intents ADD COLUMN server_offset_s REAL",
    "ALTER TABLE intents ADD COLUMN attempt_ended_at TEXT",
    "ALTER TABLE intents ADD COLUMN candidates TEXT",
    "ALTER TABLE jobs ADD COLUMN content_hash TEXT",
    "ALTER TABLE jobs ADD COLUMN part_count INTEGER",
    "ALTER TABLE jobs ADD COLUMN prepared_path TEXT",
    "CREATE UNIQUE INDEX jobs_content ON jobs (content_hash) WHERE content_hash IS NOT NULL",
)

# The statistics view's rows, one per result, in the order its aggregates read them
# (core/stats.py). Migration 4's covering index on `results` made every ingest ~25% slower
# (a random B-tree insert per row); this table is filled after the ingest instead, in short
# steps off its critical path (or by the first statistics query), and a batch uses it once
# `result_facts_built` says it holds exactly the batch's rows. NULLs are stored as ''
# (primary-key columns of a WITHOUT ROWID table are NOT NULL).
_MIGRATION_8: tuple[str, ...] = (
    "DROP INDEX IF EXISTS results_stats",
    """
    CREATE TABLE result_facts (
        batch_id TEXT NOT NULL,
        type TEXT NOT NULL,
        error_type TEXT NOT NULL,
        stop_reason TEXT NOT NULL,
        model TEXT NOT NULL,
        output_tokens INTEGER NOT NULL,
        input_total INTEGER NOT NULL,
        cost_usd REAL,
        id INTEGER NOT NULL,
        PRIMARY KEY (batch_id, type, error_type, stop_reason, model, output_tokens, id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE result_facts_built (
        batch_id TEXT PRIMARY KEY,
        rows INTEGER NOT NULL,
        max_id INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
)

# The statistics view's numbers of one batch, computed once from its facts (core/stats.py
# `summarise`, right after they are built) so that opening the view reads a few rows instead
# of grouping 100k facts: the breakdown's groups, the token histograms' non-empty bins (with
# the bin width they were counted with) and the top lists' result ids. `summary_rows` says
# for how many facts they were computed (NULL: not yet); an ingest that replaces the batch's
# rows drops the `result_facts_built` row, and with it that mark.
_MIGRATION_9: tuple[str, ...] = (
    "ALTER TABLE result_facts_built ADD COLUMN summary_rows INTEGER",
    """
    CREATE TABLE result_groups (
        batch_id TEXT NOT NULL,
        type TEXT NOT NULL,
        error_type TEXT NOT NULL,
        stop_reason TEXT NOT NULL,
        model TEXT NOT NULL,
        n INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        max_output_tokens INTEGER,
        max_input_total INTEGER,
        priced INTEGER NOT NULL,
        PRIMARY KEY (batch_id, type, error_type, stop_reason, model)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE result_bins (
        batch_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        bin INTEGER NOT NULL,
        width INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (batch_id, kind, bin)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE result_top (
        batch_id TEXT NOT NULL,
        list TEXT NOT NULL,
        rank INTEGER NOT NULL,
        result_id INTEGER NOT NULL,
        PRIMARY KEY (batch_id, list, rank)
    ) WITHOUT ROWID
    """,
)

# Batches of more than one provider (core/providers/): each batch says whose it is, and the
# provider's own status and batch fields when they say more than the neutral ones (OpenAI's
# `validating`/`finalizing`, its endpoint and input, output and error files, the submission
# id batchtop put in its metadata). Every batch stored before is an Anthropic one.
_MIGRATION_10: tuple[str, ...] = (
    "ALTER TABLE batches ADD COLUMN provider TEXT NOT NULL DEFAULT 'anthropic'",
    "ALTER TABLE batches ADD COLUMN provider_status TEXT",
    "ALTER TABLE batches ADD COLUMN endpoint TEXT",
    "ALTER TABLE batches ADD COLUMN input_file_id TEXT",
    "ALTER TABLE batches ADD COLUMN output_file_id TEXT",
    "ALTER TABLE batches ADD COLUMN error_file_id TEXT",
    "ALTER TABLE batches ADD COLUMN submission_id TEXT",
)

# The `anthropic-beta` values a job's batches were created with (comma-separated, as the
# header carries them; NULL: none). A batch shows its job's.
_MIGRATION_11: tuple[str, ...] = ("ALTER TABLE jobs ADD COLUMN betas TEXT",)

# What a result's blocks say, per row (core/result_blocks.block_facts, filled by the ingest):
# it thought (thinking or redacted thinking), its tool calls (client and server: how many,
# which tools, each once in order, comma-separated), the citations of its text, and the
# `stop_details` the API gave (JSON). Rows indexed before are filled from their raw line.
_TOOL_BLOCK = "json_extract(value, '$.type') IN ('tool_use', 'server_tool_use')"
_BLOCKS = "json_each(raw, '$.result.message.content')"
_MIGRATION_12: tuple[str, ...] = (
    "ALTER TABLE results ADD COLUMN thinking INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE results ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE results ADD COLUMN tool_names TEXT",
    "ALTER TABLE results ADD COLUMN citations INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE results ADD COLUMN stop_details TEXT",
    f"""
    UPDATE results SET
        thinking = EXISTS (SELECT 1 FROM {_BLOCKS}
            WHERE json_extract(value, '$.type') IN ('thinking', 'redacted_thinking')),
        tool_calls = (SELECT count(*) FROM {_BLOCKS} WHERE {_TOOL_BLOCK}),
        tool_names = (SELECT group_concat(name, ',') FROM (
            SELECT json_extract(value, '$.name') AS name, min(key) AS first FROM {_BLOCKS}
            WHERE {_TOOL_BLOCK} AND json_type(value, '$.name') = 'text'
            GROUP BY name ORDER BY first)),
        citations = (SELECT coalesce(sum(json_array_length(value, '$.citations')), 0)
            FROM {_BLOCKS} WHERE json_extract(value, '$.type') = 'text'
            AND json_type(value, '$.citations') = 'array'),
        stop_details = CASE WHEN json_type(raw, '$.result.message.stop_details') = 'object'
            THEN json_extract(raw, '$.result.message.stop_details') END
    WHERE type = 'succeeded' AND json_valid(raw)
        AND json_type(raw, '$.result.message.content') = 'array'
    """,
)

# Why a provider failed a whole batch (OpenAI's `errors.data`: its input file did not
# validate), as a JSON list of {code, message, line, param}; NULL: none.
_MIGRATION_13: tuple[str, ...] = ("ALTER TABLE batches ADD COLUMN errors TEXT",)

# A change counter per batch (`batch_changes`): every write that changes what a batch row
# shows (its remote columns, its local row: label, note, deletion, job, results, costs) gives
# the batch the next number, by trigger, whoever writes it: this process, another batchtop on
# the same data directory, the results wing. A reader that remembers the highest number it
# has seen reads exactly the rows written since (`Store.changed_since`), cheaply (an index
# range). Numbers only grow: batches are never removed, so `max(seq)` never goes back.
_BUMP = (
    "INSERT INTO batch_changes (batch_id, seq) VALUES ({id},"
    " coalesce((SELECT max(seq) FROM batch_changes), 0) + 1)"
    " ON CONFLICT (batch_id) DO UPDATE SET seq = excluded.seq;"
)
_SHOWN_REMOTE = (
    "status", "processing", "succeeded", "errored", "canceled", "expired", "created_at",
    "expires_at", "ended_at", "cancel_initiated_at", "archived_at", "results_url",
    "provider", "provider_status", "endpoint", "input_file_id", "output_file_id",
    "error_file_id", "submission_id", "errors",
)  # fmt: skip
_MIGRATION_14: tuple[str, ...] = (
    "CREATE TABLE batch_changes (batch_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE)"
    " WITHOUT ROWID",
    "CREATE TRIGGER batches_inserted AFTER INSERT ON batches BEGIN "
    + _BUMP.format(id="NEW.id")
    + " END",
    "CREATE TRIGGER batches_updated AFTER UPDATE ON batches WHEN "
    + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _SHOWN_REMOTE)
    + " BEGIN "
    + _BUMP.format(id="NEW.id")
    + " END",
    "CREATE TRIGGER batch_local_inserted AFTER INSERT ON batch_local BEGIN "
    + _BUMP.format(id="NEW.batch_id")
    + " END",
    "CREATE TRIGGER batch_local_updated AFTER UPDATE ON batch_local BEGIN "
    + _BUMP.format(id="NEW.batch_id")
    + " END",
)

# A downloaded results file is kept, so a row no longer copies its line into `raw` (a third
# of what an ingest wrote): it keeps where the line is in the file (`raw_at`, `raw_len`: the
# line without its line end) and the line's CRC-32 (`raw_crc`), and `raw` is ''. The batch
# says which file (`raw_file`, an absolute path) and its size when indexed (`raw_size`);
# reads check both and each line (core/results/raw_lines.py). Rows indexed before keep their
# lines in `raw` (`raw_at` NULL), as do rows of an ingest fed with no file behind it.
_MIGRATION_15: tuple[str, ...] = (
    "ALTER TABLE results ADD COLUMN raw_at INTEGER",
    "ALTER TABLE results ADD COLUMN raw_len INTEGER",
    "ALTER TABLE results ADD COLUMN raw_crc INTEGER",
    "ALTER TABLE batch_local ADD COLUMN raw_file TEXT",
    "ALTER TABLE batch_local ADD COLUMN raw_size INTEGER",
)

# An estimate that counts input only (OpenAI requests without an output budget): the
# figure is a floor, shown as one ("~$0.03+"), never as the whole cost.
_MIGRATION_16: tuple[str, ...] = (
    "ALTER TABLE batch_local ADD COLUMN estimate_floor INTEGER NOT NULL DEFAULT 0",
)

# The CRC-32 of the whole results file as indexed: an export that reads the file whole checks
# it once (~10 ms for 66 MB) instead of each line's (100,000 CRCs and lengths in Python took
# 40 ms of a 300 ms export). Batches indexed before have none and keep the per-line checks.
_MIGRATION_17: tuple[str, ...] = ("ALTER TABLE batch_local ADD COLUMN raw_file_crc INTEGER",)

MIGRATIONS: Sequence[Sequence[str]] = (
    _MIGRATION_1,
    _MIGRATION_2,
    _MIGRATION_3,
    _MIGRATION_4,
    _MIGRATION_5,
    _MIGRATION_6,
    _MIGRATION_7,
    _MIGRATION_8,
    _MIGRATION_9,
    _MIGRATION_10,
    _MIGRATION_11,
    _MIGRATION_12,
    _MIGRATION_13,
    _MIGRATION_14,
    _MIGRATION_15,
    _MIGRATION_16,
    _MIGRATION_17,
)
"""Migration N (1-based) upgrades a database from user_version N-1 to N."""

SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Bring the database up to date; return the number of migrations applied.

    `conn` must be in autocommit mode (isolation_level=None): each migration runs in its own
    explicit transaction together with the user_version bump, so a crash never leaves a
    half-migrated file.
    """
    target = len(migrations)
    if user_version(conn) == target:
        return 0
    applied = 0
    while True:
        begin_immediate(conn)
        try:
            current = user_version(conn)  # re-read under the write lock
            if current > target:
                raise UserError(
                    f"The batchtop database was written by a newer version (schema {current},"
                    f" this version knows {target}); upgrade batchtop."
                )
            if current == target:
                conn.execute("COMMIT")
                return applied
            for statement in migrations[current]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
            applied += 1
        except BaseException:
            conn.execute("ROLLBACK")
            raise

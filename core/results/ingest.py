"""Results lines → rows of the results index, fed in chunks as they arrive (file or stream).

The parsing (orjson, Python) runs on the thread that feeds the bytes; SQLite runs on a
writer thread. Each write is one multi-row `INSERT … VALUES (…), (…), …` of
`ROWS_PER_INSERT` rows: the writer takes the GIL once per statement, not once per row, so
parsing and inserting really overlap (with `executemany` the writer waited for the GIL after
every row and the two mostly took turns). An ingest of a file (every download) does not copy
the raw lines: each row keeps its line's offset, length and CRC-32 in the file, which reads
take it from (`raw_lines.py`). Fed with no file behind it, a row keeps its line as bytes
(orjson validates them, SQLite stores them as text): no decode and re-encode in Python.
Rows are sorted by custom_id within a statement (the index inserts walk their B-trees in
order) and committed in large transactions: an index page changed by many small commits is
written to the WAL again by each of them (5,000-row commits wrote 269 MB of WAL for 100,000
rows, one commit 139 MB).
A transaction still never stays open longer than `COMMIT_S`, or `IDLE_COMMIT_S` while the
writer waits for rows (a slow download never holds the store's write lock).

Search indexing is not done here (see `search.build_fts_step`): rows are browsable as
soon as they are committed, and the batch's FTS index is built right after the ingest.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import operator
import os
import queue
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import orjson

from ..errors import UserError
from ..models import ResultType
from ..pricing import cost_usd
from ..providers.openai_lines import is_openai_line, neutral_result
from ..result_blocks import content_facts, plain_text
from ..sqlite_util import begin_immediate, write_txn
from .sql import INPUT_TEXT, SEARCH_TEXT, link_inputs, record_results_file

ProgressFn = Callable[[int, int], None]
"""progress(done, total): bytes read of the results file while ingesting."""

# Rows per INSERT statement (fewer if SQLite takes fewer variables). About four statements
# worth of rows are alive at once (being parsed, queued, inserted): 2,000 raised the peak
# RSS of a 300k-row download by 16 MB over 1,000, which was as fast.
ROWS_PER_INSERT = 1_000
COMMIT_S = 1.0  # longest a write transaction stays open while rows keep coming
IDLE_COMMIT_S = 0.2  # ... or while the writer waits for more rows
FEED_BYTES = 1 << 20  # file ingest: bytes parsed per piece (and per progress call)
QUEUED_INSERTS = 2  # statements waiting for the writer: bounds the memory in flight

_RESULT_TYPES = frozenset(t.value for t in ResultType)
# Each column with the SQL its value is bound through. The sqlite3 module binds an exact
# int, float or str (and a bytearray) directly, but runs anything else, None and bytes
# included, through its adapter lookup, which on CPython 3.11 formats and discards an
# AttributeError each time: ~20% of the ingest's CPU, on the writer thread holding the GIL.
# So `parse_line` returns no None and no bytes: a missing text is the int 0 (`NULLIF(?, 0)`:
# a text is never equal to an integer), a missing cost is '' (`NULLIF(?, '')`), and the raw
# line is a bytearray (stored as text).
_NO_TEXT = 0
_NO_COST = ""
_BOUND = (
    ("custom_id", "?"),
    ("type", "?"),
    ("stop_reason", "NULLIF(?, 0)"),
    ("input_tokens", "?"),
    ("output_tokens", "?"),
    ("cache_creation_input_tokens", "?"),
    ("cache_read_input_tokens", "?"),
    ("model", "NULLIF(?, 0)"),
    ("text", "?"),
    ("error_type", "NULLIF(?, 0)"),
    ("error_message", "NULLIF(?, 0)"),
    ("cost_usd", "NULLIF(?, '')"),
    ("thinking", "?"),
    ("tool_calls", "?"),
    ("tool_names", "NULLIF(?, 0)"),
    ("citations", "?"),
    ("stop_details", "NULLIF(?, 0)"),
    ("raw", "CAST(? AS TEXT)"),
)
_COLUMNS = ", ".join(name for name, _ in _BOUND)
_WIDTH = len(_BOUND)  # values per row as `parse_line` returns them, raw last
# An ingest of a file (a download, a file on disk) keeps each line where it is: the row
# holds the line's offset and length in the file and a CRC-32 of its bytes (reads check
# it, `raw_lines.py`), and `raw` is left empty. Copying the lines into SQLite was a third
# of the writer's work (82 of the 117 MB it wrote to the WAL for 100k results).
_BOUND_AT = (*_BOUND[:-1], ("raw_at", "?"), ("raw_len", "?"), ("raw_crc", "?"))
_COLUMNS_AT = ", ".join(name for name, _ in _BOUND_AT) + ", raw"
_WIDTH_AT = len(_BOUND_AT)
_COST_AT = 11  # where the cost is in a row
_FIXED = 1  # ?1 the batch id


@dataclass(frozen=True, slots=True)
class IngestStats:
    rows: int
    malformed: int  # lines that are not a result object (skipped)
    duplicates: int  # repeated custom_ids (the first line wins)
    cost_usd: float | None


# --- parsing ------------------------------------------------------------------------------

_MAX_INT = 1 << 62  # SQLite stores 64-bit integers


def _int(value: Any) -> int:
    """A token count; anything else (or absurd) counts as 0."""
    return value if type(value) is int and 0 <= value < _MAX_INT else 0


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _text(value: Any) -> str | int:
    """A text column's value as bound: the string, or `_NO_TEXT` (stored as NULL)."""
    return value if type(value) is str else _NO_TEXT


def message_text(content: Any) -> str:
    """The text of a Message: its text blocks concatenated; tool calls as one JSON line each."""
    if not isinstance(content, list):
        return ""
    if len(content) == 1:  # the usual shape: one text block
        block = content[0]
        if type(block) is dict and block.get("type") == "text":
            text = block.get("text")
            return text if type(text) is str else ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str):
                parts.append(text)
        elif kind in ("tool_use", "server_tool_use"):
            call = {"tool_use": block.get("name"), "input": block.get("input")}
            sep = "\n" if parts and not parts[-1].endswith("\n") else ""
            parts.append(sep + orjson.dumps(call).decode() + "\n")
    return "".join(parts).rstrip("\n") if len(parts) > 1 else "".join(parts)


CostMemo = dict[tuple[Any, ...], float | None]
_COST_MEMO_MAX = 50_000


def _row_cost(
    model: str,
    in_tok: int,
    out_tok: int,
    cache_w: int,
    cache_r: int,
    cache_1h: int,
    memo: CostMemo | None,
) -> float | None:
    """Cost at batch price, the cache writes split into 5-minute and 1-hour ones.

    `memo` remembers costs by (model, token counts) during one ingest: the price lookup
    (model aliases, a regex) was half the parsing time, and usages repeat a lot.
    """
    key = (model, in_tok, out_tok, cache_w, cache_r, cache_1h)
    if memo is not None:
        try:
            return memo[key]
        except KeyError:
            pass
    cost = cost_usd(
        model, in_tok, out_tok, cache_w - cache_1h, cache_r, True, cache_creation_1h=cache_1h
    )
    if memo is not None and len(memo) < _COST_MEMO_MAX:
        memo[key] = cost
    return cost


_NO_FACTS = (0, 0, _NO_TEXT, 0, _NO_TEXT)  # `result_blocks.NO_FACTS` as bound


def _succeeded_row(
    custom_id: str,
    model: str | None,
    content: Any,
    stop_reason: Any,
    details: Any,
    counts: tuple[int, int, int, int, int] | None,
    memo: CostMemo | None,
    ends: tuple[Any, ...],
    plain: str | None = None,
) -> tuple[Any, ...]:
    """A succeeded result's row (see `_BOUND`) from its message's parts as parsed.

    `counts`: (input, output, cache write, cache read, of them 1-hour write) tokens, or None
    without a usage; `ends`: the row's last values (the raw line, or its place in the file);
    `plain`: the text when the caller knows the message is the usual one (`plain_text`).
    """
    in_tok = out_tok = cache_w = cache_r = 0
    cost: Any = _NO_COST
    if counts is not None:
        in_tok, out_tok, cache_w, cache_r, cache_1h = counts
        if model is not None:
            found = _row_cost(model, in_tok, out_tok, cache_w, cache_r, cache_1h, memo)
            if found is not None:
                cost = found
    stop = stop_reason if type(stop_reason) is str else _NO_TEXT
    text = plain_text(content, details) if plain is None else plain
    if text is None:
        text = message_text(content)
        facts = content_facts(content, details)
        kept: tuple[Any, ...] = (
            int(facts.thinking),
            facts.tool_calls,
            _text(facts.tool_names),
            facts.citations,
            _text(facts.stop_details),
        )
    else:  # the usual result, one text block: nothing more to keep
        kept = _NO_FACTS
    return (
        custom_id,
        "succeeded",
        stop,
        in_tok,
        out_tok,
        cache_w,
        cache_r,
        _NO_TEXT if model is None else model,
        text,
        _NO_TEXT,
        _NO_TEXT,
        cost,
        *kept,
        *ends,
    )


def _other_row(
    custom_id: str, kind: str, error_type: Any, error_message: Any, ends: tuple[Any, ...]
) -> tuple[Any, ...]:
    """An errored, canceled or expired result's row (see `_BOUND`)."""
    return (
        custom_id,
        kind,
        _NO_TEXT,
        0,
        0,
        0,
        0,
        _NO_TEXT,
        "",
        _text(error_type),
        _text(error_message),
        _NO_COST,
        0,
        0,
        _NO_TEXT,
        0,
        _NO_TEXT,
        *ends,
    )


def parse_line(
    raw: bytearray | bytes | str,
    memo: CostMemo | None = None,
    ends: tuple[Any, ...] | None = None,
) -> tuple[Any, ...] | None:
    """One results line → its row values as bound (see `_BOUND`: no None, a missing text is
    `_NO_TEXT`, a missing cost `_NO_COST`), or None if malformed. The row ends with `ends`
    (default: `raw` as given; a file's ingest gives the line's place in the file).

    A line is the Message Batches shape, or an OpenAI output/error line (read through
    `openai_lines.neutral_result`; the line itself is what is stored).

    The ingest passes the line's bytes (a bytearray: bound as it is) and stores them as they
    are: orjson checks they are UTF-8, and SQLite takes them as text (`CAST`) without a
    decode and re-encode in Python. The usual lines are read by `fast_row` first.
    """
    if ends is None:
        ends = (raw,)
    if not isinstance(raw, str):
        row = fast_row(raw, memo, ends)
        if row is not None:
            return row
    return parse_line_json(raw, memo, ends)


# What `neutral_result` raises for a line of OpenAI's shape whose values are not of OpenAI's
# types (a list as `usage`, a number as a tool call, an error code too deep to print).
_ODD_SHAPE = (AttributeError, TypeError, KeyError, IndexError, ValueError, RecursionError)


def parse_line_json(
    raw: bytearray | bytes | str,
    memo: CostMemo | None = None,
    ends: tuple[Any, ...] | None = None,
) -> tuple[Any, ...] | None:
    """`parse_line` for any line, through orjson: the lines `fast_row` does not take."""
    if ends is None:
        ends = (raw,)
    try:
        obj = orjson.loads(raw)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None
    if type(obj) is not dict:
        return None
    custom_id = obj.get("custom_id")
    result = obj.get("result")
    if type(result) is not dict and is_openai_line(obj):  # kept as OpenAI wrote it
        try:
            result = neutral_result(obj)["result"]
        except _ODD_SHAPE:  # a value of a type OpenAI never writes where the reader walks in
            return None
    if type(custom_id) is not str or not custom_id or type(result) is not dict:
        return None
    kind = result.get("type")
    if kind not in _RESULT_TYPES:
        return None
    if kind == "succeeded":
        msg = result.get("message")
        if type(msg) is not dict:
            return None
        usage = msg.get("usage")
        counts = None
        if type(usage) is dict:
            cache_w = _int(usage.get("cache_creation_input_tokens"))
            detail = usage.get("cache_creation")
            cache_1h = 0
            if type(detail) is dict:
                cache_1h = min(_int(detail.get("ephemeral_1h_input_tokens")), cache_w)
            counts = (
                _int(usage.get("input_tokens")),
                _int(usage.get("output_tokens")),
                cache_w,
                _int(usage.get("cache_read_input_tokens")),
                cache_1h,
            )
        try:
            return _succeeded_row(
                custom_id,
                _str(msg.get("model")),
                msg.get("content"),
                msg.get("stop_reason"),
                msg.get("stop_details"),
                counts,
                memo,
                ends,
            )
        except orjson.JSONEncodeError:
            # a tool call's input or `stop_details` is written back as JSON, and orjson
            # writes 255 levels where it reads 1024: such a line is malformed
            return None
    error_type: Any = None
    error_message: Any = None
    if kind == "errored":
        envelope = result.get("error")
        inner = envelope.get("error") if type(envelope) is dict else None
        if type(inner) is dict:
            error_type = inner.get("type")
            error_message = inner.get("message")
        elif type(envelope) is dict:  # tolerate an unwrapped ErrorObject
            error_type = envelope.get("type")
            error_message = envelope.get("message")
    return _other_row(custom_id, kind, error_type, error_message, ends)


# --- the usual lines, read by msgspec ---------------------------------------------------
# A Message Batches line decoded into these structs builds no dict for its envelope,
# message or usage, and skips the fields no column holds (id, role, service_tier, ...).
# `content` and `stop_details` are kept raw and parsed by orjson, as `parse_line_json`
# parses them (msgspec reads an integer beyond 64 bits as an int, orjson as a float, and
# orjson cannot write such an int back). A value these structs do not expect (a float or
# out-of-range token count, a number as a model, a missing message) fails the decode and
# the line goes through `parse_line_json`, which has the rule for it. For every line
# `fast_row` takes, it returns what `parse_line_json` returns (a hypothesis test), with one
# known exception: a number too large for a float in a field no column holds (msgspec
# skips it unread; orjson calls the line malformed).
# Structs are not tracked by the garbage collector (`gc=False`): they hold no cycles.
_NULL = msgspec.Raw(b"null")
_Count = Annotated[int, msgspec.Meta(ge=0, lt=_MAX_INT)]


class _CacheCreation(msgspec.Struct, gc=False):
    ephemeral_1h_input_tokens: _Count = 0


class _Usage(msgspec.Struct, gc=False):
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_creation_input_tokens: _Count = 0
    cache_read_input_tokens: _Count = 0
    cache_creation: _CacheCreation | None = None


class _Message(msgspec.Struct, gc=False):
    model: str | None = None
    content: msgspec.Raw = _NULL
    stop_reason: str | None = None
    stop_details: msgspec.Raw = _NULL
    usage: _Usage | None = None


class _Error(msgspec.Struct, gc=False):
    type: str | None = None
    message: str | None = None


class _Envelope(msgspec.Struct, gc=False):
    type: str | None = None
    message: str | None = None
    error: _Error | None = None


class _Succeeded(msgspec.Struct, tag="succeeded", tag_field="type", gc=False):
    message: _Message


class _Errored(msgspec.Struct, tag="errored", tag_field="type", gc=False):
    error: _Envelope | None = None


class _Canceled(msgspec.Struct, tag="canceled", tag_field="type", gc=False):
    pass


class _Expired(msgspec.Struct, tag="expired", tag_field="type", gc=False):
    pass


class _TextBlock(msgspec.Struct, gc=False):
    """The one block of the usual message (`result_blocks.plain_text`)."""

    type: Literal["text"]
    text: str
    citations: None = None


class _Line(msgspec.Struct, gc=False):
    custom_id: str
    result: _Succeeded | _Errored | _Canceled | _Expired


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_plain = msgspec.json.Decoder(tuple[_TextBlock]).decode
_TEXT_FIRST = b'[{"type":"text",'
# msgspec raises RecursionError, not a DecodeError, for nesting near Python's recursion limit
# (where depends on the stack it runs on); orjson reads 1024 levels and no more, and writes
# back 255 (a line with a deeper tool input or `stop_details` is malformed, as for orjson).
_FAILS = (msgspec.DecodeError, orjson.JSONDecodeError, RecursionError, orjson.JSONEncodeError)


def fast_row(
    raw: bytearray | bytes, memo: CostMemo | None, ends: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """`parse_line` of a Message Batches line whose values all have the expected types,
    read without building its dicts; None for any other line (or a malformed one)."""
    try:
        line = _decode_line(raw)
    except _FAILS:
        return None
    custom_id = line.custom_id
    if not custom_id:
        return None
    result = line.result
    if type(result) is _Succeeded:
        msg = result.message
        usage = msg.usage
        counts = None
        if usage is not None:
            cache_w = usage.cache_creation_input_tokens
            detail = usage.cache_creation
            cache_1h = 0 if detail is None else min(detail.ephemeral_1h_input_tokens, cache_w)
            counts = (
                usage.input_tokens,
                usage.output_tokens,
                cache_w,
                usage.cache_read_input_tokens,
                cache_1h,
            )
        details = msg.stop_details
        content_raw = memoryview(msg.content)
        # absent or null stop details, and a first block that says it is text as the API
        # writes it (a thinking block first, today's default, skips a decode bound to fail)
        if details == _NULL and content_raw[: len(_TEXT_FIRST)] == _TEXT_FIRST:
            try:  # the usual message, read without building its block's dict
                plain = _decode_plain(msg.content)[0].text
            except _FAILS:
                pass
            else:
                return _succeeded_row(
                    custom_id, msg.model, None, msg.stop_reason, None, counts, memo, ends, plain
                )
        try:
            content = orjson.loads(content_raw)
            details = orjson.loads(memoryview(details))
            return _succeeded_row(
                custom_id,
                msg.model,
                content,
                msg.stop_reason,
                details,
                counts,
                memo,
                ends,
            )
        except _FAILS:
            return None
    if type(result) is _Errored:
        envelope = result.error
        if envelope is None:
            return _other_row(custom_id, "errored", None, None, ends)
        source = envelope if envelope.error is None else envelope.error
        return _other_row(custom_id, "errored", source.type, source.message, ends)
    kind = "canceled" if type(result) is _Canceled else "expired"
    return _other_row(custom_id, kind, None, None, ends)


# --- writing ------------------------------------------------------------------------------


_ROW_VALUES = "(?1, " + ", ".join(sql for _, sql in _BOUND) + ")"
_ROW_VALUES_AT = "(?1, " + ", ".join(sql for _, sql in _BOUND_AT) + ", '')"


@functools.lru_cache(maxsize=8)
def _insert_sql(rows: int, in_file: bool = True) -> str:
    """A multi-row insert; the first of a repeated custom_id wins (the unique index ignores
    the later ones). `in_file`: each row has the place of its line in the results file
    (`raw` empty); else the raw line is bound as bytes and stored as text. Input texts are
    not copied: reads take them from the manifest (`sql.INPUT_TEXT`). Cached: the same str
    object each time, whose hash sqlite3's statement cache then does not compute again
    (~250 KB of SQL per statement)."""
    values = ",".join([_ROW_VALUES_AT if in_file else _ROW_VALUES] * rows)
    columns = _COLUMNS_AT if in_file else _COLUMNS
    return (
        f"INSERT INTO results (batch_id, {columns}) VALUES {values}"
        " ON CONFLICT (batch_id, custom_id) DO NOTHING"
    )


def rows_per_insert(conn: sqlite3.Connection, in_file: bool = True) -> int:
    """`ROWS_PER_INSERT`, or fewer where SQLite was built to take fewer bound variables."""
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    width = _WIDTH_AT if in_file else _WIDTH
    return max(1, min(ROWS_PER_INSERT, (limit - _FIXED) // width))


_STOP = None


class _Writer:
    """A thread running the inserts in large transactions (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection, in_file: bool) -> None:
        self._conn = conn
        self._in_file = in_file
        self._queue: queue.Queue[tuple[int, list[Any]] | None] = queue.Queue(QUEUED_INSERTS)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="batchtop-ingest", daemon=True)
        self._thread.start()

    def put(self, rows: int, params: list[Any]) -> None:
        self._raise()
        self._queue.put((rows, params))

    def close(self) -> None:
        """Commit what is written, stop the thread; re-raises a write error."""
        self._queue.put(_STOP)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        conn = self._conn
        opened = 0.0
        try:
            while True:
                in_txn = conn.in_transaction
                try:
                    item = self._queue.get(timeout=IDLE_COMMIT_S if in_txn else None)
                except queue.Empty:
                    conn.execute("COMMIT")  # waiting for rows: do not hold the write lock
                    continue
                if item is _STOP:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
                    return
                if not in_txn:
                    begin_immediate(conn)
                    opened = time.monotonic()
                rows, params = item
                conn.execute(_insert_sql(rows, self._in_file), params)
                if time.monotonic() - opened >= COMMIT_S:
                    conn.execute("COMMIT")
        except BaseException as exc:  # handed to the feeding thread
            self.error = exc
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            while self._queue.get() is not _STOP:  # let put() and close() return
                pass


_by_custom_id = operator.itemgetter(0)


class Ingest:
    """One batch's results going into the index; replaces the batch's earlier rows.

    Feed bytes in any chunking (`feed`), from one thread at a time; `finish` parses a last
    line without a newline, waits for the writer and records the batch's counts. Never
    raises on a bad line: lines that are not result objects are counted as malformed.
    `close` stops the writer if `finish` was not reached and removes what it had written
    (the batch is left with no rows and 0 counted: a re-ingest starts over).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        batch_id: str,
        on_close: Callable[[], None] | None = None,
        raw_file: Path | None = None,
    ) -> None:
        """`raw_file`: the file that will hold exactly the bytes fed (a download's final
        name, or the file read): rows keep where their line is in it, not the line itself.
        Without one, each row keeps its line (`raw`)."""
        self._conn = conn
        self.batch_id = batch_id
        self._on_close = on_close
        self._raw_file = None if raw_file is None else os.path.abspath(raw_file)
        # feed/finish/restart/close hold it: a close from another thread (a cancelled
        # download) waits for the running call, never closes the connection under it.
        self._lock = threading.Lock()
        self._closed = False
        self._finished = False
        self._per_insert = rows_per_insert(conn, self._raw_file is not None)
        # No checkpoints on this (private) connection: copying the WAL into the database
        # while inserting costs ~20% of the ingest; the index builder's first commit runs it.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._writer: _Writer | None = None
        self._start()

    def _start(self) -> None:
        delete_batch_rows(self._conn, self.batch_id)
        self.lines = 0  # newline-terminated lines fed
        self.ends_cleanly = True  # the bytes fed so far end with a newline
        # the bytes after the last newline, in pieces: a line longer than a piece is joined
        # once, when it ends (joining it to each next piece made a 128 MB line take 16 s)
        self._tail: list[bytes] = []
        # rows that keep their lines' places take the lines as bytes; rows that keep the
        # lines bind bytearrays as they are (see `_BOUND`)
        self._line_type: type[bytes] | type[bytearray] = (
            bytearray if self._raw_file is None else bytes
        )
        self._at = 0  # where `_tail` starts in the file
        self._crc = 0  # CRC-32 of every byte fed: the whole file's (`raw_lines`)
        self._rows: list[tuple[Any, ...]] = []
        self._memo: CostMemo = {}
        self._parsed = self._malformed = 0
        self._cost = 0.0
        self._any_cost = False
        self._writer = _Writer(self._conn, self._raw_file is not None)

    def restart(self) -> None:
        """Start over (the stream restarted from its first byte)."""
        with self._lock:
            self._check_open()
            self._stop_writer()
            self._start()

    def _check_open(self) -> None:
        if self._closed:
            raise UserError("The results ingest was closed.")

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._check_open()
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        if not data:
            return
        newlines = data.count(b"\n")
        self.lines += newlines
        self._crc = zlib.crc32(data, self._crc)
        self.ends_cleanly = data.endswith(b"\n")
        if not newlines:
            self._tail.append(bytes(data))
            return
        whole = b"".join([*self._tail, data]) if self._tail else data
        lines: list[Any] = self._line_type(whole).split(b"\n")
        last = lines.pop()
        self._tail = [bytes(last)] if last else []
        self._parse(lines)

    def _parse(self, lines: Sequence[bytes | bytearray]) -> None:
        rows = self._rows
        append = rows.append
        memo = self._memo
        malformed = parsed = 0
        cost = 0.0
        any_cost = False
        full = self._per_insert
        in_file = self._raw_file is not None
        crc32 = zlib.crc32
        at = self._at  # where `line` starts in the file
        for line in lines:
            start = at
            at += len(line) + 1
            # a line is stripped only when it needs it (most do not: no copy)
            raw = line if line and line[0] > 32 and line[-1] > 32 else line.strip()
            if not raw:
                continue
            if in_file:  # the line's place in the file instead of its bytes
                if len(raw) != len(line):
                    start += len(line) - len(line.lstrip())
                ends: tuple[Any, ...] = (start, len(raw), crc32(raw))
            else:
                ends = (raw,)
            row = parse_line(raw, memo, ends)
            if row is None:
                malformed += 1
                continue
            if row[_COST_AT] != _NO_COST:
                cost += row[_COST_AT]
                any_cost = True
            append(row)
            parsed += 1
            if len(rows) >= full:
                self._send()
                rows = self._rows
                append = rows.append
        self._at = at
        self._parsed += parsed
        self._malformed += malformed
        self._cost += cost
        self._any_cost = self._any_cost or any_cost

    def _send(self) -> None:
        rows = self._rows
        if not rows:
            return
        rows.sort(key=_by_custom_id)  # stable: a repeated id's first line still wins
        params: list[Any] = [self.batch_id]  # ?1
        params.extend(itertools.chain.from_iterable(rows))
        assert self._writer is not None
        self._writer.put(len(rows), params)
        self._rows = []

    def finish(self) -> IngestStats:
        """Write the last rows and the batch's counts; returns what was indexed."""
        with self._lock:
            self._check_open()
            return self._finish()

    def _finish(self) -> IngestStats:
        if self._tail:
            tail = self._line_type(b"".join(self._tail))
            self._tail = []
            self._parse([tail])
        self._send()
        assert self._writer is not None
        writer, self._writer = self._writer, None
        writer.close()
        cost = self._cost if self._any_cost else None
        size = self._at  # every byte fed (the last line had no newline: one less)
        if not self.ends_cleanly:
            size -= 1
        raw_file = None if self._raw_file is None else (self._raw_file, size, self._crc)
        stats = _record(self._conn, self.batch_id, self._parsed, self._malformed, cost, raw_file)
        self._finished = True
        return stats

    def record_file(self, path: Path) -> None:
        """After `finish`: record the batch's downloaded results file on the ingest's own
        connection, which runs no WAL checkpoint (the store's connection would copy the
        whole WAL of the rows into the database in its commit first: 0.3-0.5 s at 100k rows;
        the search-index builder's first commit does it after, off the ingest's path)."""
        with self._lock:
            self._check_open()
            record_results_file(self._conn, self.batch_id, path, downloaded=True)

    def close(self) -> None:
        """Stop the writer if `finish` did not, and then remove the rows it wrote: a download
        that failed or was abandoned leaves no partial results to browse (the next one starts
        over); idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._stop_writer()
                if not self._finished:
                    with contextlib.suppress(sqlite3.Error):
                        delete_batch_rows(self._conn, self.batch_id)
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                on_close()

    def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # only reached when something already failed
                writer.close()


def _record(
    conn: sqlite3.Connection,
    batch_id: str,
    parsed: int,
    malformed: int,
    cost: float | None,
    raw_file: tuple[str, int, int] | None,
) -> IngestStats:
    """The closing transaction: counts, cost, the file the rows' lines are in (its path,
    size and CRC-32, or None: the rows hold their lines) and the search index's work for
    the batch.

    `cost` was summed while parsing (reading it back would be a pass over every row); only
    when repeated custom_ids were left out is it summed again from the rows kept.
    """
    with write_txn(conn):
        n, first, last = conn.execute(  # from an index: no pass over the rows
            "SELECT count(*), min(id), max(id) FROM results WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        actual = cost
        if n != parsed:
            n_cost, total = conn.execute(
                "SELECT count(cost_usd), total(cost_usd) FROM results WHERE batch_id = ?",
                (batch_id,),
            ).fetchone()
            actual = float(total) if n_cost else None
        path, size, crc = (None, None, None) if raw_file is None else raw_file
        conn.execute(
            "INSERT INTO batch_local (batch_id, results_indexed, results_malformed,"
            " actual_cost_usd, raw_file, raw_size, raw_file_crc) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (batch_id) DO UPDATE SET"
            " results_indexed = excluded.results_indexed,"
            " results_malformed = excluded.results_malformed,"
            " actual_cost_usd = excluded.actual_cost_usd,"
            " raw_file = excluded.raw_file, raw_size = excluded.raw_size,"
            " raw_file_crc = excluded.raw_file_crc",
            (batch_id, n, malformed, actual, path, size, crc),
        )
        if n:
            conn.execute(
                "UPDATE results_fts_pending SET next_id = ?, last_id = ? WHERE batch_id = ?",
                (first, last, batch_id),
            )
        else:
            conn.execute("DELETE FROM results_fts_pending WHERE batch_id = ?", (batch_id,))
    return IngestStats(int(n), malformed, parsed - int(n), actual)


def delete_batch_rows(conn: sqlite3.Connection, batch_id: str) -> None:
    """Remove a batch's rows (and what of them was search-indexed) before an ingest."""
    with write_txn(conn):
        # De-index exactly the rows that were indexed: all of them, or for a batch whose
        # index build had not finished, those below its `next_id`.
        pending = conn.execute(
            "SELECT next_id, last_id FROM results_fts_pending WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        indexed_below = (1 << 62) if pending is None else pending[0]
        if pending is not None and pending[1] < 0:
            indexed_below = -1  # its ingest never finished: nothing of it was indexed
        conn.execute(
            "INSERT INTO results_fts (results_fts, rowid, text, input_text)"
            f" SELECT 'delete', r.id, {SEARCH_TEXT}, {INPUT_TEXT} FROM results r"
            " WHERE r.batch_id = ? AND r.id < ?",
            (batch_id, indexed_below),
        )
        conn.execute("DELETE FROM results WHERE batch_id = ?", (batch_id,))
        # the statistics' copy of the old rows is stale now (core/stats.py rebuilds it)
        conn.execute("DELETE FROM result_facts_built WHERE batch_id = ?", (batch_id,))
        link_inputs(conn, batch_id)  # after the de-indexing, which read the old link
        # Until this ingest completes, nothing is indexed (never a stale count), and search
        # uses the LIKE scan (the batch is pending with last_id -1 until its rows are in).
        conn.execute(
            "INSERT OR REPLACE INTO results_fts_pending (batch_id, next_id, last_id)"
            " VALUES (?, 0, -1)",
            (batch_id,),
        )
        conn.execute(
            "INSERT INTO batch_local (batch_id, results_indexed) VALUES (?, 0)"
            " ON CONFLICT (batch_id) DO UPDATE SET results_indexed = 0",
            (batch_id,),
        )


def ingest_file(
    start: Callable[[Path], Ingest],
    jsonl_path: Path,
    progress: ProgressFn | None = None,
) -> IngestStats:
    """Stream a results file into the ingest `start(path)` opens (which replaces the
    batch's earlier rows: it is called only once the file is open, so a missing file keeps
    them); the rows point into the file."""
    try:
        total = jsonl_path.stat().st_size
        fh = open(jsonl_path, "rb")  # noqa: SIM115 (closed by the with block below)
    except OSError as exc:
        raise UserError(f"Cannot read the results file {jsonl_path}: {exc.strerror}.") from exc
    with fh:
        ing = start(jsonl_path)
        try:
            done = 0
            while piece := fh.read(FEED_BYTES):
                ing.feed(piece)
                done += len(piece)
                if progress is not None:
                    progress(done, total)
            stats = ing.finish()
        finally:
            ing.close()
    if progress is not None:
        progress(total, total)
    return stats

"""Result exports: JSONL, CSV, JSON, Markdown and (optionally) Parquet.

Every writer streams rows. To a regular file it writes a temporary file beside the
destination, fsyncs it and renames it into place, so an interrupted export never leaves a
partial file under the final name; new files are created 0600 (they hold prompts and outputs),
a replaced file keeps its mode. Devices, FIFOs and /dev/stdout are written to directly, and
`export_to_stream` writes to an open stream (stdout) page by page.

Format choices:
- jsonl: the raw result lines, byte for byte as the API sent them (so without the input's
  original id, which the other formats carry when a custom_id had to be made from it).
- csv: one row per result; text cells that a spreadsheet would run as a formula (starting
  with = + - @ tab or CR) get a leading apostrophe (OWASP's advice), so opening the file in
  Excel/LibreOffice/Sheets executes nothing.
- json: `{custom_id: text}` for succeeded results only (keyed by the input's original id
  when the custom_id was made from it) — exactly the dict the classic
  tutorial script builds, so it is a drop-in replacement for code that loads it. Failed
  requests are left out (use CSV or JSONL to see them).
- markdown: a readable report, one section per result: status, the input as a quote,
  the output as written by the model (terminal control characters made visible).
- parquet: typed columns, when pyarrow is installed (`pip install batchtop[parquet]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import errno
import glob
import io
import os
import re
import select
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import IO, Any, Literal, Protocol, TypeVar, runtime_checkable

try:
    import fcntl
except ImportError:  # not on Windows: killed exports' temp files are then left
    fcntl = None  # type: ignore[assignment]

import orjson

from . import paths
from .errors import UserError
from .models import ExportFormat, ExportResult, ResultRow, ResultType
from .providers.openai_lines import neutral_stop

ExportProgress = Callable[[int], None]
"""progress(rows_written), called every `PROGRESS_EVERY` rows and at the end."""

PROGRESS_EVERY = 5_000
EXTENSIONS: dict[ExportFormat, str] = {
    "jsonl": "jsonl",
    "csv": "csv",
    "json": "json",
    "markdown": "md",
    "parquet": "parquet",
}
_SUFFIX_ALIASES: dict[str, ExportFormat] = {
    "ndjson": "jsonl",
    "markdown": "markdown",
    "pq": "parquet",
}


def format_for_path(path: Path | str) -> ExportFormat | None:
    """The export format a file name asks for (`out.csv` → csv), or None if it says nothing."""
    suffix = Path(path).suffix.lower().lstrip(".")
    for fmt, ext in EXTENSIONS.items():
        if suffix == ext:
            return fmt
    return _SUFFIX_ALIASES.get(suffix)


CSV_COLUMNS = (
    "custom_id",
    "status",
    "input",
    "output",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "error_type",
    "error_message",
    "original_id",
    "model",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
    "thinking",
    "tool_calls",
    "tool_names",
    "citations",
    "stop_details",
)
_FORMULA_START = frozenset("=+-@\t\r")
_BUFFER = 1 << 20

Rows = Iterable[tuple[ResultRow, str]]
_Page = TypeVar("_Page", bound=Sized)


@runtime_checkable
class PagedRows(Protocol):
    """Rows that can also be read as pages of just what JSONL and CSV write.

    `ResultsIndex.iter_results` returns one (`results/export_pages.py`): exporting from it
    skips building a `ResultRow` per result, which cost as much as formatting and writing.
    """

    def raw_pages(self) -> Generator[tuple[list[bytes], int], None, None]:
        """(a page of raw lines as UTF-8 and an empty one: `b"\\n".join` of them ends each in
        a newline; its line count)."""
        ...

    def csv_pages(self) -> Iterator[tuple[bytes, int]]:
        """(a page of CSV records as `csv.writer` writes them for `CSV_COLUMNS` with
        `csv_safe` cells, each ending in CRLF, as UTF-8; its record count)."""
        ...


def default_export_path(
    batch_or_job_id: str, fmt: ExportFormat, directory: Path | None = None
) -> Path:
    """`<id>-results.<ext>` in `directory` (default: the export directory, the current one)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", batch_or_job_id) or "results"
    return (directory or paths.exports_dir()) / f"{safe}-results.{EXTENSIONS[fmt]}"


Destination = Literal["new", "file", "special", "directory"]


def destination_kind(path: Path | str) -> Destination:
    """What `path` is now: nothing yet, a regular file (replaced atomically), a directory, or
    something else (a device, a FIFO, a terminal, /dev/stdout: written to directly, never
    replaced). Symbolic links are followed; names under /dev and /proc are never replaced."""
    name = os.path.abspath(os.path.expanduser(path))
    try:
        st = os.stat(name)
    except FileNotFoundError:
        return "new"
    except OSError:
        return "special" if name.startswith(("/dev/", "/proc/")) else "new"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if not stat.S_ISREG(st.st_mode) or name.startswith(("/dev/", "/proc/")):
        return "special"
    return "file"


def csv_safe(value: str | None) -> str:
    """Neutralise a cell a spreadsheet would evaluate as a formula."""
    if not value:
        return ""
    return "'" + value if value[0] in _FORMULA_START else value


# --- writers ------------------------------------------------------------------------------


class ExportCancelled(Exception):
    """The export was asked to stop (`cancel` was set): nothing is left under the final name."""


CANCEL_EVERY = 1_000


def _counted(
    rows: Rows, progress: ExportProgress | None, cancel: threading.Event | None = None
) -> Iterator[tuple[ResultRow, str]]:
    for n, item in enumerate(rows, start=1):
        yield item
        if n % CANCEL_EVERY == 0 and cancel is not None and cancel.is_set():
            raise ExportCancelled
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)


# Characters a terminal may act on (C1 controls such as CSI U+009B, DEL) or that reorder or
# hide text (bidi overrides and isolates, zero-width, line separators). The JSON export spells
# them as \uXXXX escapes, so `results --format json --out -` on a terminal shows them inert
# while every JSON parser reads exactly the same strings. (JSONL stays the API's raw lines.)
_JSON_INERT = re.compile("[\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_inert(encoded: str) -> str:
    return _JSON_INERT.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def _write_jsonl(rows: Rows, fh: IO[str]) -> int:
    n = 0
    write = fh.write
    for _row, raw in rows:
        write(raw.rstrip("\r\n"))
        write("\n")
        n += 1
    return n


def _paged_progress(
    pages: Iterable[_Page],
    progress: ExportProgress | None,
    size: Callable[[_Page], int] = len,
    cancel: threading.Event | None = None,
) -> Iterator[_Page]:
    n = 0
    for page in pages:
        if cancel is not None and cancel.is_set():
            raise ExportCancelled
        yield page
        before, n = n, n + size(page)
        if progress is not None and n // PROGRESS_EVERY > before // PROGRESS_EVERY:
            progress(n)


def _lines(page: tuple[Any, int]) -> int:
    return page[1]


def _write_pages(pages: Iterable[tuple[bytes, int]], fh: IO[bytes], header: bytes = b"") -> int:
    """Write a header, then pages of records that are already encoded; returns the records."""
    write = fh.write
    write(header)
    n = 0
    for joined, records in pages:
        write(joined)
        n += records
    return n


_CSV_HEADER = (",".join(CSV_COLUMNS) + "\r\n").encode()


def _write_lines(pages: Iterable[tuple[list[bytes], int]], fh: IO[bytes]) -> int:
    """Write pages of lines (`PagedRows.raw_pages`); returns the lines. (Joining a page of
    megabytes lets go of the GIL: the thread finding the next page runs meanwhile.)"""
    write = fh.write
    n = 0
    for lines, count in pages:
        write(b"\n".join(lines))
        n += count
    return n


# --- structured outputs as columns (`--expand-json`) ---------------------------------------

#: at most this many keys become columns (a table, not every key of free-form JSON)
EXPAND_MAX_KEYS = 200
EXPAND_PREFIX = "output."


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text or text[0] != "{":
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if type(value) is dict else None


def json_output_keys(rows: Rows, limit: int = EXPAND_MAX_KEYS) -> list[str]:
    """The top-level keys of the outputs that are JSON objects (structured outputs), in the
    order first seen, at most `limit`: the columns `--expand-json` adds."""
    keys: dict[str, None] = {}
    for row, _raw in rows:
        obj = _json_object(row.text) if row.type is ResultType.SUCCEEDED else None
        if obj is None:
            continue
        for key in obj:
            if key not in keys and len(keys) < limit:
                keys[key] = None
    return list(keys)


def _json_cell(value: Any) -> str | None:
    """A value of an output's JSON object as one cell: strings as they are, numbers and
    booleans as JSON spells them, objects and arrays as compact JSON, null as empty."""
    if value is None:
        return None
    if type(value) is str:
        return value
    return orjson.dumps(value).decode()


def json_cells(row: ResultRow, keys: Sequence[str]) -> list[str | None]:
    """The `--expand-json` cells of one row (all empty when its output is not an object)."""
    obj = _json_object(row.text) if row.type is ResultType.SUCCEEDED else None
    if obj is None:
        return [None] * len(keys)
    return [_json_cell(obj.get(key)) for key in keys]


def _write_csv(rows: Rows, fh: IO[str], expand: Sequence[str] = ()) -> int:
    writer = csv.writer(fh, lineterminator="\r\n")
    writer.writerow((*CSV_COLUMNS, *(EXPAND_PREFIX + k for k in expand)))
    n = 0
    safe = csv_safe
    writerow = writer.writerow
    for row, _raw in rows:
        extra = [safe(cell) for cell in json_cells(row, expand)] if expand else []
        writerow(
            (
                safe(row.custom_id),
                row.type.value,
                safe(row.input_text),
                safe(row.text),
                row.stop_reason or "",
                row.input_tokens,
                row.output_tokens,
                row.error_type or "",
                safe(row.error_message),
                safe(row.original_id),
                row.model or "",
                row.cache_creation_input_tokens,
                row.cache_read_input_tokens,
                "" if row.cost_usd is None else f"{row.cost_usd:.8f}",
                int(row.thinking),
                row.tool_calls,
                safe(row.tool_names),
                row.citations,
                safe(row.stop_details),
                *extra,
            )
        )
        n += 1
    return n


def _write_json(rows: Rows, fh: IO[str]) -> int:
    """Streamed `{id: text}`; a repeated id keeps its first text. The id is the input's own
    id when batchtop had to make the custom_id from it (`original_id`), else the custom_id.
    A refusal or an empty answer is not a text: it is `{"stop_reason": ..., "text": ...}`."""
    write = fh.write
    write("{")
    n = 0
    seen: set[str] = set()
    for row, _raw in rows:
        key = row.original_id or row.custom_id
        if row.type is not ResultType.SUCCEEDED or key in seen:
            continue
        seen.add(key)
        write("\n  " if n == 0 else ",\n  ")
        write(orjson.dumps(key).decode())
        write(": ")
        value: Any = row.text
        if neutral_stop(row.stop_reason) == "refusal" or not row.text.strip():
            value = {"stop_reason": row.stop_reason, "text": row.text}
        write(_json_inert(orjson.dumps(value).decode()))
        n += 1
    write("\n}\n" if n else "}\n")
    return n


# C0 controls except tab/newline, DEL, C1 controls and bidi overrides/isolates: made
# visible as escapes in Markdown, so `cat report.md` cannot be driven by escape sequences
# and no text can be visually reordered ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _visible(text: str) -> str:
    return _CONTROL.sub(_escape, text.replace("\r\n", "\n"))


def _code_span(text: str) -> str:
    """`text` as an inline code span whatever backticks it holds (CommonMark rules)."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def _write_markdown(rows: Rows, fh: IO[str]) -> int:
    write = fh.write
    write("# Batch results\n")
    n = 0
    for row, _raw in rows:
        write(f"\n## {_code_span(_visible(row.custom_id))}\n\n")
        status = row.type.value
        if row.type is ResultType.SUCCEEDED:
            status += f" · {row.stop_reason or 'no stop reason'}"
            status += f" · {row.input_tokens} in / {row.output_tokens} out tokens"
        elif row.error_type:
            status += f" · {_code_span(_visible(row.error_type))}"
        write(f"**Status:** {status}\n")
        if row.original_id is not None:
            write(f"**Original id:** {_code_span(_visible(row.original_id))}\n")
        if row.input_text:
            write("\n**Input:**\n\n")
            write(_quote(_visible(row.input_text)))
            write("\n")
        if row.type is ResultType.SUCCEEDED:
            write("\n**Output:**\n\n")
            write(_visible(row.text).strip("\n") or "*(empty)*")
            write("\n")
        elif row.error_message:
            write("\n**Error:**\n\n")
            write(_quote(_visible(row.error_message)))
            write("\n")
        n += 1
    return n


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped, import-not-found, unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise UserError(
            "Parquet export needs pyarrow: run `pip install batchtop[parquet]`."
        ) from None
    return pa, pq


def _write_parquet(rows: Rows, fh: IO[bytes], expand: Sequence[str] = ()) -> int:
    pa, pq = _pyarrow()
    string, int64 = pa.string(), pa.int64()
    schema = pa.schema(
        [
            ("batch_id", string),
            ("custom_id", string),
            ("status", string),
            ("input", string),
            ("output", string),
            ("stop_reason", string),
            ("model", string),
            ("input_tokens", int64),
            ("output_tokens", int64),
            ("cache_creation_input_tokens", int64),
            ("cache_read_input_tokens", int64),
            ("error_type", string),
            ("error_message", string),
            ("original_id", string),
            ("cost_usd", pa.float64()),
            ("thinking", pa.bool_()),
            ("tool_calls", int64),
            ("tool_names", string),
            ("citations", int64),
            ("stop_details", string),
            *[(EXPAND_PREFIX + key, string) for key in expand],
        ]
    )
    columns: list[list[Any]] = [[] for _ in schema.names]
    n = 0
    with pq.ParquetWriter(fh, schema) as writer:

        def flush() -> None:
            arrays = [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            for col in columns:
                col.clear()

        for row, _raw in rows:
            values = (
                row.batch_id,
                row.custom_id,
                row.type.value,
                row.input_text,
                row.text if row.type is ResultType.SUCCEEDED else None,
                row.stop_reason,
                row.model,
                row.input_tokens,
                row.output_tokens,
                row.cache_creation_input_tokens,
                row.cache_read_input_tokens,
                row.error_type,
                row.error_message,
                row.original_id,
                row.cost_usd,
                row.thinking,
                row.tool_calls,
                row.tool_names,
                row.citations,
                row.stop_details,
                *(json_cells(row, expand) if expand else ()),
            )
            for col, value in zip(columns, values, strict=True):
                col.append(value)
            n += 1
            if n % 10_000 == 0:
                flush()
        if columns[0] or n == 0:
            flush()
    return n


_TEXT_WRITERS: dict[str, Callable[[Rows, IO[str]], int]] = {
    "jsonl": _write_jsonl,
    "csv": _write_csv,
    "json": _write_json,
    "markdown": _write_markdown,
}


# --- atomic file handling -----------------------------------------------------------------


def _check_destination(path: Path) -> None:
    if path.is_dir():
        raise UserError(f"Cannot export to {path}: it is a directory.")
    if not path.parent.is_dir():
        raise UserError(f"Cannot export to {path}: the directory {path.parent} does not exist.")


LEFTOVER_AGE_S = 60.0


def _lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on `path` for as long as it stays open; None when
    another process holds it, the file is gone, or the platform has no flock.

    A temp file being written is held this way, so a later export can tell it from one a
    killed export left behind (the kernel drops a dead process's locks)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove_leftovers(path: Path) -> None:
    """Delete `.name.*.tmp` files of earlier exports to `path` that were killed mid-write
    (nobody holds their lock any more); a write still running keeps its file, and so does
    one younger than a minute (created but perhaps not locked yet)."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime > time.time() - LEFTOVER_AGE_S:
                continue
        fd = _lock(stale)
        if fd is None:
            continue  # another export is writing it (or it is already gone)
        try:
            with contextlib.suppress(OSError):
                stale.unlink()
        finally:
            os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _write(
    rows: Rows,
    fmt: ExportFormat,
    fh: IO[bytes],
    progress: ExportProgress | None,
    cancel: threading.Event | None,
    expand: Sequence[str] = (),
) -> int:
    """Stream `rows` in `fmt` into the binary stream `fh` (flushed, left open); `expand`:
    the JSON output keys that become columns (CSV, Parquet)."""
    counted = _counted(rows, progress, cancel)
    if fmt == "parquet":
        n = _write_parquet(counted, fh, expand)
    elif expand and fmt == "csv":  # row by row: the extra cells come from each output
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        try:
            n = _write_csv(counted, text, expand)
            text.flush()
        finally:
            text.detach()
    elif fmt in ("jsonl", "csv") and isinstance(rows, PagedRows):  # pages come as UTF-8
        if fmt == "jsonl":
            with contextlib.closing(rows.raw_pages()) as lines:  # its threads end here
                n = _write_lines(_paged_progress(lines, progress, _lines, cancel), fh)
        else:
            pages = _paged_progress(rows.csv_pages(), progress, _lines, cancel)
            n = _write_pages(pages, fh, _CSV_HEADER)
    else:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        try:
            n = _TEXT_WRITERS[fmt](counted, text)
            text.flush()
        finally:
            text.detach()  # the caller owns `fh`
    fh.flush()
    return n


def _check_format(fmt: ExportFormat) -> None:
    if fmt not in EXTENSIONS:
        raise UserError(f"Unknown export format {fmt!r}: use one of {', '.join(EXTENSIONS)}.")
    if fmt == "parquet":
        _pyarrow()  # fail before creating anything when pyarrow is missing


def export_to_stream(
    rows: Rows,
    fmt: ExportFormat,
    fh: IO[bytes],
    progress: ExportProgress | None = None,
    cancel: threading.Event | None = None,
    *,
    expand: Sequence[str] = (),
) -> int:
    """Stream `rows` into an open binary stream (stdout, a pipe); returns the rows written.

    Nothing is held in memory beyond a page; `cancel` set stops it (`ExportCancelled`)."""
    _check_format(fmt)
    n = _write(rows, fmt, fh, progress, cancel, expand)
    if progress is not None:
        progress(n)
    return n


FIFO_POLL_S = 0.1
"""How often an export to a FIFO no program reads yet looks for a reader (and a cancel)."""


class _FifoWriter(io.RawIOBase):
    """A FIFO open without blocking: a write that finds it full (its reader stalled) waits
    for room, and a cancel stops the wait (`ExportCancelled`). A blocking write could not
    be stopped: a cancelled export (Ctrl-C, the dialog's Cancel, then quitting the
    dashboard) kept the process alive until the reader read on or left."""

    def __init__(self, fd: int, cancel: threading.Event) -> None:
        super().__init__()
        self._fd = fd
        self._cancel = cancel

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Any) -> int:
        while True:
            try:
                return os.write(self._fd, data)
            except BlockingIOError:
                if self._cancel.is_set():
                    raise ExportCancelled from None
                room = select.poll()
                room.register(self._fd, select.POLLOUT)
                room.poll(FIFO_POLL_S * 1000)

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


def _open_special(path: Path, cancel: threading.Event | None) -> IO[bytes]:
    """`path` opened for writing. A FIFO waits for a reader, as a shell's `>` does, and
    for room as the reader reads (`_FifoWriter`), but a cancel (Ctrl-C, the dialog's
    Cancel) stops either wait: a blocking open or write could not be stopped, and the
    process then waited on it for good."""
    try:
        fifo = stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        fifo = False
    if not fifo or cancel is None:
        return open(path, "wb", buffering=_BUFFER)
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            if cancel.wait(FIFO_POLL_S):
                raise ExportCancelled from None
            continue
        return io.BufferedWriter(_FifoWriter(fd, cancel), _BUFFER)


def _export_special(
    rows: Rows,
    fmt: ExportFormat,
    path: Path,
    progress: ExportProgress | None,
    cancel: threading.Event | None,
    expand: Sequence[str] = (),
) -> ExportResult:
    """A device, FIFO or terminal is written to as it is: a temp file renamed over it would
    replace it (as root, `/dev/null` would become a regular file)."""
    try:
        with _open_special(path, cancel) as fh:
            n = _write(rows, fmt, fh, progress, cancel, expand)
    except OSError as exc:
        raise UserError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    if progress is not None:
        progress(n)
    return ExportResult(path=path, format=fmt, rows=n)


def export_results(
    rows: Rows,
    fmt: ExportFormat,
    path: Path,
    progress: ExportProgress | None = None,
    cancel: threading.Event | None = None,
    *,
    expand: Sequence[str] = (),
) -> ExportResult:
    """Write `(row, raw line)` pairs to `path` in `fmt`; returns what was written.
    `expand`: the keys of JSON outputs written as columns of their own (CSV, Parquet; see
    `json_output_keys`).

    A regular file (new or replaced) is written atomically: a temp file beside it, fsync,
    rename. A new file is created 0600; a replaced one keeps its mode; a symbolic link is
    followed (its target is replaced, the link stays). Anything else that exists (a device,
    a FIFO, /dev/stdout) is written to directly. Synchronous and streaming (run it in a
    thread from async code, or use `export_results_async`); `cancel` set stops it
    (`ExportCancelled`) and removes the temp file.
    """
    _check_format(fmt)
    path = Path(path).expanduser()
    kind = destination_kind(path)
    if kind == "special":
        return _export_special(rows, fmt, path, progress, cancel, expand)
    if kind == "directory":
        raise UserError(f"Cannot export to {path}: it is a directory.")
    mode = 0o600
    if kind == "file":
        path = Path(os.path.realpath(path))  # replace a link's target, not the link
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(path.stat().st_mode)
    if not path.parent.is_dir():
        raise UserError(f"Cannot export to {path}: the directory {path.parent} does not exist.")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"Cannot write to {path.parent}: {exc.strerror}.") from exc
    tmp = Path(tmp_name)
    held = _lock(tmp)
    try:
        with open(fd, "wb", buffering=_BUFFER) as fh:
            n = _write(rows, fmt, fh, progress, cancel, expand)
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise UserError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
        raise
    finally:
        if held is not None:
            os.close(held)
    _fsync_dir(path.parent)
    _remove_leftovers(path)
    if progress is not None:
        progress(n)
    return ExportResult(path=path, format=fmt, rows=n)


async def export_results_async(
    rows: Rows,
    fmt: ExportFormat,
    path: Path,
    progress: ExportProgress | None = None,
) -> ExportResult:
    """`export_results` in a worker thread, so the event loop stays responsive."""
    return await asyncio.to_thread(export_results, rows, fmt, path, progress)


# --- small files (a chart's numbers, a screenshot) ------------------------------------------


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` the way every export is written: a private temp file in the same
    directory, fsync, rename, 0600. Returns the path written."""
    path = Path(path).expanduser()
    _check_destination(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"Cannot write to {path.parent}: {exc.strerror}.") from exc
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise UserError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
        raise
    _fsync_dir(path.parent)
    return path


def table_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A small table as CSV (RFC 4180, CRLF), text cells guarded against formulas."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(v) if isinstance(v, str) else v for v in row])
    return buf.getvalue().encode("utf-8")


def default_chart_path(batch_or_job_id: str, name: str, extension: str) -> Path:
    """`<id>-<name>.<ext>` in the export directory (the current directory)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", batch_or_job_id) or "batch"
    return paths.exports_dir() / f"{safe}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.{extension}"

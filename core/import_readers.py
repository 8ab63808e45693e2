"""Streaming readers for import files: bytes in, numbered values out.

Each reader yields `(line, value, …)` where `value` is the parsed item or a `Problem`
saying why that item could not be read; readers never raise on bad content. Files are read
in chunks or lines, never whole, so a 256 MB input costs a bounded amount of memory. JSONL
lines also come with where they are in their block (`line_blocks`), so the importer can
copy a clean line to a part without re-serialising it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

CHUNK = 1 << 20
WHOLE_JSON_LIMIT = 64 * 1024 * 1024
"""A JSON file whose top level is an object (not a list) is parsed whole, up to this size."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one item could not be read."""

    message: str
    column: int | None = None


Tick = Callable[[int], None]


def sniff_encoding(head: bytes) -> str:
    """ "utf-8", "utf-8-sig", "utf-16" or "utf-32" from the byte-order mark."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return "utf-8"


def byte_lines(f: IO[bytes], encoding: str, tick: Tick) -> Iterator[bytes]:
    """The file's lines as UTF-8 bytes (BOM removed, other encodings converted)."""
    if encoding in ("utf-8", "utf-8-sig"):
        first = True
        while batch := f.readlines(CHUNK):
            tick(sum(map(len, batch)))
            if first:
                first = False
                if batch[0].startswith(codecs.BOM_UTF8):
                    batch[0] = batch[0][3:]
            yield from batch
        return
    # UTF-16/32 (with a BOM): decode; bad bytes become U+FFFD.
    text = io.TextIOWrapper(f, encoding=encoding, errors="replace", newline="")
    width = 2 if encoding == "utf-16" else 4
    for line in text:
        tick(len(line) * width)
        yield line.lstrip("\ufeff").encode("utf-8", "replace")


class _CrToLf(io.RawIOBase):
    """A binary file whose CRs read as LFs (see `cr_lines`)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._f.seek(pos, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, b: Any) -> int:
        data = self._f.read(len(b))
        b[: len(data)] = data.replace(b"\r", b"\n")
        return len(data)


def cr_lines(f: IO[bytes]) -> IO[bytes]:
    """`f` with every CR read as LF: a file with classic Mac line endings (CR only) then
    reads line by line like any other. (CR is never inside a JSON token, and a CSV cell's
    line break in such a file is a CR too.)"""
    return io.BufferedReader(_CrToLf(f), CHUNK)


def utf8_problem(raw: bytes) -> Problem | None:
    """A Problem if `raw` is not valid UTF-8 (with the 1-based column of the bad byte)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(
            f"This line is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}); "
            "save the file as UTF-8.",
            column=exc.start + 1,
        )
    return None


def json_problem(raw: bytes, exc: orjson.JSONDecodeError) -> Problem:
    bad = utf8_problem(raw)
    if bad is not None:
        return bad
    msg = str(exc.msg) if getattr(exc, "msg", None) else str(exc)
    # Only the last line of a file can lack its newline: a parse error there means truncation.
    hint = " — the file looks truncated" if not raw.endswith(b"\n") else ""
    column = exc.colno if exc.lineno == 1 else len(raw.rstrip().decode("utf-8", "replace")) + 1
    return Problem(f"This line is not valid JSON: {msg}{hint}.", column=column)


def line_blocks(f: IO[bytes], encoding: str, tick: Tick) -> Iterator[tuple[bytes, int, int]]:
    """The file as blocks of whole lines: `(buf, start, stop)`, with `buf[start:stop]` one or
    more lines (only the file's last may lack its newline), in UTF-8, BOM removed.

    Read in `CHUNK`s that are used as they are (no copy); only a line cut by a chunk end is
    assembled into a block of its own. So lines can be parsed and written as slices.
    """
    if encoding not in ("utf-8", "utf-8-sig"):
        for line in byte_lines(f, encoding, tick):
            yield line, 0, len(line)
        return
    if encoding == "utf-8-sig":  # sniffed from the first bytes: the BOM is there
        tick(len(f.read(len(codecs.BOM_UTF8))))
    cut: list[bytes] = []  # pieces of a line cut by chunk ends
    while chunk := f.read(CHUNK):
        tick(len(chunk))
        start = 0
        if cut:
            nl = chunk.find(b"\n")
            if nl < 0:
                cut.append(chunk)
                continue
            start = nl + 1
            cut.append(chunk[:start])
            line = b"".join(cut)
            cut = []
            yield line, 0, len(line)
        stop = chunk.rfind(b"\n") + 1
        if stop > start:
            yield chunk, start, stop
        else:
            stop = start
        if stop < len(chunk):
            cut.append(chunk[stop:])
    if cut:
        line = b"".join(cut)
        yield line, 0, len(line)


def jsonl_values(
    blocks: Iterable[tuple[bytes, int, int]],
) -> Iterator[tuple[int, Any, bytes, int, int]]:
    """(line number, parsed value or Problem, buf, start, end) per non-blank line, where
    `buf[start:end]` is the line as read (parsed in place through a memoryview)."""
    lineno = 0
    loads = orjson.loads
    for buf, start, stop in blocks:
        view = memoryview(buf)
        find = buf.find
        while start < stop:
            nl = find(b"\n", start, stop)
            end = stop if nl < 0 else nl + 1
            lineno += 1
            try:
                value = loads(view[start:end])
            except orjson.JSONDecodeError as exc:
                raw = buf[start:end]
                if not raw.isspace():
                    yield lineno, json_problem(raw, exc), buf, start, end
                start = end
                continue
            yield lineno, value, buf, start, end
            start = end


def output_line(raw: bytes) -> bytes:
    """`raw` as one prepared-file line: no surrounding whitespace, one trailing newline."""
    if raw.endswith(b"\n") and not raw[:1].isspace() and not raw[-2:-1].isspace():
        return raw
    return raw.strip() + b"\n"


def text_lines(lines: Iterator[bytes]) -> Iterator[tuple[int, str | Problem]]:
    """(line number, text without its line ending or Problem) per non-blank line."""
    lineno = 0
    for raw in lines:
        lineno += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad = utf8_problem(raw)
            assert bad is not None
            yield lineno, bad
            continue
        text = text.rstrip("\r\n")
        if text.strip():
            yield lineno, text


def csv_records(
    lines: Iterator[bytes], *, delimiter: str = ","
) -> Iterator[tuple[int, list[str] | dict[str, str] | Problem]]:
    """First the header as a list (line 1), then one dict per row; Problems in between.

    Rows are keyed by the header; a row with more or fewer cells than the header is a Problem.
    """
    current = 0
    problems: list[tuple[int, Problem]] = []

    def decoded() -> Iterator[str]:
        nonlocal current
        for raw in lines:
            current += 1
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                bad = utf8_problem(raw)
                assert bad is not None
                problems.append((current, bad))
                yield "\n"

    reader = csv.reader(decoded(), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield from _drain(problems)
            yield start, Problem(f"This CSV row cannot be read: {exc}.")
            start = reader.line_num + 1
            continue
        yield from _drain(problems)
        line = start
        start = reader.line_num + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = [h.strip() for h in row]
            yield line, header
            continue
        if len(row) != len(header):
            yield (
                line,
                Problem(f"This row has {len(row)} cells but the header has {len(header)}."),
            )
            continue
        yield line, dict(zip(header, row, strict=True))
    yield from _drain(problems)


def _drain(problems: list[tuple[int, Problem]]) -> Iterator[tuple[int, Problem]]:
    while problems:
        yield problems.pop(0)


# --- JSON documents --------------------------------------------------------------------

_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# Skip everything that cannot change the nesting: whole strings and non-bracket bytes.
# Inside an element commas don't matter either; at the top level they separate elements.
_SKIP_INSIDE = re.compile(rb'(?:[^"\[\]{}]++|' + _STRING + rb")*+", re.S)
_SKIP_TOP = re.compile(rb'(?:[^"\[\]{},]++|' + _STRING + rb")*+", re.S)
_NON_WS = re.compile(rb"[^ \t\r\n]")
_WS = b" \t\r\n"


def json_array_values(f: IO[bytes], encoding: str, tick: Tick) -> Iterator[tuple[int, Any]]:
    """(line, value or Problem) for each element of a top-level JSON list, read in chunks.

    A scanner finds element boundaries by tracking bracket depth, skipping strings whole
    (so brackets and commas inside them don't count) with one regex call per structural
    character; each element is then parsed by orjson on its own. Memory holds one chunk
    plus the current element.
    """
    return _ArrayScanner(_utf8_chunks(f, encoding, tick)).values()


class _ArrayScanner:
    """The state of `json_array_values`: a window `buf` on the file, where the current
    element starts in it, the bracket depth at `pos`, and line numbers counted lazily."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buf = b""
        self.base_line = 1  # line number of buf[0]
        self.counted_to = 0  # newline-counting cursor within buf
        self.counted_lines = 0
        self.pos = 0
        self.depth = 0
        self.elem_start = -1  # start of the current top-level element in buf
        self.commas = 0
        self.eof = False
        self.ended = False
        self.need_more = False  # a string is cut by the end of buf
        self.boundary: bytes | None = None  # e.g. b"},\n  {", learned at the first comma

    def values(self) -> Iterator[tuple[int, Any]]:
        problem = self.open_list()
        if problem is not None:
            yield problem
            return
        if self.depth == 0:  # an empty file
            return
        while True:
            yield from self.scan()
            if self.ended:
                yield from self.after_end()
                return
            if self.eof:
                if self.need_more or self.depth > 0:
                    at = self.elem_start if self.elem_start >= 0 else self.pos
                    first = _NON_WS.search(self.buf, at)
                    line = self.line_at(first.start() if first else len(self.buf))
                    yield line, Problem("The JSON list is not closed — the file looks truncated.")
                return
            self.refill()

    def line_at(self, p: int) -> int:
        if p < self.counted_to:
            return self.base_line + self.buf.count(b"\n", 0, p)
        self.counted_lines += self.buf.count(b"\n", self.counted_to, p)
        self.counted_to = p
        return self.base_line + self.counted_lines

    def refill(self) -> None:
        """Drop what has been consumed (keeping the current element) and read more: at
        least as much again as is pending when a long string is cut, so re-scanning it
        stays linear overall."""
        keep = self.elem_start if self.elem_start >= 0 else self.pos
        if keep > 0:
            self.line_at(keep)
            self.base_line += self.counted_lines
            self.counted_lines = 0
            self.counted_to = 0
            self.buf = self.buf[keep:]
            self.pos -= keep
            if self.elem_start >= 0:
                self.elem_start -= keep
        want = len(self.buf) - self.pos if self.need_more else 1
        got: list[bytes] = []
        while want > 0:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                break
            got.append(chunk)
            want -= len(chunk)
        if got:
            self.buf += b"".join(got)

    def open_list(self) -> tuple[int, Problem] | None:
        """Read up to the list's '[' (depth 0 after it: the file holds only whitespace)."""
        while True:
            self.refill()
            first = _NON_WS.search(self.buf)
            if first is not None:
                break
            if self.eof:
                return None
        if self.buf[first.start()] != 0x5B:  # '['
            return self.line_at(first.start()), Problem("Expected a JSON list ('[').")
        self.pos = self.elem_start = first.start() + 1
        self.depth = 1
        return None

    def scan(self) -> Iterator[tuple[int, Any]]:
        """Elements up to the end of `buf`, the end of the list, or a string cut short."""
        self.need_more = False
        buf, n = self.buf, len(self.buf)
        while True:
            self.pos = (_SKIP_INSIDE if self.depth > 1 else _SKIP_TOP).match(buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos >= n:
                return
            c = buf[self.pos]
            if c == 0x22:  # '"' the skip did not consume: a string cut by the chunk end
                self.need_more = True
                return
            self.pos += 1
            if c == 0x2C:  # ',' (only seen at the top level)
                yield from self.element(self.pos - 1)
                self.elem_start = self.pos
                self.commas += 1
                if self.boundary is None:
                    self.boundary = _learn_boundary(buf, self.pos - 1)
                if self.boundary:
                    yield from self.fast_cuts(self.boundary)
            elif c == 0x5B or c == 0x7B:  # '[' '{'
                self.depth += 1
            elif self.depth > 1:
                self.depth -= 1
            elif c == 0x5D:  # ']' closes the list
                if _NON_WS.search(buf, self.elem_start, self.pos - 1):
                    yield from self.element(self.pos - 1)
                elif self.commas:
                    yield (
                        self.line_at(self.elem_start),
                        Problem("This list ends with a trailing comma."),
                    )
                self.depth = 0
                self.ended = True
                self.elem_start = -1
                return
            # a stray '}' at the top level: the element's own parse reports it

    def fast_cuts(self, boundary: bytes) -> Iterator[tuple[int, Any]]:
        """Cut at the separator seen between the first two elements and let orjson check
        each slice. A slice that parses is a complete element, so the next cut starts an
        element too; at the first slice that does not parse (a false cut or a real error),
        the exact scan resumes."""
        buf = self.buf
        skip = len(boundary) - 1
        while (q := buf.find(boundary, self.elem_start)) >= 0:
            first = _NON_WS.search(buf, self.elem_start, q + 1)
            if first is None:
                break
            try:
                value = orjson.loads(buf[first.start() : q + 1])
            except orjson.JSONDecodeError:
                break
            yield self.line_at(first.start()), value
            self.commas += 1
            self.elem_start = q + skip
        self.pos = self.elem_start

    def element(self, end: int) -> Iterator[tuple[int, Any]]:
        buf = self.buf
        first = _NON_WS.search(buf, self.elem_start, end)
        if first is None:
            yield (
                self.line_at(self.elem_start),
                Problem("This list has an empty element (an extra comma?)."),
            )
            return
        line = self.line_at(first.start())
        text = buf[first.start() : end]
        try:
            yield line, orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if utf8_problem(text) is not None:
                yield line, Problem("This element is not valid UTF-8; save the file as UTF-8.")
                return
            yield line, Problem(f"This element is not valid JSON: {exc.msg}.")

    def after_end(self) -> Iterator[tuple[int, Any]]:
        """Only whitespace may follow the list."""
        while True:
            if _NON_WS.search(self.buf, self.pos):
                yield (
                    self.line_at(self.pos),
                    Problem("There is more data after the end of the JSON list."),
                )
                return
            self.pos = len(self.buf)
            if self.eof:
                return
            self.refill()


def _learn_boundary(buf: bytes, comma: int) -> bytes | None:
    """The bytes from the end of one object/list to the start of the next, around `comma`.

    b"" (no fast path) when the elements are not objects or lists, or the next one hasn't
    arrived yet (then None, to try again at the next comma).
    """
    before = len(buf[:comma].rstrip(_WS)) - 1
    after = _NON_WS.search(buf, comma + 1)
    if after is None:
        return None
    if before < 0 or buf[before] not in b"}]" or buf[after.start()] not in b"{[":
        return b""
    return buf[before : after.start() + 1]


def _utf8_chunks(f: IO[bytes], encoding: str, tick: Tick) -> Iterator[bytes]:
    first = True
    if encoding in ("utf-8", "utf-8-sig"):
        while chunk := f.read(CHUNK):
            tick(len(chunk))
            if first and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
            first = False
            yield chunk
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    while True:
        data = f.read(CHUNK)
        tick(len(data))
        text = decoder.decode(data, final=not data)
        if first:
            text = text.lstrip("\ufeff")
            first = False
        if text:
            yield text.encode("utf-8", "replace")
        if not data:
            return

"""Import: parse → validate → split → estimate, streaming, every problem located.

`analyse` turns an input file (native batch JSONL, a JSON list, JSONL records, CSV or TXT
plus an optional `{field}` template) into prepared native JSONL parts under the per-batch
limits, a manifest per part (custom_id → source line), a cost estimate and
a report of every problem found. It never raises on bad input: a broken file is a report
full of errors. Validation mirrors the API (see the API reference §5), including the checks
the API only applies hours later (deferred `errored` rows), so mistakes surface before any
money is spent.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from .import_readers import (
    WHOLE_JSON_LIMIT,
    Problem,
    byte_lines,
    cr_lines,
    csv_records,
    json_array_values,
    jsonl_values,
    line_blocks,
    output_line,
    sniff_encoding,
    text_lines,
)
from .import_records import AutoIdFailed, RecordBuilder, request_params
from .import_sniff import empty_file, wrong_file
from .models import (
    ImportFormat,
    ImportOptions,
    ImportReport,
    auto_custom_id,
)
from .part_writer import PartWriter
from .pricing import (
    CostAccumulator,
    price_for,
    request_input_tokens,
    tokens_for_chars,
)
from .request_checks import (
    CUSTOM_ID_RE,
    MAX_ISSUES,
    MESSAGES_REQUEST_LIMIT,
    ContextChars,
    IssueLog,
    MaxTokensLimits,
    check_params,
    custom_id_problem,
    kind_of,
    model_problem,
    simple_valid,
    size_problems,
    whole_max_tokens,
)
from .templates import Template

__all__ = ["MAX_ISSUES", "analyse", "not_a_file", "requests_from_prompts"]

PREVIEW_COUNT = 5
PROGRESS_STEP = 1 << 20

Progress = Callable[[int, int], None]
_ID_CHARACTERS = re.compile(r"[a-zA-Z0-9_-]*")
"""Custom ids checked together: every character of all of them joined."""

_EXTENSIONS: dict[str, ImportFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "txt",
    ".text": "txt",
    ".md": "txt",
}


# --- public helpers (also used by the compose form) ------------------------------------


def requests_from_prompts(prompts: Iterable[str], options: ImportOptions) -> list[dict[str, Any]]:
    """Native requests for a list of prompts (the compose form), ids `row-000001`, ….

    The template (if any) sees each prompt as `{text}`, `{line}` and `{prompt}`; raises
    TemplateError / MissingField for a bad template. Model and max_tokens come from
    `options` (None is kept, so `validate_request` reports it).
    """
    template = Template(options.template) if options.template else None
    out: list[dict[str, Any]] = []
    for n, prompt in enumerate(prompts, 1):
        text = (
            template.render({"text": prompt, "line": prompt, "prompt": prompt})
            if template
            else prompt
        )
        cid = auto_custom_id(n, options.id_tag)
        out.append({"custom_id": cid, "params": request_params(options, text)})
    return out


# --- the analysis ----------------------------------------------------------------------


class _ContextTiers(dict[str, bool]):
    """model → whether its price depends on the request's size (long-context tier)."""

    def __missing__(self, model: str) -> bool:
        price = price_for(model)
        self[model] = tiered = price is not None and price.threshold is not None
        return tiered


class _Ticker:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self._next = PROGRESS_STEP
        self._progress = progress
        self.error: BaseException | None = None

    def __call__(self, n: int) -> None:
        self.done += n
        if self._progress is not None and self.done >= self._next:
            self._next = self.done + PROGRESS_STEP
            try:
                self._progress(min(self.done, self.total), self.total)
            except BaseException as exc:
                self.error = exc  # the caller's own exception (e.g. to cancel): re-raised
                raise

    def finish(self) -> None:
        if self._progress is not None:
            self._progress(self.total, self.total)


class _Analysis:
    def __init__(
        self,
        path: Path,
        options: ImportOptions,
        work_dir: Path,
        where: str | None = None,
        auto_id: bool = True,
    ) -> None:
        self.path = path
        self.where = where or str(path)
        self.options = options
        self.work_dir = work_dir
        self.issue = IssueLog(self.where)
        self.count = 0
        self.models: dict[str, int] = {}
        self.preview: list[dict[str, Any]] = []
        self.cost = CostAccumulator()
        self.ids: dict[str, int] = {}  # custom_id → line (native requests)
        self.notes: list[str] = []
        self.warned_models: set[str] = set()
        self.parts: PartWriter | None = None
        self.limits = MaxTokensLimits()
        self.context_tiers = _ContextTiers()
        # text characters above which a request leaves the fast path (to be warned about)
        self.context_chars = ContextChars()
        self.records = RecordBuilder(self, auto_id=auto_id)  # record formats

    # accepting requests -------------------------------------------------------------
    def accept(
        self,
        line: int,
        custom_id: str,
        params: Mapping[str, Any],
        body: bytes,
        input_tokens: int,
        start: int = 0,
        end: int = -1,
        original_id: str | None = None,
    ) -> None:
        """Count and write one valid request: `body[start:end]` is its JSON and a newline.

        `original_id` is the record's own id when `custom_id` had to be made from it."""
        if self.parts is None:
            return
        if end < 0:
            end = len(body)
        if not self.parts.fits_alone(end - start - 1):
            self.issue(
                "error",
                f"This request is {end - start - 1:,} bytes, more than the per-batch limit of "
                f"{self.options.max_bytes_per_batch:,} bytes on its own.",
                line,
            )
            return
        for severity, message in size_problems(end - start - 1, input_tokens, params["model"]):
            self.issue(severity, message, line)
        model = params["model"]
        max_tokens = params["max_tokens"]
        self.count += 1
        self.models[model] = self.models.get(model, 0) + 1
        self.cost.add(model, input_tokens, max_tokens)
        if len(self.preview) < PREVIEW_COUNT:
            self.preview.append({"custom_id": custom_id, "params": params})
        try:
            self.parts.add(line, custom_id, body, start, end, original_id)
        except OSError as exc:
            self.write_failed(exc)

    def write_failed(self, exc: OSError) -> None:
        self.issue("error", f"Cannot write the prepared file in {self.work_dir}: {exc}.")
        if self.parts is not None:
            self.parts.abandon()
            self.parts = None

    def check_model(self, model: Any, line: int) -> None:
        if isinstance(model, str) and model not in self.warned_models:
            self.warned_models.add(model)
            problem = model_problem(model) if model.strip() else None
            if problem is not None:
                self.issue(problem[0], problem[1], line, field="params.model")

    # native requests ----------------------------------------------------------------
    def native(
        self, line: int, value: Any, raw: bytes | None, start: int = 0, end: int = 0
    ) -> None:
        """One native request; `raw[start:end]` is its source line (written as is when clean).

        The fast path takes the common, plainly valid shape (`simple_valid`) and writes the
        source bytes without re-serialising them; anything else goes through `native_slow`,
        which applies every rule and explains what is wrong.
        """
        if type(value) is dict and len(value) == 2:
            cid = value.get("custom_id")
            params = value.get("params")
            if type(cid) is str and CUSTOM_ID_RE.fullmatch(cid) and cid not in self.ids:
                chars = simple_valid(params, self.limits)
                if (
                    chars is not None
                    and isinstance(params, dict)
                    and chars <= self.context_chars[params["model"]]
                ):
                    self.ids[cid] = line
                    if params["model"] not in self.warned_models:
                        self.check_model(params["model"], line)
                    tokens = tokens_for_chars(chars)
                    # A clean line ('{…}\n') is written as it is: its length is its size.
                    if raw is not None and raw[start] == 0x7B and raw[end - 2 : end] == b"}\n":
                        self.accept(line, cid, params, raw, tokens, start, end)
                    else:
                        self.accept(
                            line, cid, params, self.body(cid, params, raw, start, end), tokens
                        )
                    return
        self.native_slow(line, value, raw, start, end)

    def take_run(
        self,
        first: int,
        model: str,
        cids: list[str],
        chars: list[int],
        max_tokens: list[int],
        buf: bytes,
        start: int,
        end: int,
    ) -> None:
        """Accept a run of plainly valid requests (see `_run_native_jsonl`) on lines `first`,
        `first + 1`, …: `buf[start:end]`. Their ids are checked together (valid, unique, new)
        and they must fit the open part; otherwise each line goes through `native`."""
        count = len(cids)
        new = dict(zip(cids, range(first, first + count), strict=True))
        parts = self.parts
        if (
            len(new) == count
            and "" not in new
            and max(map(len, cids)) <= 64
            and _ID_CHARACTERS.fullmatch("".join(cids))
            and self.ids.keys().isdisjoint(new)
            and parts is not None
            and parts.fits(count, end - start)
            and end - start <= MESSAGES_REQUEST_LIMIT
            and max(chars) <= self.context_chars[model]
        ):
            self.ids.update(new)
            self.count += count
            self.models[model] = self.models.get(model, 0) + count
            tokens = list(map(tokens_for_chars, chars))
            if self.context_tiers[model]:  # each request's size picks its price tier
                for t, mt in zip(tokens, max_tokens, strict=True):
                    self.cost.add(model, t, mt)
            else:  # one price tier: the estimate is linear, so add the sums
                self.cost.add(model, sum(tokens), sum(max_tokens))
            try:
                parts.add_lines(first, cids, buf, start, end)
            except OSError as exc:
                self.write_failed(exc)
            return
        for line, value, raw, s, e in jsonl_values([(buf, start, end)]):
            self.native(first - 1 + line, value, raw, s, e)

    @staticmethod
    def body(cid: str, params: Any, raw: bytes | None, start: int, end: int) -> bytes:
        """The part line for a request: its source line trimmed, or serialised."""
        if raw is None:
            return orjson.dumps(
                {"custom_id": cid, "params": params}, option=orjson.OPT_APPEND_NEWLINE
            )
        return output_line(raw[start:end])

    def native_slow(self, line: int, value: Any, raw: bytes | None, start: int, end: int) -> None:
        if not isinstance(value, dict):
            self.issue("error", f"Each line must be a JSON object, not {kind_of(value)}.", line)
            return
        failed = False
        cid = value.get("custom_id")
        problem = custom_id_problem(cid)
        if problem:
            self.issue("error", problem, line, field="custom_id")
            failed = True
        elif isinstance(cid, str) and cid in self.ids:
            self.issue(
                "error",
                f"custom_id {cid!r} is used twice: on line {self.ids[cid]} and on this line.",
                line,
                field="custom_id",
            )
            failed = True
        elif isinstance(cid, str):
            self.ids[cid] = line
        if "params" not in value:
            self.issue(
                "error",
                "This line has no 'params' (a native request is {\"custom_id\": …, "
                '"params": {…}}; for other records, give a template).',
                line,
            )
            return
        params = value["params"]
        if whole_max_tokens(params):
            raw = None  # written again, with max_tokens as a whole number
        for severity, fld, message in check_params(params):
            self.issue(severity, message, line, field=fld)
            failed = failed or severity == "error"
        if isinstance(params, dict):
            self.check_model(params.get("model"), line)
        if failed or self.parts is None:
            return
        assert isinstance(cid, str)
        extra = [k for k in value if k not in ("custom_id", "params")]
        if extra:
            self.issue(
                "warning",
                f"Ignored {', '.join(map(repr, extra))}: a request holds only custom_id and "
                "params.",
                line,
            )
            raw = None
        body = self.body(cid, params, raw, start, end)
        self.accept(line, cid, params, body, request_input_tokens(params))


# --- format detection ------------------------------------------------------------------


def _detect(path: Path, head: bytes, options: ImportOptions) -> tuple[ImportFormat, str]:
    """(format, encoding) from the options, the extension and the first bytes."""
    encoding = sniff_encoding(head)
    fmt = options.format
    if fmt is None:
        fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        first = _first_text(head, encoding).lstrip()
        if first.startswith("["):
            fmt = "json"
        elif first.startswith("{"):
            fmt = "jsonl"
        else:
            fmt = "txt"
    if fmt == "json" and _first_text(head, encoding).lstrip().startswith("{"):
        # A .json file holding one object per line is JSONL in disguise.
        lines = [ln for ln in _first_text(head, encoding).splitlines() if ln.strip()]
        if len(lines) > 1 and _parses(lines[0]) and lines[1].lstrip().startswith("{"):
            fmt = "jsonl"
    if fmt == "jsonl" and (options.format is None or options.template):
        first_line = next((ln for ln in _first_text(head, encoding).splitlines() if ln.strip()), "")
        value = _parses(first_line)
        if isinstance(value, dict) and "params" not in value and "custom_id" not in value:
            fmt = "records-jsonl"
    return fmt, encoding


def _first_text(head: bytes, encoding: str) -> str:
    return head.decode(encoding, errors="replace").lstrip("\ufeff")


def _parses(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


# --- entry point -----------------------------------------------------------------------


def analyse(
    path: Path,
    options: ImportOptions,
    *,
    work_dir: Path,
    progress: Progress | None = None,
    source: str | None = None,
) -> ImportReport:
    """Read, validate, split and estimate `path`; never raises on bad input.

    Valid requests are written as native JSONL parts (`part-0001.jsonl`, …) with manifests
    into `work_dir`; `report.request_count` counts those valid requests, and the report is
    `ok` only when there are some and no errors. `progress(bytes_read, total_bytes)` is called
    about every megabyte; an exception it raises (to cancel) propagates, temp files removed.
    Native requests are taken as they are: `options` model/max_tokens/system only fill
    requests built from records, CSV rows or text lines. `source` names the input in the
    report when `path` is a copy of it (a spooled stream, see `import_source`).

    Records whose first one has a `custom_id` or `id` field (and no `id_field` is given)
    take their custom_ids from it when every record has a unique valid one; otherwise the
    file is read again with generated ids, and a note says why.
    """
    try:
        report = _analyse(Path(path), options, work_dir, progress, source, auto_id=True)
    except AutoIdFailed as exc:
        report = _analyse(Path(path), options, work_dir, progress, source, auto_id=False)
        if report.request_count:
            report.notes.insert(
                0,
                f"The records' {exc.field!r} field is not used as custom_id: {exc.reason}; "
                f"the requests are numbered {auto_custom_id(1, options.id_tag)}, … instead"
                " (choose a field with "
                "--id-field to have invalid ids rewritten).",
            )
    return report


def _analyse(
    path: Path,
    options: ImportOptions,
    work_dir: Path,
    progress: Progress | None,
    source: str | None,
    *,
    auto_id: bool,
) -> ImportReport:
    analysis = _Analysis(path, options, work_dir, source, auto_id)
    report = ImportReport(path=source or str(path), format=options.format or "jsonl")
    f = _open_source(path)
    if isinstance(f, str):
        return _failed(report, analysis, f)
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            head = f.read(64 * 1024)
            f.seek(0)
        except OSError as exc:
            return _failed(report, analysis, f"Cannot read the file: {_reason(exc)}.")
        report.byte_size = size
        fmt, encoding = _detect(path, head, options)
        report.format = fmt
        if encoding == "utf-8":  # (a byte-order mark says it is text)
            wrong = wrong_file(head, "anthropic", jsonl=fmt == "jsonl" and not options.template)
            if wrong is not None:
                return _failed(report, analysis, *wrong)
        if (empty := empty_file(head)) is not None:
            return _failed(report, analysis, empty)
        reader: IO[bytes] = f
        if encoding in ("utf-8", "utf-8-sig") and b"\r" in head and b"\n" not in head:
            reader = cr_lines(f)  # classic Mac line endings: each CR ends a line
        try:
            _prepare_dir(work_dir, path)
            analysis.parts = PartWriter(
                work_dir, options.max_requests_per_batch, options.max_bytes_per_batch
            )
        except OSError as exc:
            analysis.issue("error", f"Cannot prepare the work directory {work_dir}: {exc}.")
        ticker = _Ticker(size, progress)
        try:
            _run(analysis, reader, fmt, encoding, ticker, size)
        except OSError as exc:
            analysis.issue("error", f"Reading {analysis.where} failed: {_reason(exc)}.")
        except RecursionError:
            analysis.issue("error", "The file is nested too deeply to read.")
        except AutoIdFailed:
            if analysis.parts is not None:
                analysis.parts.abandon()
            raise
        except Exception as exc:
            if exc is ticker.error:  # raised by the progress callback: the caller cancels
                if analysis.parts is not None:
                    analysis.parts.abandon()
                raise
            # A bug, not bad input: still a report, never a traceback in a front end.
            analysis.issue(
                "error", f"Internal error while reading the file ({type(exc).__name__}: {exc})."
            )
            if analysis.parts is not None:
                analysis.parts.abandon()
                analysis.parts = None
        ticker.finish()
    if analysis.parts is not None:
        try:
            report.parts = analysis.parts.finish()
        except OSError as exc:
            analysis.issue("error", f"Cannot write the prepared file in {work_dir}: {exc}.")
            analysis.parts.abandon()
            report.parts = []
    if analysis.count == 0 and analysis.issue.errors == 0:
        analysis.issue("error", "The file holds no requests.")
    if analysis.records.id_auto and analysis.count:
        analysis.notes.append(
            f"custom_id is taken from each record's {analysis.records.id_field!r} field."
        )
    report.request_count = analysis.count
    report.issues = analysis.issue.final()
    report.models = dict(sorted(analysis.models.items(), key=lambda kv: -kv[1]))
    report.preview = analysis.preview
    report.estimate = analysis.cost.result()
    report.prepared_path = work_dir
    report.notes = analysis.notes
    report.invalid_requests = len(analysis.issue.bad_lines)
    report.whole_file_errors = analysis.issue.general_errors
    return report


def not_a_file(path: Path) -> str | None:
    """Why `path` cannot be analysed as it is (a device, a socket, a pipe), or None.

    Pipes and FIFOs are read once into a file first (`import_source.spool`); devices such
    as /dev/zero never end and are refused.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # open() says what is wrong
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "This is a pipe or FIFO: batchtop reads it into a file first (batchtop submit does)."
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "This is a device, not a file: batchtop reads regular files, pipes and FIFOs."
    return "This is not a regular file (a socket?): batchtop reads files, pipes and FIFOs."


def cannot_open(path: Path) -> str | None:
    """Why `path` cannot be read as a source of requests, or None: checked before anything
    that would talk to the API (a dry run on a missing file makes no call)."""
    f = _open_source(path)
    if isinstance(f, str):
        return f
    f.close()
    return None


def _open_source(path: Path) -> IO[bytes] | str:
    """The source opened for reading, or the one-line reason it cannot be."""
    refused = not_a_file(path)
    if refused:
        return refused
    try:
        return open(path, "rb")
    except IsADirectoryError:
        return "This is a directory, not a file."
    except FileNotFoundError:
        return "The file does not exist."
    except OSError as exc:
        return f"Cannot read the file: {_reason(exc)}."


def _reason(exc: OSError) -> str:
    """The cause in an OSError, without a final period (messages add their own)."""
    return str(exc.strerror or exc).rstrip(". ")


def _failed(
    report: ImportReport, analysis: _Analysis, message: str, for_provider: str | None = None
) -> ImportReport:
    analysis.issue("error", message, for_provider=for_provider)
    report.issues = analysis.issue.final()
    return report


def _prepare_dir(work_dir: Path, source: Path) -> None:
    """Create `work_dir` and remove parts a previous analysis left there (never the input)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    keep = source.resolve()
    for old in work_dir.glob("part-*.jsonl*"):
        if old.resolve() != keep:
            old.unlink(missing_ok=True)


def _run(
    a: _Analysis, f: IO[bytes], fmt: ImportFormat, encoding: str, tick: _Ticker, size: int
) -> None:
    if a.options.template is not None and not a.options.template.strip():
        a.issue(
            "error",
            "The template is empty: give one with {field} placeholders, or none to use the "
            "records' prompt field.",
            field="template",
        )
        a.records.template_broken = True
    if a.options.id_field is not None and not a.options.id_field.strip():
        a.issue("error", "The id field is empty: name a field, or none.", field="id_field")
        a.records.template_broken = True
    if fmt == "jsonl":
        if a.options.template:
            a.issue("warning", "The template is ignored: the file holds native requests.")
        _run_native_jsonl(a, jsonl_values(line_blocks(f, encoding, tick)))
        return
    if fmt == "json":
        _run_json(a, f, encoding, tick, size)
        return
    a.records.check_options()
    if fmt == "records-jsonl":
        for line, value, *_ in jsonl_values(line_blocks(f, encoding, tick)):
            if type(value) is Problem:
                a.issue("error", value.message, line, value.column)
            else:
                a.records.record(line, value)
    elif fmt == "csv":
        delimiter = _csv_delimiter(a.path, f, encoding)
        header_seen = False
        for line, row in csv_records(byte_lines(f, encoding, tick), delimiter=delimiter):
            if isinstance(row, Problem):
                a.issue("error", row.message, line, row.column)
            elif isinstance(row, list):
                header_seen = True
                _check_header(a, row, line)
            else:
                a.records.record(line, row)
        if header_seen and not a.records.template_checked:
            a.issue("error", "The CSV file has a header but no rows.")
    else:
        if not a.options.template:
            a.records.template = Template("{text}")
        for line, text in text_lines(byte_lines(f, encoding, tick)):
            if isinstance(text, Problem):
                a.issue("error", text.message, line, text.column)
            else:
                a.records.txt_line(line, text)


def _run_native_jsonl(a: _Analysis, lines: Iterable[tuple[int, Any, bytes, int, int]]) -> None:
    """Native JSONL: the hot loop of a big import (per request, every step counts).

    Consecutive lines that each hold a plainly valid request (`simple_valid`) of the same
    model, written cleanly ('{…}\\n'), are gathered into a run: one slice of the block they
    were read from. `_Analysis.take_run` then checks their ids together and hands the slice
    to the writer as it is (no re-serialising). Every other line (problems, the first
    requests, a model's first request, lines to trim) goes through `_Analysis.native`, which
    applies every rule one by one.
    """
    limits = a.limits
    seen_models = a.warned_models
    run: bytes | None = None
    run_start = run_end = run_first = 0
    run_model = ""
    cids: list[str] = []
    chars: list[int] = []
    max_tokens: list[int] = []
    cid: Any = None  # (Any: set inside `plain`, used only when it is true)
    n: Any = None
    params: Any = None
    for line, value, buf, start, end in lines:
        plain = (
            type(value) is dict
            and len(value) == 2
            and type(cid := value.get("custom_id")) is str
            and (n := simple_valid(params := value.get("params"), limits)) is not None
            and buf[start] == 0x7B
            and buf[end - 2 : end] == b"}\n"
        )
        if plain and start == run_end and buf is run and params["model"] == run_model:
            cids.append(cid)
            chars.append(n)
            max_tokens.append(params["max_tokens"])
            run_end = end
            continue
        if cids:
            assert run is not None
            a.take_run(run_first, run_model, cids, chars, max_tokens, run, run_start, run_end)
            cids, chars, max_tokens = [], [], []
        if plain and params["model"] in seen_models and a.count >= PREVIEW_COUNT:
            run, run_start, run_end, run_first = buf, start, end, line
            run_model = params["model"]
            cids.append(cid)
            chars.append(n)
            max_tokens.append(params["max_tokens"])
            continue
        run = None
        if type(value) is Problem:
            a.issue("error", value.message, line, value.column)
        else:
            a.native(line, value, buf, start, end)
    if cids:
        assert run is not None
        a.take_run(run_first, run_model, cids, chars, max_tokens, run, run_start, run_end)


def _csv_delimiter(path: Path, f: IO[bytes], encoding: str) -> str:
    """Tab for .tsv; otherwise the most frequent of , ; tab | in the header line (',' if none)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    head = f.read(64 * 1024)
    f.seek(0)
    header = _first_text(head, encoding).split("\n", 1)[0]
    counts = {d: header.count(d) for d in ",;\t|"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _check_header(a: _Analysis, header: list[str], line: int) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            a.issue("warning", "The header has an empty column name.", line)
        elif name in seen:
            a.issue("warning", f"The header names {name!r} twice; the last one wins.", line)
        seen.add(name)


def _run_json(a: _Analysis, f: IO[bytes], encoding: str, tick: _Ticker, size: int) -> None:
    head = f.read(4096)
    f.seek(0)
    if not _first_text(head, encoding).lstrip().startswith("["):
        _run_json_object(a, f, encoding, tick, size)
        return
    mode: str | None = None  # "native" or "records", from the first object
    for line, value in json_array_values(f, encoding, tick):
        if isinstance(value, Problem):
            a.issue("error", value.message, line, value.column)
            continue
        if mode is None:
            native = isinstance(value, dict) and ("params" in value or "custom_id" in value)
            mode = "native" if native else "records"
            if mode == "records":
                a.records.check_options()
            elif a.options.template:
                a.issue("warning", "The template is ignored: the file holds native requests.")
        if mode == "native":
            a.native(line, value, None)
        else:
            a.records.record(line, value)


def _run_json_object(a: _Analysis, f: IO[bytes], encoding: str, tick: _Ticker, size: int) -> None:
    if size > WHOLE_JSON_LIMIT:
        a.issue(
            "error",
            f"The JSON file is one object of {size / 1e6:.0f} MB; batchtop streams JSON lists "
            "and JSONL only. Convert it to JSONL (one request per line).",
            1,
        )
        return
    data = f.read()
    tick(len(data))
    text: bytes | str = data
    if encoding not in ("utf-8", "utf-8-sig"):
        text = data.decode(encoding, errors="replace")
    elif data.startswith(b"\xef\xbb\xbf"):
        text = data[3:]
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        a.issue("error", f"The file is not valid JSON: {exc.msg}.", exc.lineno, exc.colno)
        return
    requests = value.get("requests") if isinstance(value, dict) else None
    if not isinstance(requests, list):
        a.issue(
            "error",
            "The JSON file holds an object; expected a list of records or requests, or "
            '{"requests": [...]}.',
            1,
        )
        return
    for i, req in enumerate(requests):
        a.native(i + 1, req, None)


def iter_part(path: Path) -> Iterator[bytes]:
    """The request lines of a prepared part file (for submitting it)."""
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if line:
                yield line

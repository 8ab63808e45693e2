"""Import: parse → validate → split → estimate, streaming, every problem located.

`analyse` turns an input file (native batch JSONL, a JSON list, JSONL records, CSV or TXT
plus an optional `{field}` template) into prepared native JSONL parts under the per-batch
limits, a manifest per part (custom_id → source line and prompt text), a cost estimate and
a report of every problem found. It never raises on bad input: a broken file is a report
full of errors. Validation mirrors the API (see the API reference §5), including the checks
the API only applies hours later (deferred `errored` rows), so mistakes surface before any
money is spent.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import orjson

from .import_readers import (
    WHOLE_JSON_LIMIT,
    Problem,
    byte_lines,
    csv_records,
    json_array_values,
    jsonl_values,
    output_line,
    sniff_encoding,
    text_lines,
)
from .models import ImportFormat, ImportIssue, ImportOptions, ImportReport, Severity, SplitPart
from .pricing import (
    CostAccumulator,
    is_known_model,
    price_for,
    request_input_tokens,
    tokens_for_chars,
)
from .templates import MissingField, Template, TemplateError, format_value

CUSTOM_ID_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID_RE = re.compile(CUSTOM_ID_PATTERN)
_BAD_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")
MAX_ISSUES = 1000
"""Issues kept in a report; the rest are counted in a final summary issue."""
PREVIEW_COUNT = 5
PROGRESS_STEP = 1 << 20
BODY_OVERHEAD = len(b'{"requests":[]}')
"""Bytes of the create body around its requests (plus one comma between requests)."""
DEFAULT_PROMPT_FIELDS = ("prompt", "text", "content", "input", "question", "line")

Progress = Callable[[int, int], None]

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


def custom_id_problem(value: Any) -> str | None:
    """A sentence saying what is wrong with a custom_id the user chose, or None."""
    if value is None:
        return "custom_id is missing."
    if not isinstance(value, str):
        return f"custom_id must be a string, not {_kind(value)}."
    if not value:
        return "custom_id is empty; it needs 1 to 64 characters."
    if _CUSTOM_ID_RE.match(value):
        return None
    wrong: list[str] = []
    if len(value) > 64:
        wrong.append(f"is {len(value)} characters long (the limit is 64)")
    bad = dict.fromkeys(ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "_-")))
    if bad:
        shown = ", ".join(repr(c) for c in list(bad)[:8])
        wrong.append(f"contains {shown} (only letters, digits, '_' and '-' are allowed)")
    return f"custom_id {_short(value)} " + " and ".join(wrong) + "."


def sanitize_custom_id(raw: str, used: set[str]) -> str:
    """A valid custom_id derived from `raw`, unique within `used` (which it is added to).

    Invalid characters become `_`; ids over 64 characters keep a prefix plus a hash of the
    whole raw value, so distinct long ids stay distinct; collisions get `-2`, `-3`, ….
    """
    cid = _BAD_ID_CHARS.sub("_", raw)
    if not cid:
        cid = "id"
    if len(cid) > 64:
        digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cid = f"{cid[:53]}-{digest}"
    base, n = cid, 2
    while cid in used:
        suffix = f"-{n}"
        cid = base[: 64 - len(suffix)] + suffix
        n += 1
    used.add(cid)
    return cid


def render_template(template: str, record: Mapping[str, Any]) -> str:
    """Fill `{field}` placeholders from `record` (raises TemplateError / MissingField)."""
    return Template(template).render(record)


def validate_request(
    req: Mapping[str, Any], *, index: int = 0, path: str = "compose"
) -> list[ImportIssue]:
    """Every problem in one request, as the API would see it.

    `req` is a native request (`{custom_id, params}`) or bare params; issues carry
    `line = index + 1`.
    """
    line = index + 1
    issues: list[ImportIssue] = []
    if not isinstance(req, Mapping):
        return [ImportIssue("error", "A request must be a JSON object.", path, line)]
    params: Any = req
    if "params" in req or "custom_id" in req:
        problem = custom_id_problem(req.get("custom_id"))
        if problem:
            issues.append(ImportIssue("error", problem, path, line, field="custom_id"))
        if "params" not in req:
            issues.append(ImportIssue("error", "The request has no 'params'.", path, line))
            return issues
        params = req["params"]
    for severity, fld, message in check_params(params):
        issues.append(ImportIssue(severity, message, path, line, field=fld))
    if isinstance(params, Mapping):
        model = params.get("model")
        if isinstance(model, str) and model.strip() and not is_known_model(model):
            issues.append(
                ImportIssue("warning", _unknown_model(model), path, line, field="params.model")
            )
    return issues


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
        out.append({"custom_id": f"row-{n:06d}", "params": _params(options, text)})
    return out


def check_params(params: Any) -> list[tuple[Severity, str, str]]:
    """(severity, field, sentence) for each problem in a Messages `params` object.

    Unknown keys are accepted (the API grows); the model name is not checked here.
    """
    if not isinstance(params, Mapping):
        return [("error", "params", f"params must be a JSON object, not {_kind(params)}.")]
    out: list[tuple[Severity, str, str]] = []
    model = params.get("model")
    if model is None:
        out.append(("error", "params.model", "params has no 'model'."))
    elif not isinstance(model, str) or not model.strip():
        out.append(("error", "params.model", "params.model must be a non-empty string."))
        model = None
    mt = params.get("max_tokens")
    if mt is None:
        out.append(("error", "params.max_tokens", "params has no 'max_tokens'."))
    elif not isinstance(mt, int) or isinstance(mt, bool):
        out.append(
            ("error", "params.max_tokens", f"max_tokens must be a whole number, not {_kind(mt)}.")
        )
    elif mt < 1:
        out.append(("error", "params.max_tokens", f"max_tokens must be at least 1 (got {mt})."))
    elif isinstance(model, str):
        limit_problem = _max_tokens_problem(model, mt)
        if limit_problem:
            out.append((limit_problem[0], "params.max_tokens", limit_problem[1]))
    messages = params.get("messages")
    if messages is None:
        out.append(("error", "params.messages", "params has no 'messages'."))
    elif not isinstance(messages, list):
        out.append(("error", "params.messages", "params.messages must be a list of messages."))
    elif not messages:
        out.append(
            ("error", "params.messages", "params.messages is empty; it needs at least one message.")
        )
    else:
        for i, message in enumerate(messages):
            problem = _message_problem(message)
            if problem:
                out.append(("error", f"params.messages.{i}", f"messages[{i}] {problem}"))
    system = params.get("system")
    if system is not None and not isinstance(system, str | list):
        out.append(("error", "params.system", "params.system must be text or a list of blocks."))
    if params.get("stream") is True:
        out.append(
            (
                "error",
                "params.stream",
                "stream=true is not supported in the Message Batches API; remove 'stream'.",
            )
        )
    if params.get("speed") is not None:
        out.append(
            (
                "error",
                "params.speed",
                "'speed' (fast mode) is not supported in the Message Batches API; remove it.",
            )
        )
    return out


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, Mapping):
        return f"must be an object with 'role' and 'content', not {_kind(message)}."
    role = message.get("role")
    if role not in ("user", "assistant"):
        if role is None:
            return "has no 'role'."
        return f"has role {_short(role)}; it must be 'user' or 'assistant'."
    if "content" not in message:
        return "has no 'content'."
    content = message["content"]
    if isinstance(content, str):
        return None if content.strip() else "has empty text content."
    if isinstance(content, list):
        if not content:
            return "has an empty content list."
        for j, block in enumerate(content):
            if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
                return f"content block {j} must be an object with a 'type'."
            if block["type"] == "text" and not (
                isinstance(block.get("text"), str) and block["text"].strip()
            ):
                return f"content block {j} has empty or missing 'text'."
        return None
    return f"content must be text or a list of blocks, not {_kind(content)}."


def _max_tokens_problem(model: str, mt: int) -> tuple[Severity, str] | None:
    price = price_for(model)
    if price is None or price.max_output_tokens is None or mt <= price.max_output_tokens:
        return None
    beta = price.beta_max_output_tokens
    if beta is not None and mt <= beta:
        return (
            "warning",
            f"max_tokens {mt} is above {price.max_output_tokens}, the usual maximum for "
            f"{model}; it only works with the output-300k beta.",
        )
    limit = beta or price.max_output_tokens
    return ("error", f"max_tokens {mt} is above {limit}, the maximum output of {model}.")


def _unknown_model(model: str) -> str:
    return f"Model {_short(model)} is not in batchtop's price list; the API may still accept it."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: Any, limit: int = 70) -> str:
    text = value if isinstance(value, str) else format_value(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def _params(options: ImportOptions, text: str) -> dict[str, Any]:
    params: dict[str, Any] = {"model": options.model, "max_tokens": options.max_tokens}
    if options.system:
        params["system"] = options.system
    params["messages"] = [{"role": "user", "content": text}]
    return params


def _user_text(params: Any) -> str | None:
    """The text of the last user message (what a person would call "the prompt")."""
    if not isinstance(params, Mapping):
        return None
    messages = params.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [
                    b["text"]
                    for b in content
                    if isinstance(b, Mapping) and isinstance(b.get("text"), str)
                ]
                return "\n".join(texts)
            return None
    return None


# --- the analysis ----------------------------------------------------------------------


class _Limits(dict[str, int]):
    """model → the largest max_tokens accepted without comment (cached price lookups)."""

    def __missing__(self, model: str) -> int:
        price = price_for(model)
        limit = price.max_output_tokens if price and price.max_output_tokens else 1 << 62
        self[model] = limit
        return limit


def _simple_valid(params: Any, limits: _Limits) -> tuple[int, str] | None:
    """(text characters, last user text) when `params` is plainly valid, else None.

    Covers the common shape (text messages, text or no system) in one pass; anything else
    goes through `check_params`, which explains what is wrong.
    """
    if type(params) is not dict:
        return None
    model = params.get("model")
    mt = params.get("max_tokens")
    messages = params.get("messages")
    if (
        type(model) is not str
        or not model
        or type(mt) is not int
        or mt < 1
        or type(messages) is not list
        or not messages
        or params.get("stream") is True
        or params.get("speed") is not None
        or mt > limits[model]
    ):
        return None
    system = params.get("system")
    if system is None:
        chars = 0
    elif type(system) is str:
        chars = len(system)
    else:
        return None
    last_user = ""
    for message in messages:
        if type(message) is not dict:
            return None
        content = message.get("content")
        if type(content) is not str or not content or content.isspace():
            return None
        role = message.get("role")
        if role == "user":
            last_user = content
        elif role != "assistant":
            return None
        chars += len(content)
    if "tools" in params:
        return None
    return chars, last_user


def _dump(cid: str, params: Any) -> bytes:
    return orjson.dumps({"custom_id": cid, "params": params}, option=orjson.OPT_APPEND_NEWLINE)


class _Parts:
    """Writes prepared native JSONL parts (and their manifests) under the split limits.

    Writes, fsyncs and renames run on one background thread (in order), so disk I/O overlaps
    with parsing; a write error surfaces as OSError from the next `add` or from `finish`.
    """

    def __init__(self, work_dir: Path, max_requests: int, max_bytes: int) -> None:
        self.work_dir = work_dir
        self.max_requests = max(1, max_requests)
        self.max_bytes = max_bytes
        self.parts: list[SplitPart] = []
        self._out: IO[bytes] | None = None
        self._manifest: IO[bytes] | None = None
        self._count = 0
        self._bytes = BODY_OVERHEAD
        self._first = 0
        self._last = 0
        self._open_part = False
        self._lines: list[bytes] = []
        self._manifest_lines: list[bytes] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="batchtop-import-writer")
        self._pending: deque[Future[None]] = deque()

    def fits_alone(self, body: bytes) -> bool:
        return BODY_OVERHEAD + len(body) - 1 <= self.max_bytes

    def add(self, line: int, custom_id: str, body: bytes, input_text: str | None) -> None:
        """Append one request; `body` is its JSON followed by exactly one newline."""
        size = len(body) - 1
        if self._open_part and (
            self._count >= self.max_requests or self._bytes + size + 1 > self.max_bytes
        ):
            self._close()
        if not self._open_part:
            self._open(line)
        self._lines.append(body)
        self._manifest_lines.append(
            orjson.dumps(
                {"custom_id": custom_id, "line": line, "input_text": input_text},
                option=orjson.OPT_APPEND_NEWLINE,
            )
        )
        if len(self._lines) >= 512:
            self._flush()
        self._bytes += size + (1 if self._count else 0)
        self._count += 1
        self._last = line

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        while self._pending and (self._pending[0].done() or len(self._pending) > 16):
            self._pending.popleft().result()  # re-raises a write error here

    def _flush(self) -> None:
        """Hand the buffered lines to the writer thread (one C-level call per batch)."""
        assert self._out is not None
        assert self._manifest is not None
        lines, self._lines = self._lines, []
        manifest_lines, self._manifest_lines = self._manifest_lines, []
        self._submit(_write_lines, self._out, lines, self._manifest, manifest_lines)

    def _name(self, index: int) -> tuple[Path, Path]:
        return (
            self.work_dir / f"part-{index:04d}.jsonl",
            self.work_dir / f"part-{index:04d}.manifest.jsonl",
        )

    def _open(self, line: int) -> None:
        part, manifest = self._name(len(self.parts) + 1)
        self._out = open(part.with_name(part.name + ".tmp"), "wb", buffering=1 << 20)  # noqa: SIM115
        self._manifest = open(  # noqa: SIM115
            manifest.with_name(manifest.name + ".tmp"), "wb", buffering=1 << 20
        )
        self._count = 0
        self._bytes = BODY_OVERHEAD
        self._first = line
        self._open_part = True

    def _close(self) -> None:
        self._flush()
        self._open_part = False
        index = len(self.parts) + 1
        assert self._out is not None
        assert self._manifest is not None
        part, manifest = self._name(index)
        self._submit(_commit_file, self._out, part)
        self._submit(_commit_file, self._manifest, manifest)
        self.parts.append(SplitPart(index, self._count, self._bytes, self._first, self._last))
        self._out = self._manifest = None

    def finish(self) -> list[SplitPart]:
        try:
            if self._open_part:
                self._close()
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)
        return self.parts

    def abandon(self) -> None:
        """Stop writing after an error: wait for the writer, drop temp files."""
        self._open_part = False
        self._lines.clear()
        self._manifest_lines.clear()
        for fut in self._pending:
            fut.exception()
        self._pending.clear()
        self._pool.shutdown(wait=True)
        for handle in (self._out, self._manifest):
            if handle is not None:
                handle.close()
                Path(str(handle.name)).unlink(missing_ok=True)
        self._out = self._manifest = None


def _write_lines(
    out: IO[bytes], lines: list[bytes], manifest: IO[bytes], manifest_lines: list[bytes]
) -> None:
    out.writelines(lines)
    manifest.writelines(manifest_lines)


def _commit_file(handle: IO[bytes], final: Path) -> None:
    """Make a finished temp file durable and give it its final name (atomic)."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(handle.name, final)


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
    def __init__(self, path: Path, options: ImportOptions, work_dir: Path) -> None:
        self.path = path
        self.where = str(path)
        self.options = options
        self.work_dir = work_dir
        self.issues: list[ImportIssue] = []
        self.errors = 0
        self.warnings = 0
        self.count = 0
        self.models: dict[str, int] = {}
        self.preview: list[dict[str, Any]] = []
        self.cost = CostAccumulator()
        self.ids: dict[str, int] = {}  # custom_id → line (native) / raw id → line (id_field)
        self.used: set[str] = set()
        self.warned_models: set[str] = set()
        self.parts: _Parts | None = None
        self.limits = _Limits()
        # record formats
        self.template: Template | None = None
        self.template_checked = False
        self.template_broken = False
        self.options_ok = True
        self.missing_once: set[str] = set()
        self.records = 0  # records seen (generated ids follow it, so they match input rows)

    # issues -------------------------------------------------------------------------
    def issue(
        self,
        severity: Severity,
        message: str,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        if severity == "error":
            self.errors += 1
        else:
            self.warnings += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(ImportIssue(severity, message, self.where, line, column, field))

    def final_issues(self) -> list[ImportIssue]:
        shown = len(self.issues)
        total = self.errors + self.warnings
        if total <= shown:
            return self.issues
        shown_errors = sum(1 for i in self.issues if i.severity == "error")
        more_errors = self.errors - shown_errors
        more_warnings = total - shown - more_errors
        return [
            *self.issues,
            ImportIssue(
                "error" if more_errors else "warning",
                f"…and {total - shown} more problems not listed "
                f"({more_errors} errors, {more_warnings} warnings); "
                f"{total} in all.",
                self.where,
            ),
        ]

    # accepting requests -------------------------------------------------------------
    def accept(
        self,
        line: int,
        custom_id: str,
        params: Mapping[str, Any],
        body: bytes,
        input_text: str | None,
        input_tokens: int,
    ) -> None:
        if self.parts is None:
            return
        if not self.parts.fits_alone(body):
            self.issue(
                "error",
                f"This request is {len(body) - 1:,} bytes, more than the per-batch limit of "
                f"{self.options.max_bytes_per_batch:,} bytes on its own.",
                line,
            )
            return
        model = params["model"]
        max_tokens = params["max_tokens"]
        self.count += 1
        self.models[model] = self.models.get(model, 0) + 1
        self.cost.add(model, input_tokens, max_tokens)
        if len(self.preview) < PREVIEW_COUNT:
            self.preview.append({"custom_id": custom_id, "params": params})
        try:
            self.parts.add(line, custom_id, body, input_text)
        except OSError as exc:
            self.issue("error", f"Cannot write the prepared file in {self.work_dir}: {exc}.")
            self.parts.abandon()
            self.parts = None

    def check_model(self, model: Any, line: int) -> None:
        if isinstance(model, str) and model not in self.warned_models:
            self.warned_models.add(model)
            if model.strip() and not is_known_model(model):
                self.issue("warning", _unknown_model(model), line, field="params.model")

    # native requests ----------------------------------------------------------------
    def native(self, line: int, value: Any, raw: bytes | None) -> None:
        """One native request; `raw` is its source line (reused as is when it is clean)."""
        if type(value) is dict and len(value) == 2:
            # Fast path: the common, valid shape, checked in one pass.
            cid = value.get("custom_id")
            params = value.get("params")
            if type(cid) is str and _CUSTOM_ID_RE.match(cid) and cid not in self.ids:
                stats = _simple_valid(params, self.limits)
                if stats is not None:
                    self.ids[cid] = line
                    assert isinstance(params, dict)
                    if params["model"] not in self.warned_models:
                        self.check_model(params["model"], line)
                    body = output_line(raw) if raw is not None else _dump(cid, params)
                    self.accept(line, cid, params, body, stats[1], tokens_for_chars(stats[0]))
                    return
        self.native_slow(line, value, raw)

    def native_slow(self, line: int, value: Any, raw: bytes | None) -> None:
        if not isinstance(value, dict):
            self.issue("error", f"Each line must be a JSON object, not {_kind(value)}.", line)
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
        body = output_line(raw) if raw is not None else _dump(cid, params)
        self.accept(line, cid, params, body, _user_text(params), request_input_tokens(params))

    # records + template -------------------------------------------------------------
    def check_options(self) -> None:
        """Problems with the defaults that apply to every record: reported once."""
        probe = {
            "model": self.options.model,
            "max_tokens": self.options.max_tokens,
            "messages": [{"role": "user", "content": "x"}],
        }
        if self.options.system is not None:
            probe["system"] = self.options.system
        for severity, _fld, message in check_params(probe):
            if severity == "error":
                self.options_ok = False
            if message.startswith("params has no 'model'"):
                message = "No model given: choose one (e.g. --model claude-haiku-4-5)."
            elif message.startswith("params has no 'max_tokens'"):
                message = "No max_tokens given: set one (e.g. --max-tokens 1024)."
            self.issue(severity, message)
        if self.options.model and not is_known_model(self.options.model):
            self.warned_models.add(self.options.model)
            self.issue("warning", _unknown_model(self.options.model))
        if self.options.template:
            try:
                self.template = Template(self.options.template)
            except TemplateError as exc:
                self.issue("error", f"The template is malformed: {exc}.", field="template")
                self.template_broken = True

    def first_record(self, record: Mapping[str, Any], line: int) -> None:
        """Check the template (or choose a default field) against the first record."""
        self.template_checked = True
        if self.template_broken:
            return
        fields = list(record)
        listed = ", ".join(fields[:30]) + (", …" if len(fields) > 30 else "")
        if self.template is None:
            chosen = next((f for f in DEFAULT_PROMPT_FIELDS if f in record), None)
            others = [f for f in fields if f != self.options.id_field]
            if chosen is None and len(others) == 1:
                chosen = others[0]
            if chosen is None:
                self.issue(
                    "error",
                    f"No template given and the records have several fields ({listed}); "
                    "give a template such as '" + "{" + (fields[0] if fields else "field") + "}'.",
                    line,
                    field="template",
                )
                self.template_broken = True
                return
            self.template = Template.for_field(chosen)
        for name in self.template.missing_fields(record):
            self.missing_once.add(name)
            self.issue(
                "error",
                f"The template uses {{{name}}} but the records have no field {name!r}; "
                f"available fields: {listed or '(none)'}.",
                line,
                field="template",
            )
        if self.missing_once:
            self.template_broken = True
        if self.options.id_field and self.options.id_field not in record:
            self.issue(
                "error",
                f"The id field {self.options.id_field!r} is not in the records; "
                f"available fields: {listed or '(none)'}.",
                line,
                field="id_field",
            )
            self.template_broken = True

    def record(self, line: int, record: Any) -> None:
        self.records += 1
        if isinstance(record, str):
            record = {"text": record, "line": record, "prompt": record}
        if not isinstance(record, Mapping):
            self.issue("error", f"Each record must be a JSON object, not {_kind(record)}.", line)
            return
        if not self.template_checked:
            self.first_record(record, line)
        if self.template_broken or self.template is None:
            return
        try:
            text = self.template.render(record)
        except MissingField as exc:
            self.issue(
                "error",
                f"This record has no field {exc.field!r} (the template uses it).",
                line,
                field=exc.field,
            )
            return
        id_field = self.options.id_field
        if id_field:
            raw_value = record.get(id_field)
            if raw_value is None or (isinstance(raw_value, str) and not raw_value.strip()):
                self.issue("error", f"This record has no {id_field!r} value.", line, field=id_field)
                return
            raw_id = format_value(raw_value)
            if raw_id in self.ids:
                self.issue(
                    "error",
                    f"{id_field} {_short(raw_id)} is used twice: on line {self.ids[raw_id]} and "
                    "on this line.",
                    line,
                    field=id_field,
                )
                return
            self.ids[raw_id] = line
            cid = sanitize_custom_id(raw_id, self.used)
        else:
            cid = f"row-{self.records:06d}"
        if not text.strip():
            self.issue("error", "The prompt for this record is empty.", line)
            return
        if not self.options_ok:
            return
        params = _params(self.options, text)
        body = orjson.dumps({"custom_id": cid, "params": params}, option=orjson.OPT_APPEND_NEWLINE)
        chars = len(text) + len(self.options.system or "")
        self.accept(line, cid, params, body, text, tokens_for_chars(chars))

    def txt_line(self, line: int, text: str) -> None:
        self.record(line, {"text": text, "line": text, "prompt": text, "line_number": line})


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
) -> ImportReport:
    """Read, validate, split and estimate `path`; never raises on bad input.

    Valid requests are written as native JSONL parts (`part-0001.jsonl`, …) with manifests
    into `work_dir`; `report.request_count` counts those valid requests, and the report is
    `ok` only when there are some and no errors. `progress(bytes_read, total_bytes)` is called
    about every megabyte; an exception it raises (to cancel) propagates, temp files removed.
    Native requests are taken as they are: `options` model/max_tokens/system only fill
    requests built from records, CSV rows or text lines.
    """
    path = Path(path)
    analysis = _Analysis(path, options, work_dir)
    report = ImportReport(path=str(path), format=options.format or "jsonl")
    try:
        f = open(path, "rb")  # noqa: SIM115
    except IsADirectoryError:
        return _failed(report, analysis, "This is a directory, not a file.")
    except FileNotFoundError:
        return _failed(report, analysis, "The file does not exist.")
    except OSError as exc:
        return _failed(report, analysis, f"Cannot read the file: {exc.strerror or exc}.")
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            head = f.read(64 * 1024)
            f.seek(0)
        except OSError as exc:
            return _failed(report, analysis, f"Cannot read the file: {exc.strerror or exc}.")
        report.byte_size = size
        fmt, encoding = _detect(path, head, options)
        report.format = fmt
        if not head.strip(b" \t\r\n\x00" + b"\xef\xbb\xbf\xff\xfe"):
            return _failed(report, analysis, "The file is empty: there are no requests in it.")
        try:
            _prepare_dir(work_dir, path)
            analysis.parts = _Parts(
                work_dir, options.max_requests_per_batch, options.max_bytes_per_batch
            )
        except OSError as exc:
            analysis.issue("error", f"Cannot prepare the work directory {work_dir}: {exc}.")
        ticker = _Ticker(size, progress)
        try:
            _run(analysis, f, fmt, encoding, ticker, size)
        except OSError as exc:
            analysis.issue("error", f"Reading {path} failed: {exc.strerror or exc}.")
        except RecursionError:
            analysis.issue("error", "The file is nested too deeply to read.")
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
    if analysis.count == 0 and analysis.errors == 0:
        analysis.issue("error", "The file holds no requests.")
    report.request_count = analysis.count
    report.issues = analysis.final_issues()
    report.models = dict(sorted(analysis.models.items(), key=lambda kv: -kv[1]))
    report.preview = analysis.preview
    report.estimate = analysis.cost.result()
    report.prepared_path = work_dir
    return report


def _failed(report: ImportReport, analysis: _Analysis, message: str) -> ImportReport:
    analysis.issue("error", message)
    report.issues = analysis.final_issues()
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
    if fmt == "jsonl":
        if a.options.template:
            a.issue("warning", "The template is ignored: the file holds native requests.")
        for line, value, raw in jsonl_values(byte_lines(f, encoding, tick)):
            if isinstance(value, Problem):
                a.issue("error", value.message, line, value.column)
            else:
                a.native(line, value, raw)
        return
    if fmt == "json":
        _run_json(a, f, encoding, tick, size)
        return
    a.check_options()
    if fmt == "records-jsonl":
        for line, value, _raw in jsonl_values(byte_lines(f, encoding, tick)):
            if isinstance(value, Problem):
                a.issue("error", value.message, line, value.column)
            else:
                a.record(line, value)
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
                a.record(line, row)
        if header_seen and not a.template_checked:
            a.issue("error", "The CSV file has a header but no rows.")
    else:
        if not a.options.template:
            a.template = Template("{text}")
        for line, text in text_lines(byte_lines(f, encoding, tick)):
            if isinstance(text, Problem):
                a.issue("error", text.message, line, text.column)
            else:
                a.txt_line(line, text)


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
                a.check_options()
            elif a.options.template:
                a.issue("warning", "The template is ignored: the file holds native requests.")
        if mode == "native":
            a.native(line, value, None)
        else:
            a.record(line, value)


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

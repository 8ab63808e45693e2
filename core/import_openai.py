"""Import for OpenAI's Batch API: OpenAI-format JSONL, or records / CSV / text + a template.

Parse → validate → split → estimate, like `importer.py` for Message Batches, by OpenAI's
rules: each JSONL line is `{"custom_id", "method": "POST", "url", "body"}`; every line of a
batch targets one endpoint (`/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`) and
one model; custom_ids are unique; a batch holds at most 50,000 requests and 200 MB (sizes
counted on OpenAI's lines). Records, CSV rows and text lines become bodies of the chosen
endpoint (`--endpoint`): chat messages, a responses `input`, an embeddings `input`. Each
line and body is checked by `openai_checks.py` (what the API rejects, per endpoint), every
problem logged with its line in `request_checks.IssueLog`; an embeddings batch also holds at
most 50,000 inputs in all, so a split counts them too.

The prepared parts hold batchtop's `{custom_id, params, url}` lines (params = OpenAI's body)
with a manifest of input texts; `providers/openai.py` writes OpenAI's input file from them.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from .errors import UserError
from .import_readers import json_problem
from .import_sniff import empty_file, wrong_file
from .importer import PROGRESS_STEP, not_a_file
from .models import (
    CostEstimate,
    ImportFormat,
    ImportOptions,
    ImportReport,
    SplitPart,
    auto_custom_id,
)
from .openai_checks import (
    EMBEDDINGS,
    Problem,
    body_problems,
    custom_id_problem,
    embedding_inputs,
    line_problems,
)
from .openai_models import context_window
from .part_writer import manifest_path, part_path
from .paths import ensure_private_dir
from .pricing import BATCH_DISCOUNT, cost_usd, openai_budget, openai_request_tokens
from .providers.openai import DEFAULT_ENDPOINT, ENDPOINTS, LIMITS
from .request_checks import IssueLog, context_warning
from .templates import render_template

_MAX_ISSUES = 200
MAX_EMBEDDING_INPUTS = 50_000  # an embeddings batch: inputs of all its requests together
_OVERHEAD = len(b'{"custom_id":,"method":"POST","url":,"body":}\n')


def check_endpoint(endpoint: str | None) -> str:
    if endpoint is None:
        return DEFAULT_ENDPOINT
    if endpoint not in ENDPOINTS:
        raise UserError(f"Unknown endpoint {endpoint!r}: use one of {', '.join(ENDPOINTS)}.")
    return endpoint


def body_from_prompt(prompt: str, options: ImportOptions, endpoint: str) -> dict[str, Any]:
    """The OpenAI request body of one prompt for `endpoint`."""
    body: dict[str, Any] = {"model": options.model}
    if endpoint.endswith("/embeddings"):
        body["input"] = prompt
    elif endpoint.endswith("/responses"):
        body["input"] = prompt
        if options.system:
            body["instructions"] = options.system
        if options.max_tokens:
            body["max_output_tokens"] = options.max_tokens
    else:
        messages: list[dict[str, str]] = []
        if options.system:
            messages.append({"role": "system", "content": options.system})
        messages.append({"role": "user", "content": prompt})
        body["messages"] = messages
        if options.max_tokens:
            body["max_completion_tokens"] = options.max_tokens
    return body


def input_text(body: Any) -> str | None:
    """The request's prompt as a text (the last user message, or the `input`)."""
    if not isinstance(body, dict):
        return None
    value = body.get("input")
    if isinstance(value, str):
        return value
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
    return None


def request_estimate(body: dict[str, Any], url: str) -> tuple[int, int, float | None, bool]:
    """(estimated input tokens, the output budget, its batch cost or None for a model
    without a price, whether its output is bounded) of one request body for the endpoint
    `url` (`pricing.openai_request_tokens`). An embedding writes no output; a chat or
    responses body without its budget field may write up to the model's limit, which no
    figure here can stand for: its output is left out and the estimate says so."""
    tokens, budget = openai_request_tokens(body)
    bounded = url == EMBEDDINGS or openai_budget(body) is not None
    return (
        tokens,
        budget,
        cost_usd(str(body.get("model") or ""), tokens, budget, batch=True),
        bounded,
    )


def estimate_bodies(bodies: Iterator[Any], url: str | None) -> CostEstimate:
    """The cost estimate of OpenAI request bodies for the endpoint `url` (None: the default
    one; compose), as an import makes it."""
    url = url or DEFAULT_ENDPOINT
    input_tokens = output_tokens = count = unbounded = 0
    batch_usd = 0.0
    unknown: set[str] = set()
    for body in bodies:
        if not isinstance(body, dict):
            continue
        tokens, budget, usd, bounded = request_estimate(body, url)
        count += 1
        unbounded += not bounded
        input_tokens += tokens
        output_tokens += budget
        if usd is None:
            unknown.add(str(body.get("model") or ""))
        else:
            batch_usd += usd
    return CostEstimate(
        input_tokens=input_tokens,
        max_output_tokens=output_tokens,
        batch_usd=batch_usd,
        standard_usd=batch_usd / BATCH_DISCOUNT,
        unknown_models=tuple(sorted(unknown)),
        request_count=count,
        unbounded_requests=unbounded,
    )


class _WrongFile(Exception):
    """The file is not one to read line by line (binary, or the other provider's): why."""


_SUFFIX_FORMATS: dict[str, ImportFormat] = {".txt": "txt", ".csv": "csv", ".json": "json"}


def input_format(path: Path, options: ImportOptions) -> ImportFormat:
    """How `path` is read: the format given, else by its extension (JSON lines otherwise)."""
    return options.format or _SUFFIX_FORMATS.get(path.suffix.lower(), "jsonl")


class _Progress:
    """`progress(bytes_read, total)` called about every PROGRESS_STEP bytes, and at the end."""

    def __init__(self, progress: Callable[[int, int], None] | None) -> None:
        self.progress = progress
        self.total = self.done = self.next = 0

    def start(self, total: int) -> None:
        self.total = total
        self.next = PROGRESS_STEP
        if self.progress is not None:
            self.progress(0, total)

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None and self.done >= self.next:
            self.next = self.done + PROGRESS_STEP
            self.progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def _items(
    path: Path, options: ImportOptions, endpoint: str, tick: _Progress
) -> Iterator[tuple[int, Any]]:
    """(line, value): OpenAI request lines as dicts; records / rows / text as prompts."""
    refused = not_a_file(path)
    if refused:
        raise UserError(f"Cannot read {path}: {refused}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror}.") from exc
    tick.start(len(data))
    fmt = input_format(path, options)
    as_lines = fmt == "jsonl"
    empty = empty_file(data[:65536])
    wrong = (
        (empty, None)
        if empty
        else wrong_file(data[:65536], "openai", jsonl=as_lines and options.template is None)
    )
    if wrong is not None:
        raise _WrongFile(*wrong)
    if fmt == "txt":
        text = data.decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield n, {"prompt": line}
        return
    if fmt == "csv":
        text = data.decode("utf-8-sig", errors="replace")
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            yield n, {"record": row}
        return
    if fmt == "json":
        try:
            records = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield 1, {"problem": f"Not valid JSON: {exc}."}
            return
        if not isinstance(records, list):
            records = [records]
        for n, record in enumerate(records, start=1):  # the record's number stands for a line
            if isinstance(record, dict):
                yield n, {"record": record}
            else:
                yield n, {"problem": "Each record must be a JSON object."}
        return
    for n, raw in enumerate(data.splitlines(), start=1):
        tick(len(raw) + 1)
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield n, {"problem": json_problem(raw, exc).message}
            continue
        if isinstance(value, dict) and ("body" in value or "url" in value or "method" in value):
            yield n, {"request": value}
        elif isinstance(value, dict):
            yield n, {"record": value}
        else:
            yield n, {"problem": "Each line must be a JSON object."}


def analyse_openai(
    path: Path,
    options: ImportOptions,
    *,
    endpoint: str | None,
    work_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    source: str | None = None,
) -> ImportReport:
    """Analyse `path` for OpenAI's Batch API and write its prepared parts (see module).

    `endpoint`: the batch's endpoint when chosen (every line's url must be it); None takes
    the first line's url (`/v1/chat/completions` for requests made from a template).
    `progress(bytes_read, total_bytes)` as the lines are read; `source` names the input in
    the report when `path` is a copy of it (a spooled pipe or FIFO)."""
    chosen = check_endpoint(endpoint) if endpoint is not None else None
    endpoint = chosen or DEFAULT_ENDPOINT
    report = ImportReport(path=source or str(path), format=input_format(path, options))
    issue = IssueLog(source or str(path), _MAX_ISSUES)
    prepared = ensure_private_dir(work_dir / "prepared")  # prompts: 0700, as its parents
    max_requests = min(options.max_requests_per_batch, LIMITS.max_requests)
    max_bytes = min(options.max_bytes_per_batch, LIMITS.max_bytes)
    seen: dict[str, int] = {}
    file_endpoint: str | None = chosen
    first_model: tuple[str, int] | None = None
    parts: list[SplitPart] = []
    part_lines: list[bytes] = []
    manifest_lines: list[bytes] = []
    count = size = first = last = inputs = 0
    input_tokens = output_tokens = unbounded = 0
    batch_usd = 0.0
    unknown: set[str] = set()

    def close_part() -> None:
        nonlocal part_lines, manifest_lines, count, size, inputs
        if not count:
            return
        index = len(parts) + 1
        part = part_path(prepared, index)
        part.write_bytes(b"".join(part_lines))
        manifest_path(part).write_bytes(b"".join(manifest_lines))
        parts.append(SplitPart(index, count, size, first, last, part))
        part_lines, manifest_lines, count, size, inputs = [], [], 0, 0, 0

    def report_all(problems: list[Problem], line: int) -> bool:
        """Log each problem with its line; True when one is an error."""
        for severity, fld, message in problems:
            issue(severity, message, line, field=fld)
        return any(severity == "error" for severity, _f, _m in problems)

    tick = _Progress(progress)
    items = _items(path, options, endpoint, tick)
    try:  # the file itself is checked before its first line
        opening = list(itertools.islice(items, 1))
    except _WrongFile as wrong:
        issue("error", wrong.args[0], for_provider=wrong.args[1])
        opening = []
    for line, item in itertools.chain(opening, items):
        if "problem" in item:
            issue("error", item["problem"], line)
            continue
        if "request" in item:
            req = item["request"]
            cid = req.get("custom_id")
            url = req.get("url")
            body = req.get("body")
            bad = report_all(line_problems(req, file_endpoint), line)
            if file_endpoint is None and url in ENDPOINTS:
                file_endpoint = url  # the first line's url is the batch's endpoint
            if bad:
                continue
            text = input_text(body)
        else:
            if options.template is None and "prompt" not in item:
                issue(
                    "error",
                    'This line is not an OpenAI request ({"custom_id", "method", "url",'
                    ' "body"}); for other records, give a template.',
                    line,
                )
                continue
            if options.model is None:
                raise UserError("Give a model (--model) for requests made from a template.")
            try:
                text = (
                    render_template(options.template, item["record"])
                    if "record" in item and options.template is not None
                    else str(item.get("prompt", ""))
                )
            except (KeyError, ValueError) as exc:
                issue("error", f"Template: {exc}", line)
                continue
            record = item.get("record") or {}
            # custom_id: the --id-field's value, else the record's own custom_id or id.
            fields = (options.id_field,) if options.id_field else ("custom_id", "id")
            own = next((record[f] for f in fields if record.get(f) is not None), None)
            cid = str(own) if own is not None else auto_custom_id(line, options.id_tag)
            url = file_endpoint = endpoint
            body = body_from_prompt(text, options, endpoint)
            problem = custom_id_problem(cid)
            if problem:
                issue("error", problem, line, field="custom_id")
                continue
        bad = report_all(body_problems(body, url), line)
        if cid in seen:
            issue(
                "error",
                f"custom_id {cid!r} is used twice: on line {seen[cid]} and on this line.",
                line,
                field="custom_id",
            )
            continue
        if bad:
            continue
        model = body["model"]
        if first_model is None:
            first_model = (model, line)
        elif model != first_model[0]:
            issue(
                "error",
                f"Every request of an OpenAI batch uses one model: {model} here, "
                f"{first_model[0]} on line {first_model[1]}.",
                line,
                field="body.model",
            )
            continue
        seen[cid] = line
        out = orjson.dumps({"custom_id": cid, "params": body, "url": url}) + b"\n"
        weight = len(out) + _OVERHEAD
        if weight > LIMITS.max_bytes:
            issue(
                "error",
                f"This request is {weight:,} bytes: more than a batch input file holds"
                f" ({LIMITS.max_bytes:,} bytes).",
                line,
            )
            continue
        n_inputs = embedding_inputs(body) if url == EMBEDDINGS else 0
        if count and (
            count + 1 > max_requests
            or size + weight > max_bytes
            or inputs + n_inputs > MAX_EMBEDDING_INPUTS
        ):
            close_part()
        if not count:
            first = line
        last = line
        part_lines.append(out)
        manifest_lines.append(orjson.dumps({"custom_id": cid, "input_text": text}) + b"\n")
        count += 1
        size += weight
        inputs += n_inputs
        report.request_count += 1
        report.models[model] = report.models.get(model, 0) + 1
        tokens, budget, usd, bounded = request_estimate(body, str(url))
        unbounded += not bounded
        window = context_window(model)  # OpenAI's model pages (openai_models.toml)
        if window is not None and tokens > window:
            issue("warning", context_warning(tokens, model, window), line)
        input_tokens += tokens
        output_tokens += budget
        if usd is None:
            unknown.add(model)
        else:
            batch_usd += usd
        if len(report.preview) < 3:
            report.preview.append({"custom_id": cid, "params": body})
    close_part()
    tick.finish()
    report.byte_size = tick.total  # the file's size, as the Anthropic import reports it
    report.issues = issue.final()
    report.invalid_requests = len(issue.bad_lines)
    report.whole_file_errors = issue.general_errors
    report.parts = parts
    report.prepared_path = prepared if parts else None
    report.notes.append(f"OpenAI Batch API, endpoint {file_endpoint or endpoint}.")
    report.estimate = CostEstimate(
        input_tokens=input_tokens,
        max_output_tokens=output_tokens,
        batch_usd=batch_usd,
        standard_usd=batch_usd / BATCH_DISCOUNT,
        unknown_models=tuple(sorted(unknown)),
        request_count=report.request_count,
        unbounded_requests=unbounded,
    )
    return report

"""Checks of one batch request, mirroring the API's rules (API reference §5).

The API validates `params` only when a batch runs and reports problems hours later as
`errored` rows; these checks catch them before submission. Each problem is a plain
sentence naming the field. Unknown keys are accepted: the API grows faster than batchtop.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from . import model_catalog
from .models import ImportIssue, Severity
from .templates import format_value

CUSTOM_ID_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
CUSTOM_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""Use with `fullmatch`: with `match`, `$` also matches before a final newline ("a\n")."""
_BAD_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")
MAX_ISSUES = 1000  # issues listed one by one; the rest are counted (`IssueLog.final`)


def custom_id_problem(value: Any) -> str | None:
    """A sentence saying what is wrong with a custom_id the user chose, or None."""
    if value is None:
        return "custom_id is missing."
    if not isinstance(value, str):
        return f"custom_id must be a string, not {kind_of(value)}."
    if not value:
        return "custom_id is empty; it needs 1 to 64 characters."
    if CUSTOM_ID_RE.fullmatch(value):
        return None
    wrong: list[str] = []
    if len(value) > 64:
        wrong.append(f"is {len(value)} characters long (the limit is 64)")
    bad = dict.fromkeys(ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "_-")))
    if bad:
        shown = ", ".join(repr(c) for c in list(bad)[:8])
        wrong.append(f"contains {shown} (only letters, digits, '_' and '-' are allowed)")
    return f"custom_id {quoted(value)} " + " and ".join(wrong) + "."


def sanitize_custom_id(raw: str, used: set[str]) -> str:
    """A valid custom_id for `raw`, not in `used` (which it is added to).

    A valid `raw` is kept as it is. Otherwise invalid characters become `_` and a hash of
    the whole raw value is appended (`a b` → `a_b-1c4b…`), so a rewritten id does not take
    the name of a valid id met later, and distinct raw ids stay distinct; a collision
    left after that gets `-2`, `-3`, ….
    """
    if CUSTOM_ID_RE.fullmatch(raw):
        cid = raw
    else:
        digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cid = f"{_BAD_ID_CHARS.sub('_', raw)[:53]}-{digest}"
    base, n = cid, 2
    while cid in used:
        suffix = f"-{n}"
        cid = base[: 64 - len(suffix)] + suffix
        n += 1
    used.add(cid)
    return cid


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
        found = model_problem(model) if isinstance(model, str) and model.strip() else None
        if found is not None:
            issues.append(ImportIssue(found[0], found[1], path, line, field="params.model"))
    return issues


def check_params(params: Any) -> list[tuple[Severity, str, str]]:
    """(severity, field, sentence) for each problem in a Messages `params` object.

    Unknown keys are accepted (the API grows); the model name is not checked here.
    """
    if not isinstance(params, Mapping):
        return [("error", "params", f"params must be a JSON object, not {kind_of(params)}.")]
    out: list[tuple[Severity, str, str]] = []
    model = params.get("model")
    if model is None:
        out.append(("error", "params.model", "params has no 'model'."))
    elif not isinstance(model, str) or not model.strip():
        out.append(("error", "params.model", "params.model must be a non-empty string."))
        model = None
    mt = params.get("max_tokens")
    if isinstance(mt, float) and mt.is_integer():
        mt = int(mt)  # 100.0 is the number 100 in JSON (see `whole_max_tokens`)
    if mt is None:
        out.append(("error", "params.max_tokens", "params has no 'max_tokens'."))
    elif isinstance(mt, float):
        shown = f"{mt:g}" if math.isfinite(mt) else str(mt)
        out.append(
            ("error", "params.max_tokens", f"max_tokens must be a whole number, not {shown}.")
        )
    elif not isinstance(mt, int) or isinstance(mt, bool):
        out.append(
            ("error", "params.max_tokens", f"max_tokens must be a whole number, not {kind_of(mt)}.")
        )
    elif mt < 1:
        out.append(("error", "params.max_tokens", f"max_tokens must be at least 1 (got {mt})."))
    elif isinstance(model, str):
        limit_problem = max_tokens_problem(model, mt)
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
    out.extend(_media_problems(messages))
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
        return f"must be an object with 'role' and 'content', not {kind_of(message)}."
    role = message.get("role")
    if role not in ("user", "assistant"):
        if role is None:
            return "has no 'role'."
        return f"has role {quoted(role)}; it must be 'user' or 'assistant'."
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
    return f"content must be text or a list of blocks, not {kind_of(content)}."


def max_tokens_problem(model: str, mt: int) -> tuple[Severity, str] | None:
    info = model_catalog.current().lookup(model)
    if info is None or info.max_tokens is None:
        largest = largest_output_tokens()
        if mt <= largest:
            return None
        return (
            "warning",
            f"max_tokens {mt:,} is above {largest:,}, the largest output of any model batchtop "
            "knows; the API will most likely refuse it.",
        )
    if mt <= info.max_tokens:
        return None
    beta = info.batch_max_tokens_beta
    if beta is not None and mt <= beta:
        return (
            "warning",
            f"max_tokens {mt} is above {info.max_tokens}, the usual maximum for "
            f"{model}; it only works with the output-300k beta.",
        )
    limit = beta or info.max_tokens
    return ("error", f"max_tokens {mt:,} is above {limit:,}, the maximum output of {model}.")


def largest_output_tokens() -> int:
    """The largest max_tokens any model of the catalogue accepts (with a beta)."""
    return max(
        (m.batch_max_tokens_beta or m.max_tokens or 0) for m in model_catalog.current().models
    )


def model_problem(model: str) -> tuple[Severity, str] | None:
    """What the model catalogue says against `model`: unknown or retired (an error once
    the API's own list is known), deprecated (a warning with its retirement date)."""
    catalog = model_catalog.current()
    info = catalog.lookup(model)
    if info is None:
        if catalog.fetched_at is None:
            return (
                "warning",
                f"Model {quoted(model)} is not in batchtop's model list "
                f"({catalog.source}); the API may still accept it.",
            )
        return ("error", f"Model {quoted(model)} is not in the API's list of models.")
    if info.lifecycle == "retired":
        return ("error", f"Model {quoted(model)} is retired: the API refuses requests to it.")
    if info.lifecycle == "deprecated":
        when = f" on {info.retires_at[:10]}" if info.retires_at else ""
        return (
            "warning",
            f"Model {quoted(model)} is deprecated and retires{when}; choose a current model.",
        )
    return None


def whole_max_tokens(params: Any) -> bool:
    """Turn a whole float `max_tokens` (`100.0`, `1e3`) into an int in place; True if done.

    JSON has one number type, and orjson reads `100.0` as a float; the request is then
    written with `100`, which every reader of it takes as a whole number.
    """
    if isinstance(params, dict):
        mt = params.get("max_tokens")
        if type(mt) is float and mt.is_integer():
            params["max_tokens"] = int(mt)
            return True
    return False


# --- sizes (API reference §5; platform docs "Images and vision", 2026) --------------------

MESSAGES_REQUEST_LIMIT = 32 * 1024 * 1024
"""Bytes of one Messages API request; each request of a batch is run as one."""
IMAGE_BASE64_LIMIT = 5 * 1024 * 1024
"""Bytes of base64 data in one image block ("image exceeds 5 MB maximum")."""


def context_window(model: str) -> int | None:
    """The input tokens `model` takes, from the model catalogue (`max_input_tokens`); for a
    model it does not know, the largest window of any model it knows; None when it knows
    none (then nothing is said)."""
    catalog = model_catalog.current()
    info = catalog.lookup(model)
    if info is not None and info.max_input_tokens:
        return info.max_input_tokens
    return max((m.max_input_tokens or 0 for m in catalog.models), default=0) or None


class ContextChars(dict[str, float]):
    """model → the text characters a request may hold before its estimated input tokens
    (about 4 characters each) could exceed the model's context window (cached catalogue
    lookups; unbounded when the catalogue knows no window). The importer's fast path takes
    requests below it; larger ones go through the checks that warn."""

    def __missing__(self, model: str) -> float:
        window = context_window(model)
        self[model] = limit = float("inf") if window is None else window * 4
        return limit


def size_problems(request_bytes: int, input_tokens: int, model: str) -> list[tuple[Severity, str]]:
    """Warnings for a request too large for its model's context window (the catalogue's)
    or for the Messages API."""
    out: list[tuple[Severity, str]] = []
    if request_bytes > MESSAGES_REQUEST_LIMIT:
        out.append(
            (
                "warning",
                f"This request is {request_bytes / 1e6:,.1f} MB; the API takes requests of at "
                f"most {MESSAGES_REQUEST_LIMIT // (1024 * 1024)} MB each, so it will most "
                "likely come back errored.",
            )
        )
    window = context_window(model)
    if window is not None and input_tokens > window:
        known = model_catalog.current().lookup(model) is not None
        whose = None if known else "the largest context window of any model batchtop knows"
        out.append(("warning", context_warning(input_tokens, model, window, whose)))
    return out


def context_warning(input_tokens: int, model: str, window: int, whose: str | None = None) -> str:
    """The one warning for a prompt larger than a context window (both providers' imports):
    `whose` names the window when it is not `model`'s own."""
    whose = whose or f"the context window of {quoted(model)}"
    return (
        f"This prompt is about {input_tokens:,} tokens, more than {whose}"
        f" ({window:,} tokens): it will most likely come back errored."
    )


def _media_problems(messages: Any) -> list[tuple[Severity, str, str]]:
    """Base64 images over the API's per-image limit (a deferred error otherwise)."""
    out: list[tuple[Severity, str, str]] = []
    if not isinstance(messages, list):
        return out
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, Mapping) or block.get("type") != "image":
                continue
            source = block.get("source")
            data = source.get("data") if isinstance(source, Mapping) else None
            if isinstance(data, str) and len(data) > IMAGE_BASE64_LIMIT:
                out.append(
                    (
                        "error",
                        f"params.messages.{i}.content.{j}",
                        f"messages[{i}] content block {j} is an image of "
                        f"{len(data) / 1e6:,.1f} MB (base64); the API refuses images over "
                        f"{IMAGE_BASE64_LIMIT // (1024 * 1024)} MB.",
                    )
                )
    return out


def kind_of(value: Any) -> str:
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


def quoted(value: Any, limit: int = 70) -> str:
    text = value if isinstance(value, str) else format_value(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def user_text(params: Any) -> str | None:
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


class MaxTokensLimits(dict[str, int]):
    """model → the largest max_tokens accepted without comment (cached catalogue lookups);
    0 for a blank model name, which is an error whatever max_tokens is. Used by the fast
    path only: a request above it goes through `check_params`, which explains."""

    def __missing__(self, model: str) -> int:
        info = model_catalog.current().lookup(model)
        limit = largest_output_tokens()  # an unknown model: warned above this
        if not model.strip():
            limit = 0
        elif info is not None and info.max_tokens is not None:
            limit = info.max_tokens
        self[model] = limit
        return limit


def simple_valid(params: Any, limits: MaxTokensLimits) -> int | None:
    """The characters of text in `params` when it is plainly valid, else None.

    Covers the common shape (text messages, text or no system) in one pass: None must be
    returned whenever `check_params` would report anything (error or warning); such params
    then go through `check_params`, which explains what is wrong.
    """
    if type(params) is not dict:
        return None
    model = params.get("model")
    mt = params.get("max_tokens")
    messages = params.get("messages")
    if (
        type(model) is not str
        or type(mt) is not int
        or mt < 1
        or mt > limits[model]  # (a blank model's limit is 0)
        or type(messages) is not list
        or not messages
    ):
        return None
    chars = 0
    if len(params) > 3:  # with only model, max_tokens and messages, nothing more to check
        system = params.get("system")
        if system is not None:
            if type(system) is not str:
                return None
            chars = len(system)
        if params.get("stream") is True or params.get("speed") is not None or "tools" in params:
            return None
    for message in messages:
        if type(message) is not dict:
            return None
        content = message.get("content")
        if type(content) is not str or not content or content.isspace():
            return None
        if message.get("role") not in _ROLES:
            return None
        chars += len(content)
    return chars


_ROLES = ("user", "assistant")


class IssueLog:
    """Every problem found, located; beyond `MAX_ISSUES` they are counted, and `final`
    sums up the rest. Lines with an error are the requests left out."""

    def __init__(self, where: str, limit: int = MAX_ISSUES) -> None:
        self.where = where
        self.limit = limit
        self.issues: list[ImportIssue] = []
        self.errors = 0
        self.warnings = 0
        self.bad_lines: set[int] = set()  # lines (requests) with an error: left out
        self.general_errors = 0  # errors not tied to one request

    def __call__(
        self,
        severity: Severity,
        message: str,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        *,
        for_provider: str | None = None,
    ) -> None:
        if severity == "error":
            self.errors += 1
            if line is None:
                self.general_errors += 1
            else:
                self.bad_lines.add(line)
        else:
            self.warnings += 1
        if len(self.issues) < self.limit:
            self.issues.append(
                ImportIssue(severity, message, self.where, line, column, field, for_provider)
            )

    def final(self) -> list[ImportIssue]:
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

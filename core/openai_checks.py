"""Checks of one OpenAI Batch API request, before anything is sent (file import and compose).

Sources: the Batch API reference (a line is `{custom_id, method: "POST", url, body}`; every
url is the batch's endpoint; custom_ids unique; one model per file; 50,000 requests and
200 MB per file) and the official `openai` SDK's request types for each endpoint:
- `/v1/chat/completions` (`CompletionCreateParams`): `model` and a non-empty `messages`
  list; each message has a `role` of developer, system, user, assistant, tool or function;
  developer, system, user and tool messages need `content` (text or a list of parts), a
  tool message its `tool_call_id`, a function message its `name`;
- `/v1/responses` (`ResponseCreateParams`): `model` and `input` (text or a list of items;
  saved prompts, the other way to give one, were shut down on 2026-11-30);
- `/v1/embeddings` (`EmbeddingCreateParams`): `model` and `input`: text (not empty), or a
  list of texts or token arrays (not empty, at most 2,048 items).
Output budgets (`max_tokens`, `max_completion_tokens`, `max_output_tokens`) are whole
numbers of at least 1. A line key other than the four is a warning: the API's line holds
those four, so another one is most likely a misspelling (and is not sent on).
Each problem is (severity, field, sentence); `request_checks.IssueLog` locates them
(imports), `composed_issues` numbers them by request (compose).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .models import ImportIssue, Severity
from .request_checks import context_warning, kind_of, quoted

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
EMBEDDINGS = "/v1/embeddings"
LINE_KEYS = ("custom_id", "method", "url", "body")
CHAT_ROLES = ("developer", "system", "user", "assistant", "tool", "function")
_NEEDS_CONTENT = ("developer", "system", "user", "tool")
BUDGET_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
MAX_EMBEDDING_ITEMS = 2048  # "any array must be 2048 dimensions or less"
CUSTOM_ID_MAX = 512

Problem = tuple[Severity, str, str]


def custom_id_problem(value: Any) -> str | None:
    """A sentence saying what is wrong with an OpenAI custom_id, or None."""
    if value is None:
        return "'custom_id' is missing."
    if not isinstance(value, str):
        return f"'custom_id' must be a string, not {kind_of(value)}."
    if not value:
        return "'custom_id' is empty."
    if len(value) > CUSTOM_ID_MAX:
        return f"'custom_id' is {len(value)} characters long (the limit is {CUSTOM_ID_MAX})."
    return None


def line_problems(line: Mapping[str, Any], endpoint: str | None) -> list[Problem]:
    """The problems of an input-file line's envelope (not its body): the four keys, the
    method, the url (`endpoint`: the batch's, when known)."""
    out: list[Problem] = []
    for key in line:
        if key not in LINE_KEYS:
            out.append(
                (
                    "warning",
                    str(key),
                    f"Unknown key {quoted(key)}: a line holds only custom_id, method, url and"
                    " body.",
                )
            )
    problem = custom_id_problem(line.get("custom_id"))
    if problem:
        out.append(("error", "custom_id", problem))
    method = line.get("method")
    if method is None:
        out.append(("error", "method", "'method' is missing: it must be \"POST\"."))
    elif method != "POST":
        out.append(("error", "method", f"'method' is {quoted(method)}: it must be \"POST\"."))
    url = line.get("url")
    if url is None:
        out.append(("error", "url", "'url' is missing: the endpoint of the request."))
    elif url not in (CHAT, RESPONSES, EMBEDDINGS):
        out.append(
            (
                "error",
                "url",
                f"Unknown url {quoted(url)}: use one of {CHAT}, {RESPONSES}, {EMBEDDINGS}.",
            )
        )
    elif endpoint is not None and url != endpoint:
        out.append(
            (
                "error",
                "url",
                f"'url' is {url}, but the batch's endpoint is {endpoint}: every request of a"
                " batch targets its endpoint.",
            )
        )
    if "body" not in line:
        out.append(("error", "body", "'body' is missing: the request of the endpoint."))
    return out


def body_problems(body: Any, endpoint: str) -> list[Problem]:
    """The problems of one request body for `endpoint`."""
    if not isinstance(body, Mapping):
        return [("error", "body", f"'body' must be an object, not {kind_of(body)}.")]
    out: list[Problem] = []
    model = body.get("model")
    if model is None:
        out.append(("error", "body.model", "'body.model' is missing: the model of the request."))
    elif not isinstance(model, str) or not model.strip():
        out.append(("error", "body.model", "'body.model' must be a non-empty string."))
    if endpoint == CHAT:
        out.extend(_messages_problems(body.get("messages")))
    elif endpoint == RESPONSES:
        value = body.get("input")
        if value is None:
            out.append(("error", "body.input", f"'body.input' is missing: {RESPONSES} needs it."))
        elif not isinstance(value, str | list):
            out.append(
                (
                    "error",
                    "body.input",
                    f"'body.input' must be text or a list, not {kind_of(value)}.",
                )
            )
        elif not value:
            out.append(("error", "body.input", "'body.input' is empty."))
    elif endpoint == EMBEDDINGS:
        out.extend(_embedding_input_problems(body.get("input")))
    for key in BUDGET_KEYS:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(
                ("error", f"body.{key}", f"'{key}' must be a whole number, not {kind_of(value)}.")
            )
        elif value < 1:
            out.append(("error", f"body.{key}", f"'{key}' must be at least 1 (got {value})."))
    return out


def _messages_problems(messages: Any) -> list[Problem]:
    if messages is None:
        return [("error", "body.messages", f"'body.messages' is missing: {CHAT} needs it.")]
    if not isinstance(messages, list):
        return [("error", "body.messages", "'body.messages' must be a list of messages.")]
    if not messages:
        return [("error", "body.messages", "'body.messages' is empty: it needs a message.")]
    out: list[Problem] = []
    for i, message in enumerate(messages):
        problem = _message_problem(message)
        if problem:
            out.append(("error", f"body.messages.{i}", f"messages[{i}] {problem}"))
    return out


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, Mapping):
        return f"must be an object with a 'role', not {kind_of(message)}."
    role = message.get("role")
    if role is None:
        return "has no 'role'."
    if role not in CHAT_ROLES:
        return f"has role {quoted(role)}; it must be one of {', '.join(CHAT_ROLES)}."
    if role in _NEEDS_CONTENT:
        content = message.get("content")
        if content is None:
            return f"({role}) has no 'content'."
        if not isinstance(content, str | list):
            return f"({role}) content must be text or a list of parts, not {kind_of(content)}."
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        return "(tool) has no 'tool_call_id'."
    if role == "function" and not isinstance(message.get("name"), str):
        return "(function) has no 'name'."
    return None


def _embedding_input_problems(value: Any) -> list[Problem]:
    field = "body.input"
    if value is None:
        return [("error", field, f"'body.input' is missing: {EMBEDDINGS} needs it.")]
    if isinstance(value, str):
        return [] if value else [("error", field, "'body.input' is an empty string.")]
    if not isinstance(value, list):
        return [("error", field, f"'body.input' must be text or a list, not {kind_of(value)}.")]
    if not value:
        return [("error", field, "'body.input' is an empty list.")]
    if len(value) > MAX_EMBEDDING_ITEMS:
        return [
            (
                "error",
                field,
                f"'body.input' holds {len(value):,} items; the limit is {MAX_EMBEDDING_ITEMS:,}.",
            )
        ]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return []  # one input as tokens
    for i, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                return [("error", f"{field}.{i}", f"'body.input[{i}]' is an empty string.")]
        elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            continue
        else:
            return [
                (
                    "error",
                    f"{field}.{i}",
                    f"'body.input[{i}]' must be text or a list of tokens, not {kind_of(item)}.",
                )
            ]
    return []


def embedding_inputs(body: Any) -> int:
    """How many embedding inputs a body holds (a batch holds at most 50,000 in all)."""
    value = body.get("input") if isinstance(body, Mapping) else None
    if isinstance(value, list):
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return 1  # one input given as tokens
        return len(value)
    return 1


def _context_issues(body: Any, model: str, path: str, line: int) -> list[ImportIssue]:
    """A warning when the body's prompt is beyond its model's context window."""
    from .openai_models import context_window
    from .pricing import openai_request_tokens

    window = context_window(model)
    if window is None:
        return []
    tokens, _budget = openai_request_tokens(body)
    if tokens <= window:
        return []
    return [ImportIssue("warning", context_warning(tokens, model, window), path, line)]


def composed_issues(
    requests: Sequence[Any], endpoint: str, *, path: str = "request"
) -> list[ImportIssue]:
    """Every problem of composed OpenAI requests (`{custom_id, params}`, params the body of
    `endpoint`), with `line` = the request's number: their custom_ids (non-empty, unique),
    bodies, and one model for them all."""
    issues: list[ImportIssue] = []
    seen: set[str] = set()
    first_model: str | None = None
    for line, req in enumerate(requests, start=1):
        if not isinstance(req, Mapping):
            issues.append(ImportIssue("error", "A request must be a JSON object.", path, line))
            continue
        cid = req.get("custom_id")
        problem = custom_id_problem(cid)
        if problem:
            issues.append(ImportIssue("error", problem, path, line, field="custom_id"))
        elif cid in seen:
            issues.append(
                ImportIssue(
                    "error",
                    f"duplicate custom_id {cid!r}: it is used twice.",
                    path,
                    line,
                    None,
                    "custom_id",
                )
            )
        if isinstance(cid, str):
            seen.add(cid)
        body = req.get("params")
        for severity, fld, message in body_problems(body, endpoint):
            issues.append(ImportIssue(severity, message, path, line, field=fld))
        model = body.get("model") if isinstance(body, Mapping) else None
        if isinstance(model, str) and model.strip():
            issues.extend(_context_issues(body, model, path, line))  # as an import warns
            if first_model is None:
                first_model = model
            elif model != first_model:
                issues.append(
                    ImportIssue(
                        "error",
                        f"Every request of an OpenAI batch uses one model: {model} here,"
                        f" {first_model} before.",
                        path,
                        line,
                        field="body.model",
                    )
                )
    return issues

"""What a file is before it is read request by request: binary data, or the requests of the
other provider (an OpenAI Batch API file given to Message Batches, or the reverse).

Each is one line about the whole file (`wrong_file`) instead of an error per line: a binary
file's every line failed as invalid UTF-8 or JSON, and another provider's lines each lacked
the fields of this one, without a word about which provider they are for.
"""

from __future__ import annotations

from typing import Any

import orjson

_SAMPLE = 8192


EMPTY = "The file is empty: there are no requests in it."
# what an empty file may still hold: whitespace, NULs, a byte-order mark
_BLANK = b" \t\r\n\x00" + b"\xef\xbb\xbf\xff\xfe"


def empty_file(head: bytes) -> str | None:
    """`EMPTY` when the file's first bytes hold nothing (either provider's import says it in
    one line, before any report), else None."""
    return EMPTY if not head.strip(_BLANK) else None


def looks_binary(head: bytes) -> bool:
    """The first bytes of a UTF-8 file (no byte-order mark) are not text: a NUL, or more
    than one in ten characters undecodable or control characters."""
    sample = head[:_SAMPLE]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f\v"))
    return bad > max(4, len(text) // 10)


def request_provider(value: Any) -> str | None:
    """Whose batch request a parsed JSONL line is: `anthropic` (`{custom_id, params}`),
    `openai` (`{custom_id, method, url, body}`), else None (a record of the user's)."""
    if not isinstance(value, dict) or "custom_id" not in value:
        return None
    if "params" in value and not ("body" in value or "method" in value):
        return "anthropic"
    if "body" in value and ("url" in value or "method" in value) and "params" not in value:
        return "openai"
    return None


def _first_value(head: bytes) -> Any:
    for raw in head.lstrip(b"\xef\xbb\xbf").splitlines():
        if raw.strip():
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None
    return None


_FORMATS = {
    "anthropic": ('Message Batches requests ({"custom_id", "params"})', "anthropic"),
    "openai": ('OpenAI Batch API requests ({"custom_id", "method", "url", "body"})', "openai"),
}


def wrong_file(head: bytes, provider: str, *, jsonl: bool = True) -> tuple[str, str | None] | None:
    """Why a file whose first bytes are `head` is not one to import for `provider`, in one
    line, and the provider whose requests it holds (else None), else None: binary data, or
    (`jsonl`: read as request lines) the other provider's requests (each front end then
    says how to import it for that one: `ImportIssue.for_provider`)."""
    if looks_binary(head):
        return (
            "This is not a text file (binary data in its first bytes): batchtop reads"
            " JSONL, JSON, CSV or text files.",
            None,
        )
    if not jsonl:
        return None
    owner = request_provider(_first_value(head))
    if owner is None or owner == provider:
        return None
    what, flag = _FORMATS[owner]
    return f"This file holds {what}.", flag

"""The API key never appears in a message, a log line or a stored error: one redaction rule.

`remember_secret` is called with the key as soon as batchtop holds it; `redact` removes it
(and anything shaped like an Anthropic or OpenAI key or an auth header value) from a text. Every
`BatchtopError` message, every logged record (through `RedactFilter`) and every error a
front end prints goes through `redact`. `clean_api_key` turns the raw environment value into
the key that is sent, refusing one that no HTTP header can carry before any request.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

MASK = "[redacted]"
# Anthropic keys (sk-ant-…), OpenAI keys (sk-proj-…, sk-svcacct-…, sk-admin-…, and the
# older sk- followed by 20 or more characters), and the value of an auth header however it
# got quoted.
_SHAPES = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]+"
    r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]+"
    r"|sk-[A-Za-z0-9]{20,}"
    r"|(?i:(?<=bearer )|(?<=x-api-key: )|(?<=x-api-key': ')|(?<=authorization: ))[^\s'\",}]{8,}"
)
# The userinfo of a URL (`scheme://user:password@host`): a password, or a lone name that
# may be a token, never shown (`url_for_display`, `redact`) nor part of a stored name.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s@?#]+)@")
_secrets: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Redact `value` (and its stripped and escaped spellings) from now on."""
    if not value:
        return
    forms = {value, value.strip(), repr(value)[1:-1], value.encode("unicode_escape").decode()}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= 8)  # shorter: test keys, not secrets


def redact(text: str) -> str:
    """`text` without any remembered secret, anything that looks like an API key, or the
    credentials of a URL."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return url_for_display(_SHAPES.sub(MASK, text))


def _mask_userinfo(match: re.Match[str]) -> str:
    return f"{match['scheme']}{MASK}@"


def url_for_display(text: str) -> str:
    """`text` with every URL's userinfo (`user:password@`, or a name alone, which may be a
    token) replaced by the mask: `http://[redacted]@proxy:8080/`."""
    if "@" not in text:
        return text
    return _URL_USERINFO.sub(_mask_userinfo, text)


def url_without_password(url: str) -> str:
    """The URL with its password left out (`http://user@host/`): what names an endpoint
    where a password must not count (the store's directory, what the store records)."""
    if "@" not in url:
        return url
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['userinfo'].split(':', 1)[0]}@", url)


class RedactFilter(logging.Filter):
    """A handler filter: the record's final message, redacted (arguments folded in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's own report
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback text is built later by the formatter: bake a redacted copy now.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


@dataclass(frozen=True, slots=True)
class CleanKey:
    """The key to send (None: none set) and a one-line note when it was changed."""

    key: str | None
    note: str | None = None
    problem: str | None = None


def clean_api_key(raw: str | None, name: str = "ANTHROPIC_API_KEY") -> CleanKey:
    """Strip surrounding whitespace (CI secrets often end in a CR); refuse inner controls.

    A key with a space or a control character inside cannot be sent in a header: the
    problem is reported before any request (and the key is never quoted).
    """
    if raw is None:
        return CleanKey(None)
    remember_secret(raw)
    key = raw.strip()
    if not key:
        return CleanKey(None, f"{name} is blank: treated as not set.")
    remember_secret(key)
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in key) or (
        not key.isascii()
    ):
        return CleanKey(
            key,
            problem=f"{name} contains a space, a control character or a non-ASCII character"
            " inside the key: fix the variable (nothing was sent).",
        )
    if key != raw:
        return CleanKey(
            key, f"{name} has whitespace around the key (a line ending?): batchtop strips it."
        )
    return CleanKey(key)

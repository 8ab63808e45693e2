"""One redaction rule for every message and log line; the key as the environment gives it."""

from __future__ import annotations

import logging

from batchtop.core.errors import ApiError, UserError
from batchtop.core.redact import RedactFilter, clean_api_key, redact, remember_secret

KEY = "sk-ant-" + "api03-unit-SECRET-abcdef0123"


def test_messages_lose_the_key_in_every_spelling() -> None:
    remember_secret(KEY + "\r")
    assert "SECRET" not in redact(f"Illegal header value b'Bearer {KEY}\\r'")
    assert "SECRET" not in redact(f"key={KEY}\r!")
    assert "SECRET" not in str(ApiError(f"refused {KEY}", kind="auth"))
    assert "SECRET" not in str(UserError(f"bad {KEY!r}"))
    # a key never seen but shaped like one, and an auth header's value
    assert redact("x sk-ant-" + "other0000 y") == "x [redacted] y"
    assert redact("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer [redacted]"
    assert redact("nothing to hide here") == "nothing to hide here"


def test_log_records_are_redacted_with_their_arguments_and_tracebacks() -> None:
    remember_secret(KEY)
    record = logging.LogRecord("batchtop.x", logging.WARNING, __file__, 1, "sent %s", (KEY,), None)
    try:
        raise ValueError(f"boom {KEY}")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert RedactFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "SECRET" not in text
    assert "[redacted]" in text


def test_clean_api_key() -> None:
    assert clean_api_key(None).key is None
    plain = clean_api_key(KEY)
    assert (plain.key, plain.note, plain.problem) == (KEY, None, None)
    stripped = clean_api_key(f" {KEY}\r\n")
    assert stripped.key == KEY
    assert stripped.note is not None
    assert "strips" in stripped.note
    assert "SECRET" not in stripped.note
    for inner in (" ", "\r", "\x1b", "é", "\u00a0"):
        bad = clean_api_key(KEY[:9] + inner + KEY[9:])
        assert bad.problem is not None
        assert "SECRET" not in bad.problem
    assert clean_api_key("   ").key is None


def test_openai_key_shapes_are_redacted() -> None:
    for key in (
        "sk-proj-" + "Ab12_cd-EF34gh56IJ78kl90",
        "sk-svcacct-" + "Zz09yy88XX77ww66",
        "sk-admin-" + "Qq11Rr22Ss33Tt44",
        "sk-" + "A1b2C3d4E5f6G7h8I9j0K1",
    ):
        assert redact(f"header {key} end") == "header [redacted] end", key
    # Words that merely start with sk- stay.
    assert redact("task-list sk-short") == "task-list sk-short"

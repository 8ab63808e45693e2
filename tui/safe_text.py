"""Turning outside text (API results, files, labels) into something safe to display.

Such text is data: it must never be parsed as Rich/Textual markup, and control characters
(ANSI/OSC escape sequences, carriage returns, bidi overrides) must never reach the terminal.
They are not dropped either: both front ends show them in one visible form, `\x1b`, `\x0d`,
`\u202e` (an escape sequence loses its ESC and prints as plain text), so what a result or a
file holds is what a user sees.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0/C1 controls except tab and newline, DEL, and the bidi/zero-width formatting characters
# that can disguise what a line says.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with its control characters made visible (`visible`); optionally newlines and
    tabs folded to spaces (one line)."""
    text = visible(text)
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
    return text


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shown_json(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible(text: str, *, json: bool = False) -> str:
    """Control characters shown inert: `\\x1b`, `\\u202e` (with `json`, always `\\u00XX`,
    so JSON text stays JSON that parses to the same strings). An escape sequence loses its
    ESC and so prints as plain text. Tabs and newlines stay."""
    return _CONTROL.sub(_shown_json if json else _shown, text)


_BREAKS = re.compile(r"[\t\n]")


def literal_line(text: str) -> str:
    """A value that is one line (a label) as it is: its control characters, line breaks and
    tabs too, made visible (`a\\x0ab`). Folding a break to a space would show another value
    (`a b`) than the one stored."""
    return _BREAKS.sub(_shown, visible(text))


def safe_text(
    text: str | None,
    style: str = "",
    *,
    one_line: bool = False,
    limit: int = 0,
    literal: bool = False,
) -> Text:
    """A `Text` showing `text` literally: no markup, no escapes, optionally one line and cut;
    with `literal`, a one-line value with its line breaks shown (`literal_line`), not folded."""
    value = literal_line(text or "") if literal else clean(text or "", keep_newlines=not one_line)
    if limit and len(value) > limit:
        value = value[: max(limit - 1, 0)] + "…"
    return Text(value, style=style, no_wrap=one_line or literal, end="")

"""Data written to a terminal: what a terminal would act on is shown, never executed.

Piped or redirected, data goes out byte for byte; on a terminal, control characters (C0, C1,
DEL, bidi overrides, zero-width and line separators, so OSC/CSI sequences too) are written
as visible escapes by the TUI's rule (`tui/safe_text.visible`)."""

from __future__ import annotations

import codecs
import io
import sys
from typing import IO, cast

from batchtop.tui.safe_text import visible


def is_terminal(stream: IO[str] | IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


class VisibleControls(io.BufferedIOBase):
    """A binary sink that decodes UTF-8 and writes it to `raw` with controls made visible.

    CRLF line ends (CSV) become newlines first; a lone CR is shown like any control.
    `json`: escapes are `\\u00XX`, so JSON on screen still parses to the same strings."""

    def __init__(self, raw: IO[bytes], *, json: bool = False) -> None:
        super().__init__()
        self._raw = raw
        self._json = json
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._cr = False  # a CR ended the last piece: it may be the first half of CRLF

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._emit(self._decoder.decode(bytes(data)))
        return len(data)

    def _emit(self, text: str, *, final: bool = False) -> None:
        if self._cr:
            text = "\r" + text
            self._cr = False
        if text.endswith("\r") and not final:
            text = text[:-1]
            self._cr = True
        if text:
            self._raw.write(visible(text.replace("\r\n", "\n"), json=self._json).encode())

    def finish(self) -> None:
        """Write what is held back (a trailing CR, an incomplete character) and flush."""
        self._emit(self._decoder.decode(b"", final=True), final=True)
        self._raw.flush()

    def flush(self) -> None:
        self._raw.flush()


def stdout_sink(fmt: str) -> tuple[IO[bytes], VisibleControls | None]:
    """Where data for stdout goes: stdout's bytes as they are, or through `VisibleControls`
    on a terminal (returned too, to be finished)."""
    raw = sys.stdout.buffer
    if not is_terminal(sys.stdout):
        return raw, None
    sink = VisibleControls(raw, json=fmt in ("json", "jsonl"))
    return cast(IO[bytes], sink), sink

"""Ctrl-C at any moment of a command is one line, never a traceback."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from batchtop.tui.cli import entry


def test_ctrl_c_while_the_parser_is_built_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Building the parser imports for a second or more on a busy machine; a real SIGINT
    arrives in the middle of it here."""
    real = entry.build_parser

    def interrupted_build() -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        return real()

    monkeypatch.setattr(entry, "build_parser", interrupted_build)
    # Python's own SIGINT handling, as a fresh `batchtop` process has it: an earlier test in
    # this worker may have left an event loop's handler installed (then no KeyboardInterrupt).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = entry.main(["ls", "--offline"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n"
    assert "Traceback" not in captured.out + captured.err

"""An empty input file is one line for either provider, before any report (the OpenAI
import printed a whole "$0.00" report first)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import run

pytest.importorskip("openai")


def test_an_empty_file_is_one_line_for_both_providers(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = dict(os.environ, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_emulator.base_url)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"\n \n")
    for provider in ("anthropic", "openai"):
        for name in ("empty.jsonl", "blank.txt"):
            proc = run("submit", "--provider", provider, name, "--dry-run", cwd=tmp_path, env=env)
            assert proc.returncode == 1, (provider, name, proc.stdout)
            assert proc.stdout == "", (provider, name, proc.stdout)
            assert proc.stderr == (
                f"batchtop: error: {name}: The file is empty: there are no requests in it;"
                " nothing was submitted.\n"
            ), (provider, name, proc.stderr)

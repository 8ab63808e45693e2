"""The API key as CI secrets deliver it: a trailing CR, a space inside. Real `batchtop` runs.

A key with surrounding whitespace is used stripped (said once on stderr); a key no header
can carry is refused before any request, and nothing is journaled as "may have been
created". Neither the key nor its spellings (raw, escaped) appear on stdout, stderr (DEBUG
logging on), or in any file under the user's home: store, WAL, logs.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from reliability_support import cli_env, run_cli, store_file

SECRET = "SECRET" + secrets.token_hex(8)
KEY = "sk-ant-" + f"api03-{SECRET}"  # split: no secret scanner flags this file


def files_under(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


def assert_no_key(home: Path, *texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text[-2000:]
    for path in files_under(home):
        assert SECRET.encode() not in path.read_bytes(), f"the key is in {path}"


def write_input(path: Path, n: int = 3) -> None:
    with path.open("w") as fh:
        for i in range(n):
            req = {
                "custom_id": f"k-{i}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": f"key test {i}"}],
                },
            }
            fh.write(json.dumps(req) + "\n")


def intents(home: Path) -> list[tuple[str, str | None]]:
    store = store_file(home / "xdg" / "data" / "batchtop")
    if not store.exists():
        return []
    conn = sqlite3.connect(store)
    try:
        return conn.execute("SELECT state, error FROM intents").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


@pytest.mark.parametrize("spacing", ["\r", " \r\n"], ids=["cr", "sp-crlf"])
def test_a_key_with_surrounding_whitespace_is_stripped_and_never_shown(
    spacing: str, emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(api_keys=frozenset({KEY}), rate=None)
    home = tmp_path / "home"
    env = cli_env(home, api_key=KEY + spacing, base_url=emulator.base_url, BATCHTOP_DEBUG="1")
    work = home / "work"
    work.mkdir(parents=True)
    write_input(work / "in.jsonl")

    proc = run_cli("submit", "in.jsonl", "--json", cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = [ln for ln in proc.stderr.splitlines() if "whitespace around the key" in ln]
    assert len(notes) == 1, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["submitted"] is True
    assert intents(home) == [("submitted", None)]
    listed = run_cli("ls", "--json", cwd=work, env=env)  # a refresh with the same key
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert_no_key(home, proc.stdout, proc.stderr, listed.stdout, listed.stderr)


@pytest.mark.parametrize("inner", [" ", "\r", "\x1b", "é"], ids=["space", "cr", "esc", "accent"])
def test_a_key_no_header_can_carry_is_refused_before_any_request(
    inner: str, emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(api_keys=frozenset({KEY}), rate=None)
    home = tmp_path / "home"
    bad = KEY[:12] + inner + KEY[12:] + "\r"
    env = cli_env(home, api_key=bad, base_url=emulator.base_url, BATCHTOP_DEBUG="1")
    work = home / "work"
    work.mkdir(parents=True)
    write_input(work / "in.jsonl")

    proc = run_cli("submit", "in.jsonl", cwd=work, env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("batchtop: error: ")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "ANTHROPIC_API_KEY" in errors[0]
    assert "nothing was sent" in errors[0]
    assert emulator.stats.total == 0  # refused before any request
    # nothing is journaled as "may have been created": no intent is left pending
    assert all(state != "pending" for state, _ in intents(home))
    assert_no_key(home, proc.stdout, proc.stderr)

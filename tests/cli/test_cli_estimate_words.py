"""`submit --dry-run` of OpenAI requests without an output budget: the estimate says it is
input only (never `up to 0 output` and a figure that reads as the whole cost), and a text
file is reported as text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import config_env, run

pytest.importorskip("openai")


def test_dry_run_of_text_without_a_budget_is_input_only(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = dict(os.environ, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_emulator.base_url)
    (tmp_path / "words.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    args = ("submit", "--provider", "openai", "words.txt", "--model", "gpt-4o-mini", "--dry-run")
    proc = run(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "(txt, 3 requests" in out
    assert "input only: output not bounded" in out
    assert "up to 0 output" not in out
    assert "$0.0000" not in out
    with_budget = run(*args, "--max-tokens", "100", cwd=tmp_path, env=env)
    assert "up to 300 output" in with_budget.stdout
    assert "input only" not in with_budget.stdout


def test_dry_run_of_an_invalid_file_gives_the_files_size(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    from batchtop.tui.format import size

    env = dict(os.environ, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_emulator.base_url)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "a", "method": "GET"}\nnot json\n' * 20, encoding="utf-8")
    proc = run("submit", "--provider", "openai", "bad.jsonl", "--dry-run", cwd=tmp_path, env=env)
    # the file's size, as the Anthropic import says it (it said 0 B: the valid requests' size)
    assert f"(jsonl, 0 requests, {size(bad.stat().st_size)})" in proc.stdout, proc.stdout


def test_reconcile_not_asked_to_delete_does_not_speak_of_deleting(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import json

    import openai

    env = dict(os.environ, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_emulator.base_url)
    (tmp_path / "p.txt").write_text("one\n")
    sent = run(
        "submit", "--provider", "openai", "p.txt", "--model", "gpt-4o-mini", "--yes", "--json",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    job = json.loads(sent.stdout)["job_id"]
    client = openai.OpenAI(api_key="sk-test", base_url=openai_emulator.base_url)
    client.files.create(file=(f"batchtop-{job}_2_99.jsonl", b"{}\n"), purpose="batch")
    proc = run("reconcile", "--provider", "openai", cwd=tmp_path, env=env)
    assert "used by no batch yet" in proc.stdout, proc.stdout + proc.stderr
    text = " ".join(proc.stdout.split())
    said = text.replace("--delete-orphans` deletes it from", "")
    assert "delete" not in said, proc.stdout  # not asked to delete: not "too recent to delete"
    # what it is and what reconcile will do with it (it was "another client may be about
    # to create its batch")
    assert f"batchtop's upload for job {job} part 2" in text, text
    assert "a submit interrupted before it created the batch left it" in text
    assert re.search(r"--delete-orphans` deletes it from \d\d:\d\d UTC", text), text


def test_the_refusal_above_the_threshold_says_the_figure_is_input_only(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = config_env(
        tmp_path,
        "confirm_submit_above_usd = 0.0000001\n",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=openai_emulator.base_url,
    )
    (tmp_path / "words.txt").write_text("one\ntwo\n", encoding="utf-8")
    args = ("submit", "--provider", "openai", "words.txt", "--model", "gpt-4o-mini")
    proc = run(*args, cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "(input only: output not bounded" in proc.stderr, proc.stderr

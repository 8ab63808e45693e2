"""The README's 1,000-article flow with `--provider openai`, as real `batchtop` processes
against the OpenAI emulator (the official `openai` SDK inside batchtop)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle

pytest.importorskip("openai")
# Runs once the OpenAI emulator (core/emulator/openai_api, the openai_emulator fixture) is in.
pytest.importorskip("batchtop.core.emulator.openai_api")

CLI = [sys.executable, "-m", "batchtop.tui.cli"]
SECRET = "sk-proj-" + "cliTestSecret0123456789"


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def openai_env(openai_emulator: EmulatorHandle) -> dict[str, str]:
    env = dict(os.environ)
    env["OPENAI_API_KEY"] = SECRET
    env["OPENAI_BASE_URL"] = openai_emulator.base_url
    return env


def test_thousand_articles_flow_with_openai(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    articles = [{"id": i, "content": f"Article number {i}."} for i in range(1000)]
    (tmp_path / "articles.json").write_text(json.dumps(articles))
    proc = run(
        "submit",
        "--provider",
        "openai",
        "articles.json",
        "--template",
        "Summarise: {content}",
        "--model",
        "gpt-4o-mini",
        "--max-tokens",
        "200",
        "--yes",
        cwd=tmp_path,
        env=openai_env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1,000 requests" in proc.stdout
    (bid,) = re.findall(r"submitted (batch_\w+)", proc.stdout)

    proc = run("ls", "--provider", "openai", "--json", cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["id"] == bid

    openai_emulator.advance(3600)
    proc = run(
        "results", "--provider", "openai", bid, "--format", "json", cwd=tmp_path, env=openai_env
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data) == 1000
    assert all(isinstance(v, str) and v for v in data.values())

    proc = run("ls", "--provider", "openai", "--json", cwd=tmp_path, env=openai_env)
    (row,) = json.loads(proc.stdout)
    assert row["processing_status"] == "ended"
    assert row["results_indexed"] == 1000

    proc = run(
        "export",
        "--provider",
        "openai",
        bid,
        "--format",
        "csv",
        "--out",
        "out.csv",
        "--json",
        cwd=tmp_path,
        env=openai_env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == 1000
    # The key is never written anywhere batchtop writes.
    home = Path(openai_env.get("XDG_DATA_HOME", tmp_path))
    for path in [*tmp_path.rglob("*"), *home.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_unknown_provider_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("ls", "--provider", "gemini", cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 2
    assert "invalid choice: 'gemini'" in proc.stderr

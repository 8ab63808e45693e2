"""OpenAI batches that fail, as real `batchtop` processes against the OpenAI emulator: a
batch whose input file did not validate says why (show, show --json, results), and counts
as a batch with errors; a file for the other provider, or a binary one, is one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import run

pytest.importorskip("openai")

SECRET = "sk-proj-" + "failTestSecret0123456789"


@pytest.fixture
def openai_env(openai_emulator: EmulatorHandle, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANTHROPIC_API_KEY", None)
    env["OPENAI_API_KEY"] = SECRET
    env["OPENAI_BASE_URL"] = openai_emulator.base_url
    env["BATCHTOP_HOME"] = str(tmp_path / "home")
    return env


def _chat_line(n: int, model: str) -> dict[str, object]:
    return {
        "custom_id": f"q-{n}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"Question {n}"}]},
    }


def failed_batch(emulator: EmulatorHandle) -> str:
    """A batch another tool created from a file with two models: OpenAI fails it."""
    from openai import OpenAI

    client = OpenAI(api_key="test-key", base_url=emulator.base_url, max_retries=0)
    lines = [_chat_line(1, "gpt-4o-mini"), _chat_line(2, "gpt-4o")]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    file = client.files.create(file=("two-models.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    emulator.advance(3600)
    done = client.batches.retrieve(batch.id)
    assert done.status == "failed"
    assert done.errors is not None
    assert done.errors.data
    return batch.id


def test_a_failed_batch_says_why(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    bid = failed_batch(openai_emulator)

    proc = run("--provider", "openai", "show", bid, cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    (failed,) = [line for line in proc.stdout.splitlines() if line.startswith("failed")]
    assert "line 2" in failed
    assert "mismatched_model" in failed
    (results,) = [line for line in proc.stdout.splitlines() if line.startswith("results")]
    assert "none: the batch failed" in results  # not "not yet": it never will have any

    proc = run("--provider", "openai", "show", bid, "--json", cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["errors"][0]["code"] == "mismatched_model"
    assert data["errors"][0]["line"] == 2
    assert "mismatched_model" in data["failure"]

    out = tmp_path / "r.json"
    proc = run(
        "--provider", "openai", "results", bid, "--format", "json", "--out", str(out),
        cwd=tmp_path, env=openai_env,
    )  # fmt: skip
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "failed" in lines[0]
    assert "mismatched_model" in lines[0]
    assert not out.exists()

    # a retry says why there is nothing to resend (not "has no failed requests")
    proc = run("--provider", "openai", "retry", bid, cwd=tmp_path, env=openai_env)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "failed as a whole" in lines[0]
    assert "mismatched_model" in lines[0]

    # the batch is one of those "with errors" (the dashboard's view 4 goes by the same rule)
    proc = run("--provider", "openai", "ls", "--json", cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["failure"] is not None


def _lines(lines: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.mark.parametrize(
    ("provider", "lines", "flag"),
    [
        ("anthropic", [_chat_line(n, "gpt-4o-mini") for n in range(5)], "--provider openai"),
        (
            "openai",
            [
                {
                    "custom_id": f"r-{n}",
                    "params": {
                        "model": "claude-haiku-4-5",
                        "max_tokens": 10,
                        "messages": [{"role": "user", "content": "Hi"}],
                    },
                }
                for n in range(5)
            ],
            "--provider anthropic",
        ),
    ],
)
def test_a_file_for_the_other_provider_is_one_line_naming_the_flag(
    openai_env: dict[str, str],
    tmp_path: Path,
    provider: str,
    lines: list[dict[str, object]],
    flag: str,
) -> None:
    (tmp_path / "requests.jsonl").write_bytes(_lines(lines))
    env = {
        **openai_env,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    }
    proc = run(
        "--provider", provider, "submit", "requests.jsonl", "--dry-run", cwd=tmp_path, env=env
    )
    assert proc.returncode != 0
    said = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(said) == 1, said  # one line for the file, none per request
    assert flag in said[0]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_binary_file_is_one_line(
    openai_env: dict[str, str], tmp_path: Path, provider: str
) -> None:
    import random

    noise = random.Random(7).randbytes(40_000)
    (tmp_path / "requests.jsonl").write_bytes(noise)
    env = {
        **openai_env,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    }
    proc = run(
        "--provider", provider, "submit", "requests.jsonl", "--dry-run", cwd=tmp_path, env=env
    )
    assert proc.returncode != 0
    said = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(said) == 1, said
    assert "not a text file" in said[0]


def test_delete_and_cancel_that_do_not_apply_are_refused_before_asking(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    """Without --yes and without a terminal, an action that applies asks for --yes; one
    that does not says why instead (OpenAI has no delete; an ended batch has nothing to
    cancel)."""
    bid = failed_batch(openai_emulator)
    proc = run("--provider", "openai", "delete", bid, cwd=tmp_path, env=openai_env)
    assert proc.returncode != 0
    assert "cannot be deleted" in proc.stderr
    assert "--yes" not in proc.stderr
    proc = run("--provider", "openai", "cancel", bid, cwd=tmp_path, env=openai_env)
    assert proc.returncode != 0
    assert "nothing to cancel" in proc.stderr
    assert "--yes" not in proc.stderr

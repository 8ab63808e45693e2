"""`batchtop submit` of imports: notes on where ids come from, and --skip-invalid."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anthropic
from batchtop.core.emulator import EmulatorHandle
from cli_support import run


def _native(cid: str, max_tokens: object = 20) -> str:
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": f"hello {cid}"}],
    }
    return json.dumps({"custom_id": cid, "params": params})


def test_skip_invalid_sends_the_valid_requests_and_says_how_many_are_left_out(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    lines = [_native("a"), _native("b", max_tokens=0), "{not json", _native("c")]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    refused = run("submit", "in.jsonl", cwd=tmp_path)
    assert refused.returncode == 1
    assert "nothing was submitted (--skip-invalid sends its 2 valid requests alone)" in (
        refused.stderr
    )
    assert emulator_env.stats.count("create") == 0

    proc = run("submit", "in.jsonl", "--skip-invalid", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 valid requests will be sent; 2 with errors are left out." in proc.stderr
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", proc.stdout)
    assert emulator_env.stats.count("create") == 1
    client = anthropic.Anthropic(base_url=emulator_env.base_url, max_retries=0)
    assert client.messages.batches.retrieve(bid).request_counts.processing == 2


def test_submit_json_records_says_which_field_gave_the_ids(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    records = [{"id": "doc-1", "body": "one"}, {"id": "doc-2", "body": "two"}]
    (tmp_path / "records.json").write_text(json.dumps(records))
    proc = run(
        "submit",
        "records.json",
        "--template",
        "Summarise {body}",
        "--model",
        "claude-haiku-4-5",
        "--max-tokens",
        "20",
        "--dry-run",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["notes"] == ["custom_id is taken from each record's 'id' field."]

"""The README's 1,000-article flow with `--provider openai`, as real `batchtop` processes
against the OpenAI emulator (the official `openai` SDK inside batchtop)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from batchtop.core.demo import write_articles
from batchtop.core.emulator import EmulatorHandle
from cli_support import CLI, run

pytest.importorskip("openai")
# Runs once the OpenAI emulator (core/emulator/openai_api, the openai_emulator fixture) is in.
pytest.importorskip("batchtop.core.emulator.openai_api")

SECRET = "sk-proj-" + "cliTestSecret0123456789"


SUBMIT_ARTICLES = (
    *("submit", "--provider", "openai", "articles.json"),
    *("--template", "Summarise: {content}", "--model", "gpt-4o-mini", "--max-tokens", "200"),
    "--yes",
)
"""The README's submit of its articles file (`write_articles`) to OpenAI."""


@pytest.fixture
def openai_env(openai_emulator: EmulatorHandle) -> dict[str, str]:
    env = dict(os.environ)
    env["OPENAI_API_KEY"] = SECRET
    env["OPENAI_BASE_URL"] = openai_emulator.base_url
    return env


def test_thousand_articles_flow_with_openai(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    write_articles(tmp_path / "articles.json", 1000)  # the README's (and the demo's) file
    proc = run(*SUBMIT_ARTICLES, cwd=tmp_path, env=openai_env)
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
    assert set(data) == {f"article-{i:04d}" for i in range(1000)}  # the records' own ids
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


def test_jsonl_results_are_openais_lines_byte_for_byte(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    """`results --format jsonl` of an OpenAI batch gives the output file's and the error
    file's lines as OpenAI wrote them: every choice, logprobs, system_fingerprint, and the
    failed requests' lines (errors of the endpoint and of the server)."""
    from batchtop.core.emulator import Rule
    from openai import OpenAI

    openai_emulator.set_rules([Rule(pattern="^srv-", outcome="errored")])
    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    ok = {"model": "gpt-4o-mini", "n": 2, "logprobs": True, "top_logprobs": 2}
    lines = [
        {
            "custom_id": f"q-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {**ok, "messages": [{"role": "user", "content": f"Question {i}"}]},
        }
        for i in range(3)
    ] + [
        {  # refused by the endpoint: an error-file line with its status and body
            "custom_id": "bad-0",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": []},
        },
        {  # a server error
            "custom_id": "srv-0",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {**ok, "messages": [{"role": "user", "content": "x"}]},
        },
    ]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    file = client.files.create(file=("in.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    openai_emulator.advance(3600)
    done = client.batches.retrieve(batch.id)
    assert done.output_file_id is not None
    assert done.error_file_id is not None
    sent = (
        client.files.content(done.output_file_id).content
        + client.files.content(done.error_file_id).content
    )

    proc = subprocess.run(
        [*CLI, "results", "--provider", "openai", batch.id, "--format", "jsonl"],
        cwd=tmp_path,
        env=openai_env,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == sorted(sent.splitlines())
    assert len(proc.stdout.splitlines()) == 5
    first = json.loads(next(x for x in proc.stdout.splitlines() if b'"q-0"' in x))
    body = first["response"]["body"]
    assert len(body["choices"]) == 2
    assert body["choices"][1]["logprobs"]["content"][0]["top_logprobs"]
    assert body["system_fingerprint"].startswith("fp_")


def test_retry_max_tokens_resends_openai_cuts(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    """`batchtop retry --max-tokens N` on an OpenAI chat batch: the answers cut at their
    max_completion_tokens (finish_reason "length") are resent with max_completion_tokens N."""
    from openai import OpenAI

    def body(budget: int) -> dict[str, object]:
        question = [{"role": "user", "content": "Tell me about the sea and its tides"}]
        return {"model": "gpt-4o-mini", "messages": question, "max_completion_tokens": budget}

    lines = [
        {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body(b)}
        for cid, b in (("cut", 3), ("whole", 500))
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    proc = run("submit", "--provider", "openai", "in.jsonl", "--yes", cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    (bid,) = re.findall(r"submitted (batch_\w+)", proc.stdout)
    openai_emulator.advance(3600)
    proc = run(
        "retry",
        "--provider",
        "openai",
        bid,
        "--max-tokens",
        "400",
        "--json",
        cwd=tmp_path,
        env=openai_env,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["requests"], out["max_tokens_cuts"]) == (1, 1)
    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    child = client.batches.retrieve(out["batch_ids"][0])
    (sent,) = client.files.content(child.input_file_id).content.splitlines()
    assert json.loads(sent)["body"] == body(400)
    assert json.loads(sent)["custom_id"] == "cut"


def test_ls_and_show_give_an_openai_batchs_cost_and_its_price_source(
    openai_emulator: EmulatorHandle, openai_env: dict[str, str], tmp_path: Path
) -> None:
    """Submitted by batchtop: an estimate (~) at OpenAI's prices; once its results are
    downloaded, the billed cost from their usage; `show` names OpenAI's price source."""
    write_articles(tmp_path / "articles.json", 20)
    proc = run(*SUBMIT_ARTICLES, cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    (bid,) = re.findall(r"submitted (batch_\w+)", proc.stdout)

    proc = run("show", "--provider", "openai", bid, cwd=tmp_path, env=openai_env)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.rstrip().split(None, 1) for line in proc.stdout.splitlines() if line.strip())
    assert lines["cost"].startswith("~")  # an estimate (of a few requests: ~<$0.01)
    assert re.fullmatch(r"prices of \d{4}-\d\d-\d\d \(OpenAI pricing page\)", lines["prices"])
    assert "betas" not in lines  # an Anthropic header: OpenAI batches have none to show
    proc = run("ls", "--provider", "openai", "--json", cwd=tmp_path, env=openai_env)
    (row,) = json.loads(proc.stdout)
    assert row["cost_is_estimate"] is True
    assert row["cost_usd"] > 0
    assert row["price_source"] == lines["prices"]

    openai_emulator.advance(3600)
    proc = run(
        "results", "--provider", "openai", bid, "--format", "json", cwd=tmp_path, env=openai_env
    )
    assert proc.returncode == 0, proc.stderr
    proc = run("show", "--provider", "openai", bid, "--json", cwd=tmp_path, env=openai_env)
    billed = json.loads(proc.stdout)
    assert billed["cost_is_estimate"] is False
    assert billed["cost_usd"] == billed["actual_cost_usd"]
    assert billed["cost_usd"] > 0
    assert billed["cost_usd"] != row["cost_usd"]  # from the usage, not the estimate

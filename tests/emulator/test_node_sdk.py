"""The official Node SDK works against the emulator with only the base URL changed.

The TypeScript SDK is installed from the npm registry into a per-session folder; without
node/npm on the machine (or without the registry) the test is skipped, saying why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle, Rule

SCRIPT = r"""
const Anthropic = require("@anthropic-ai/sdk").default;
const client = new Anthropic({ apiKey: "node-key", baseURL: process.env.BASE_URL, maxRetries: 0 });
const params = (text) => ({
  model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: text }],
});
(async () => {
  const out = {};
  const batch = await client.messages.batches.create({
    requests: [
      { custom_id: "node-1", params: params("Hello from Node") },
      { custom_id: "node-2", params: params("Second") },
      { custom_id: "node-bad", params: params("Third") },
    ],
  });
  out.created = batch.processing_status;
  out.total = batch.request_counts.processing;
  const again = await client.messages.batches.retrieve(batch.id);
  out.retrieved = again.id === batch.id;
  const listed = [];
  for await (const b of client.messages.batches.list({ limit: 1 })) listed.push(b.id);
  out.listed = listed.length;
  out.ended = (await client.messages.batches.retrieve(batch.id)).processing_status;
  const results = {};
  for await (const r of await client.messages.batches.results(batch.id)) {
    results[r.custom_id] = r.result.type === "succeeded"
      ? r.result.message.content.find((b) => b.type === 'text').text.length > 0
      : r.result.error.error.type;
  }
  out.results = results;
  try {
    await client.messages.batches.cancel(batch.id);
    out.cancel = "accepted";
  } catch (err) {
    out.cancel = err.status;
  }
  try {
    await client.messages.batches.retrieve("msgbatch_nope");
  } catch (err) {
    out.missing = [err.status, err.error.error.type];
  }
  out.deleted = (await client.messages.batches.delete(batch.id)).type;
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(String(err)); process.exit(1); });
"""


@pytest.fixture(scope="session")
def node_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    where = tmp_path_factory.mktemp("node-sdk")
    install = subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(where),
            "@anthropic-ai/sdk@1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if install.returncode != 0:
        pytest.skip(f"could not install @anthropic-ai/sdk from npm: {install.stderr[-300:]}")
    return where


def test_node_sdk_round_trip(
    node_sdk: Path, emulator_factory: Callable[..., EmulatorHandle]
) -> None:
    emulator = emulator_factory(
        rate=None,
        rules=[
            Rule(
                "bad$", outcome="errored", error_type="overloaded_error", error_message="Overloaded"
            )
        ],
    )
    script = node_sdk / "round_trip.js"
    script.write_text(SCRIPT, encoding="utf-8")
    proc = subprocess.run(
        ["node", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=node_sdk,
        env={"PATH": shutil.which("node").rsplit("/", 1)[0], "BASE_URL": emulator.base_url},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["created"] == "in_progress"
    assert out["total"] == 3
    assert out["retrieved"] is True
    assert out["listed"] == 1
    assert out["ended"] == "ended"
    assert out["results"] == {"node-1": True, "node-2": True, "node-bad": "overloaded_error"}
    assert out["cancel"] == 400
    assert out["missing"] == [404, "not_found_error"]
    assert out["deleted"] == "message_batch_deleted"

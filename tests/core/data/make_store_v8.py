"""Builds tests/core/data/store_v8.sqlite3 with batchtop's store as of schema 8.

Run with batchtop's core of schema 8 on PYTHONPATH (it asserts the version); then
`PRAGMA page_size=512; VACUUM` keeps the file small.
"""

import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from batchtop.core import schema
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.store import Store

out = Path(sys.argv[1])
assert schema.SCHEMA_VERSION == 8
t0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
s = Store.open(out)
b1 = RemoteBatch(
    "msgbatch_v8_ended",
    ProcessingStatus.ENDED,
    RequestCounts(0, 2, 1, 0, 0),
    t0,
    t0 + timedelta(hours=24),
    ended_at=t0 + timedelta(hours=1),
    results_url="https://api.anthropic.com/v1/messages/batches/msgbatch_v8_ended/results",
)
b2 = RemoteBatch(
    "msgbatch_v8_active",
    ProcessingStatus.IN_PROGRESS,
    RequestCounts(5, 1, 0, 0, 0),
    t0 + timedelta(minutes=5),
    t0 + timedelta(hours=24, minutes=5),
)
s.upsert_remote([b1, b2], t0 + timedelta(hours=1, minutes=5))
job = s.create_job("articles", "articles.jsonl", t0 - timedelta(minutes=1), part_count=1)
s.set_batch_meta(
    b1.id, job_id=job.id, job_part=1, model="claude-haiku-4-5", estimated_cost_usd=0.01
)
s.set_label(b1.id, "kept label")
s.set_note(b2.id, "a note")
it = s.add_intent(job.id, 1, 3, "hash1", t0)
s.resolve_intent(
    it.id,
    __import__("batchtop.core.models", fromlist=["IntentState"]).IntentState.SUBMITTED,
    b1.id,
    None,
)
s.add_intent(job.id, 2, 4, "hash2", t0)
s.add_manifest(
    job.id,
    1,
    [
        ("a-1", "first prompt", '{"model":"claude-haiku-4-5","max_tokens":5}'),
        ("a-2", "second prompt", '{"model":"claude-haiku-4-5","max_tokens":5}'),
        ("a-3", "third prompt", '{"model":"claude-haiku-4-5","max_tokens":5}'),
    ],
)
lines = []
for cid, text in (("a-1", "hello old world"), ("a-2", "second answer")):
    lines.append(
        {
            "custom_id": cid,
            "result": {
                "type": "succeeded",
                "message": {
                    "id": "msg_" + cid,
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-haiku-4-5",
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 3},
                },
            },
        }
    )
lines.append(
    {
        "custom_id": "a-3",
        "result": {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "bad request"},
            },
        },
    }
)
res = out.parent / "r.jsonl"
res.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
s.ingest_results(b1.id, res)
s.set_results_file(b1.id, None, downloaded=True)
s.set_meta(base_url="https://api.anthropic.com", workspace_id="wrkspc_v8", organization_id="org_v8")
s.set_listing("msgbatch_v8_ended", complete=True)
s.wait_search_index(30)
s.close()
res.unlink()

c = sqlite3.connect(out)
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.execute("PRAGMA journal_mode=DELETE")
c.execute("VACUUM")
c.close()

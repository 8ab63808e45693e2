"""Every result shape the API returns survives the round trip: emulator (official SDK wire
format) → download and index → the viewer's blocks → each export format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ResultFilter
from batchtop.core.result_blocks import parse_content
from service_support import ServiceFactory

TOOL = {
    "name": "lookup_order",
    "description": "Find an order",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
SEARCH = {"type": "web_search_20250305", "name": "web_search"}
SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string", "enum": ["billing", "other"]}},
    "required": ["category"],
}


def _req(cid: str, text: str, **params: object) -> dict[str, object]:
    body = {"model": "claude-haiku-5-5", "max_tokens": 512, **params}
    body["messages"] = [{"role": "user", "content": text}]
    return {"custom_id": cid, "params": body}


async def test_every_shape_round_trips(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    requests = [
        _req("tool", "Please call lookup_order for A17", tools=[TOOL]),
        _req("search", "Latest lighthouse news", tools=[SEARCH]),
        _req("refusal", "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_1FAEFB6177B4672DEE07F9"),
        _req("json", "Classify: my card was charged twice",
             output_config={"format": {"type": "json_schema", "schema": SCHEMA}}),
        _req("stop", "Tell me about whales and dolphins", stop_sequences=["dolphins"]),
    ]  # fmt: skip
    service = make_service()
    outcome = await service.submit_requests(requests, name="shapes")
    (bid,) = outcome.batch_ids
    emulator.advance(60)
    await service.refresh()
    assert (await service.download_results(bid)).rows == len(requests)

    rows = {r.custom_id: r for r in service.results_page([bid], ResultFilter(), 0, 50).rows}
    assert rows["tool"].stop_reason == "tool_use"
    assert rows["refusal"].stop_reason == "refusal"
    assert rows["stop"].stop_reason == "stop_sequence"
    # what the index keeps per row about the blocks
    assert (rows["tool"].thinking, rows["tool"].tool_calls) == (True, 1)
    assert rows["tool"].tool_names == "lookup_order"
    assert (rows["search"].tool_names, rows["search"].citations > 0) == ("web_search", True)
    assert json.loads(rows["refusal"].stop_details or "null")["type"] == "refusal"
    assert (rows["stop"].tool_calls, rows["stop"].citations) == (0, 0)
    stops = service.results_page([bid], ResultFilter(stop_reasons=frozenset({"refusal"})), 0, 9)
    assert [r.custom_id for r in stops.rows] == ["refusal"]

    # what the viewer draws: blocks in order, from the indexed raw line
    detail = service.result_detail(bid, "tool")
    assert detail is not None
    content = parse_content(detail[1])
    assert content is not None
    assert [b.kind for b in content.blocks] == ["thinking", "text", "tool_use"]
    assert content.tool_calls[0]["name"] == "lookup_order"
    search = parse_content(service.result_detail(bid, "search")[1])  # type: ignore[index]
    assert search is not None
    assert [b.kind for b in search.blocks][1:] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert search.blocks[-1].citations
    refusal = parse_content(service.result_detail(bid, "refusal")[1])  # type: ignore[index]
    assert refusal is not None
    assert refusal.refusal is not None
    assert refusal.refusal.startswith("general_harms")

    # exports
    out = {}
    for fmt in ("jsonl", "csv", "json", "markdown"):
        path = tmp_path / f"x.{fmt}"
        await service.export([bid], fmt, path)  # type: ignore[arg-type]
        out[fmt] = path.read_text()
    jsonl = [orjson.loads(line) for line in out["jsonl"].splitlines()]
    assert len(jsonl) == len(requests)  # raw lines: every block kept as the API sent it
    table = {r["custom_id"]: r for r in csv.DictReader(out["csv"].splitlines())}
    assert table["tool"]["model"] == "claude-haiku-5-5"
    assert float(table["tool"]["cost_usd"]) > 0
    assert json.loads(table["json"]["output"])["category"] in ("billing", "other")
    assert (table["tool"]["thinking"], table["tool"]["tool_calls"]) == ("1", "1")
    assert table["tool"]["tool_names"] == "lookup_order"
    assert int(table["search"]["citations"]) > 0
    assert json.loads(table["refusal"]["stop_details"])["type"] == "refusal"
    slow = tmp_path / "slow.csv"  # the row-by-row writer writes the same columns
    await service.export([bid], "csv", slow, expand_json=True)
    slow_table = {r["custom_id"]: r for r in csv.DictReader(slow.read_text().splitlines())}
    for cid, row in table.items():
        assert {k: slow_table[cid][k] for k in row} == row
    pq = pytest.importorskip("pyarrow.parquet")
    await service.export([bid], "parquet", tmp_path / "x.parquet")
    parquet = {r["custom_id"]: r for r in pq.read_table(tmp_path / "x.parquet").to_pylist()}
    assert parquet["tool"]["thinking"] is True
    assert (parquet["tool"]["tool_calls"], parquet["tool"]["tool_names"]) == (1, "lookup_order")
    assert parquet["search"]["citations"] > 0
    assert json.loads(parquet["refusal"]["stop_details"])["type"] == "refusal"
    answers = json.loads(out["json"])
    assert answers["refusal"] == {"stop_reason": "refusal", "text": ""}
    assert isinstance(answers["json"], str)
    assert "refusal" in out["markdown"]

"""`--expand-json`: structured outputs become columns (CSV, Parquet), end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from data_factory import requests
from service_support import ServiceFactory

SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "bug", "other"]},
        "urgent": {"type": "boolean"},
        "labels": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["category", "urgent", "labels"],
    "additionalProperties": False,
}


def classify(n: int) -> list[dict[str, Any]]:
    batch = requests(n, prefix="ticket")
    for req in batch:
        req["params"]["output_config"] = {"format": {"type": "json_schema", "schema": SCHEMA}}
    return batch + requests(1, prefix="plain")  # a free-text answer: its cells stay empty


async def test_structured_outputs_become_columns(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    try:
        outcome = await service.submit_requests(classify(3))
        (bid,) = outcome.batch_ids
        emulator.advance(3600)
        await service.refresh()
        await service.download_results(bid)
        out = tmp_path / "t.csv"
        await service.export([bid], "csv", out, expand_json=True)
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert list(rows[0])[-3:] == ["output.category", "output.urgent", "output.labels"]
        tickets = [r for r in rows if r["custom_id"].startswith("ticket")]
        assert len(tickets) == 3
        for row in tickets:
            answer = json.loads(row["output"])
            assert row["output.category"] == answer["category"]
            assert row["output.urgent"] == json.dumps(answer["urgent"])
            assert json.loads(row["output.labels"]) == answer["labels"]
        (plain,) = [r for r in rows if r["custom_id"].startswith("plain")]
        assert plain["output.category"] == ""
        # without the option: the columns as always
        await service.export([bid], "csv", out)
        with out.open(newline="") as fh:
            assert not any(c.startswith("output.") for c in next(csv.reader(fh)))

        pq = pytest.importorskip("pyarrow.parquet")
        table_path = tmp_path / "t.parquet"
        await service.export([bid], "parquet", table_path, expand_json=True)
        table = pq.read_table(table_path).to_pylist()
        ticket = next(r for r in table if r["custom_id"].startswith("ticket"))
        assert ticket["output.category"] == json.loads(ticket["output"])["category"]
        assert ticket["cost_usd"] is not None
        assert ticket["cost_usd"] > 0
    finally:
        await service.close()


def test_cli_refuses_expand_json_for_a_format_without_columns(
    emulator_env: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchtop.tui.cli import main

    assert main(["results", "msgbatch_x", "--format", "jsonl", "--expand-json"]) == 1
    err = capsys.readouterr().err
    assert "--expand-json makes columns: use it with CSV or Parquet." in err

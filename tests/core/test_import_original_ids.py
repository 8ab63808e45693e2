"""An id that had to be rewritten keeps its original beside it: manifest, viewer, exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ImportOptions, ResultFilter
from service_support import ServiceFactory


async def test_original_ids_reach_the_results_and_every_export(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    src = tmp_path / "records.jsonl"
    records = [{"id": "a b", "text": "first"}, {"id": "a_b", "text": "second"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    service = make_service()
    report = await service.analyse(src, ImportOptions(id_field="id", max_tokens=20))
    assert report.ok, report.issues
    outcome = await service.submit(report)
    (bid,) = outcome.batch_ids
    emulator.advance(3600)
    await service.refresh()
    await service.wait_background()
    rows = service.results_page([bid], ResultFilter(), 0, 10).rows
    by_original = {r.original_id: r for r in rows}
    assert set(by_original) == {"a b", None}  # "a_b" was valid: kept, no original
    assert by_original[None].custom_id == "a_b"
    made = by_original["a b"].custom_id
    assert made.startswith("a_b-")
    assert by_original["a b"].input_text == "first"

    await service.export([bid], "csv", tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8")
    cells = {r["custom_id"]: r["original_id"] for r in csv.DictReader(io.StringIO(text))}
    assert cells == {made: "a b", "a_b": ""}

    await service.export([bid], "json", tmp_path / "r.json")
    assert set(json.loads((tmp_path / "r.json").read_text())) == {"a b", "a_b"}

    await service.export([bid], "markdown", tmp_path / "r.md")
    assert "**Original id:** `a b`" in (tmp_path / "r.md").read_text()

"""Measured input tokens: count_tokens on a sample of an import (against the emulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.emulator.behaviour import count_tokens
from batchtop.core.models import ImportOptions
from batchtop.core.pricing import request_input_tokens
from batchtop.core.token_count import sample_positions
from service_support import ServiceFactory

TOOL = {
    "name": "lookup",
    "description": "Look a word up in the dictionary.",
    "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}},
}


def params(i: int) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "word " * (i % 7 + 1) + f"number {i}"}],
        "tools": [TOOL],  # the estimate counts tools from their repr: the API counts otherwise
    }


def write_input(path: Path, n: int) -> list[dict[str, Any]]:
    rows = [params(i) for i in range(n)]
    path.write_text(
        "".join(json.dumps({"custom_id": f"r{i}", "params": p}) + "\n" for i, p in enumerate(rows))
    )
    return rows


def test_sample_positions_spread_over_the_input() -> None:
    assert sample_positions(1000, 4) == [125, 375, 625, 875]
    assert sample_positions(3, 20) == [0, 1, 2]
    assert sample_positions(0, 20) == []


async def test_a_sample_scales_the_input_tokens_and_says_so(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    rows = write_input(tmp_path / "in.jsonl", 40)
    service = make_service(max_requests_per_batch=15)  # 3 parts
    try:
        report = await service.analyse(tmp_path / "in.jsonl", ImportOptions(format="jsonl"))
        assert report.ok, report.issues[:3]
        before = report.estimate
        assert before is not None
        assert not before.measured_requests
        assert before.input_basis.startswith("estimated from characters")
        seen: list[tuple[int, int]] = []
        after = await service.measure_input_tokens(
            report, sample=4, progress=lambda d, t: seen.append((d, t))
        )
        assert after is report.estimate
        assert after is not None
        assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
        assert emulator.stats.count("count_tokens") == 4
        picked = [rows[i] for i in sample_positions(40, 4)]  # across the parts
        ratio = sum(count_tokens(p) for p in picked) / sum(request_input_tokens(p) for p in picked)
        assert ratio != pytest.approx(1.0)
        assert after.input_tokens == round(before.input_tokens * ratio)
        assert (after.measured_requests, after.exact) == (4, False)
        assert after.input_basis == (
            "estimated, scaled by a count_tokens sample of 4 of 40 requests"
        )
        extra = before.input_only_batch_usd * (ratio - 1)
        assert after.batch_usd == pytest.approx(before.batch_usd + extra)
    finally:
        await service.close()


async def test_every_request_measured_is_exact(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    rows = write_input(tmp_path / "in.jsonl", 3)
    service = make_service()
    try:
        report = await service.analyse(tmp_path / "in.jsonl", ImportOptions(format="jsonl"))
        after = await service.measure_input_tokens(report)  # 20 asked, 3 there
        assert after is not None
        assert after.input_tokens == sum(count_tokens(p) for p in rows)
        assert after.exact
        assert after.input_basis == "measured: count_tokens on all 3 requests"
    finally:
        await service.close()

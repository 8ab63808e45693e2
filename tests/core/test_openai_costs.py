"""What an OpenAI batch costs (issue 17 §3): an estimate (marked) from the inputs batchtop
submitted, then the billed cost from the usage of its downloaded results (chat completions:
prompt / completion tokens with the cached ones; responses: input / output tokens;
embeddings: input tokens only), at OpenAI's batch price, named by OpenAI's price source;
unknown, never $0.00, for a model without a price."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core import pricing
from batchtop.core.costs import batch_cost
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import (
    BatchView,
    ProcessingStatus,
    RemoteBatch,
    RequestCounts,
    ResultFilter,
)
from batchtop.core.store import Store
from results_support import results_of

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")

from test_openai_service import openai_service

T0 = datetime(2026, 12, 1, tzinfo=UTC)
CHAT, RESPONSES, EMBEDDINGS = "/v1/chat/completions", "/v1/responses", "/v1/embeddings"
PROMPTS = [f"Question {i}: what makes tide tables differ along a coast?" for i in range(6)]


def bodies(endpoint: str) -> tuple[str, list[dict[str, Any]]]:
    """(model, request bodies) of one batch on `endpoint`, each with its output budget."""
    if endpoint == CHAT:
        return "gpt-4o-mini", [
            {
                "model": "gpt-4o-mini",
                "max_completion_tokens": 200,
                "messages": [{"role": "user", "content": p}],
            }
            for p in PROMPTS
        ]
    if endpoint == RESPONSES:
        return "gpt-5-mini", [
            {"model": "gpt-5-mini", "max_output_tokens": 400, "input": p} for p in PROMPTS
        ]
    return "text-embedding-3-small", [
        {"model": "text-embedding-3-small", "input": p} for p in PROMPTS
    ]


def billed(endpoint: str, model: str, lines: list[bytes]) -> float:
    """The batch cost of an output file, from OpenAI's own usage fields (by hand)."""
    price = pricing.price_for(model)
    assert price is not None
    total = 0.0
    for raw in lines:
        usage = orjson.loads(raw)["response"]["body"]["usage"]
        if endpoint == CHAT:
            cached = usage["prompt_tokens_details"]["cached_tokens"]
            fresh, out = usage["prompt_tokens"] - cached, usage["completion_tokens"]
        elif endpoint == RESPONSES:
            cached = usage["input_tokens_details"]["cached_tokens"]
            fresh, out = usage["input_tokens"] - cached, usage["output_tokens"]
        else:
            cached, fresh, out = 0, usage["prompt_tokens"], 0
        total += fresh * price.base.input + cached * price.base.cache_read
        total += out * price.base.output
    return total / 1_000_000 * 0.5  # the Batch API's 50%


@pytest.mark.parametrize("endpoint", [CHAT, RESPONSES, EMBEDDINGS])
async def test_estimate_then_billed_cost_at_openai_batch_prices(
    openai_emulator: EmulatorHandle, tmp_path: Path, endpoint: str
) -> None:
    from openai import OpenAI

    model, sent = bodies(endpoint)
    service = openai_service(openai_emulator, tmp_path, endpoint=endpoint)
    service.auto_download = False
    try:
        requests = [{"custom_id": f"r-{i}", "params": b} for i, b in enumerate(sent)]
        (batch_id,) = (await service.submit_requests(requests, name="costs")).batch_ids
        view = service.batch(batch_id)
        assert view is not None
        assert view.model == model
        # the estimate: each body's tokens (characters / 4) and its endpoint's budget field
        price = pricing.price_for(model)
        assert price is not None
        tokens = sum(pricing.estimate_tokens(orjson.dumps(b).decode()) for b in sent)
        budget = {CHAT: 200, RESPONSES: 400, EMBEDDINGS: 0}[endpoint] * len(sent)
        expected = (tokens * price.base.input + budget * price.base.output) / 1e6 * 0.5
        assert view.estimated_cost_usd == pytest.approx(expected)
        cost = batch_cost(view)
        assert cost.is_estimate
        assert cost.usd == pytest.approx(expected)
        assert cost.price_source == pricing.price_source("openai")

        openai_emulator.advance(3600)
        await service.refresh()
        client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
        output = client.batches.retrieve(batch_id).output_file_id
        assert output is not None
        lines = client.files.content(output).content.splitlines()
        # ended, results not downloaded: billed from the usage the batch reports
        view = service.batch(batch_id)
        assert view is not None
        assert not view.results_downloaded
        cost = batch_cost(view)
        assert not cost.is_estimate
        assert cost.usd == pytest.approx(billed(endpoint, model, lines))
        # downloaded: from the rows' usage, the same figure
        assert (await service.download_results(batch_id)).rows == len(sent)
        view = service.batch(batch_id)
        assert view is not None
        cost = batch_cost(view)
        assert not cost.is_estimate
        assert cost.usd == pytest.approx(billed(endpoint, model, lines))
        assert cost.usd is not None
        assert cost.usd > 0
        assert cost.standard_usd == pytest.approx(cost.usd * 2)
        assert cost.price_source.endswith("(OpenAI pricing page)")
    finally:
        await service.close()


def _line(custom_id: str, body: dict[str, Any]) -> bytes:
    response = {"status_code": 200, "request_id": "req_1", "body": body}
    return orjson.dumps({"id": "batch_req_1", "custom_id": custom_id, "response": response})


RESPONSE = {
    "object": "response",
    "model": "gpt-5-2025-08-07",
    "status": "completed",
    "output": [{"type": "message", "content": [{"type": "output_text", "text": "ok"}]}],
    "usage": {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 400},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 250},  # billed as output
        "total_tokens": 1300,
    },
}
EMBEDDING = {
    "object": "list",
    "model": "text-embedding-3-large",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
    "usage": {"prompt_tokens": 5000, "total_tokens": 5000},
}


def test_usage_of_each_endpoint_is_billed_at_its_batch_price(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(_line("resp", RESPONSE) + b"\n" + _line("emb", EMBEDDING) + b"\n")
    with Store.open(tmp_path / "s.db") as store:
        results_of(store).ingest_results("batch_1", path)
        rows = results_of(store).query_results(["batch_1"], ResultFilter(), 0, 10).rows
    cost = {r.custom_id: r.cost_usd for r in rows}
    # gpt-5: $1.25 input, $0.125 cached input, $10 output; text-embedding-3-large: $0.13
    assert cost["resp"] == pytest.approx((600 * 1.25 + 400 * 0.125 + 300 * 10) / 1e6 * 0.5)
    assert cost["emb"] == pytest.approx(5000 * 0.13 / 1e6 * 0.5)


def test_a_model_without_a_price_costs_unknown_not_zero(tmp_path: Path) -> None:
    body = {**RESPONSE, "model": "gpt-unpriced-2026-01-01"}
    path = tmp_path / "out.jsonl"
    path.write_bytes(_line("resp", body) + b"\n")
    with Store.open(tmp_path / "s.db") as store:
        assert results_of(store).ingest_results("batch_1", path) == 1
        row = results_of(store).query_results(["batch_1"], ResultFilter(), 0, 1).rows[0]
        (actual,) = (
            store.db.conn()
            .execute("SELECT actual_cost_usd FROM batch_local WHERE batch_id = 'batch_1'")
            .fetchone()
        )
    assert row.cost_usd is None
    assert actual is None  # not 0.0
    view = BatchView(
        remote=RemoteBatch(
            id="batch_1",
            processing_status=ProcessingStatus.ENDED,
            request_counts=RequestCounts(succeeded=1),
            created_at=T0,
            expires_at=T0,
            provider="openai",
        ),
        seen_at=T0,
        model="gpt-unpriced",
        results_downloaded=True,
        results_indexed=1,
        actual_cost_usd=actual,
    )
    cost = batch_cost(view)
    assert (cost.usd, cost.unpriced, cost.is_estimate) == (None, True, False)
    # before the results: an estimate of a model without a price is no figure either
    before = batch_cost(replace(view, results_indexed=0, estimated_cost_usd=0.0))
    assert (before.usd, before.unpriced) == (None, True)


def test_each_provider_names_its_own_price_source() -> None:
    """Each section of prices.toml with its own date and source."""
    import tomllib
    from pathlib import Path as P

    data = tomllib.loads(P(pricing.__file__).with_name("prices.toml").read_text("utf-8"))
    oai, ant = data["providers"]["openai"]["meta"], data["meta"]
    assert pricing.price_source("openai") == f"prices of {oai['as_of']} (OpenAI pricing page)"
    assert pricing.price_source("anthropic") == f"prices of {ant['as_of']} (Anthropic pricing page)"


async def test_a_batch_created_elsewhere_costs_what_its_usage_was_billed(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Made by another tool (the SDK directly): no manifest, no estimate; its model and, once
    it ended, its cost come from what the API reports of the batch."""
    from openai import OpenAI

    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    model, sent = bodies(CHAT)
    data = b"".join(
        orjson.dumps({"custom_id": f"x-{i}", "method": "POST", "url": CHAT, "body": b}) + b"\n"
        for i, b in enumerate(sent)
    )
    upload = client.files.create(file=("in.jsonl", data), purpose="batch")
    made = client.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    service = openai_service(openai_emulator, tmp_path)
    try:
        await service.refresh()
        view = service.batch(made.id)
        assert view is not None
        assert not view.has_manifest
        assert batch_cost(view).usd is None  # running, nothing known to estimate from
        openai_emulator.advance(3600)
        await service.refresh()
        view = service.batch(made.id)
        assert view is not None
        assert view.model == model  # what the API says ran it
        batch = client.batches.retrieve(made.id)
        assert batch.output_file_id is not None
        lines = client.files.content(batch.output_file_id).content.splitlines()
        cost = batch_cost(view)
        assert not cost.is_estimate
        assert cost.usd == pytest.approx(billed(CHAT, model, lines))
    finally:
        await service.close()


def test_usage_a_batch_does_not_report_is_no_figure() -> None:
    """A batch with no usage (created before OpenAI reported it: zeros) or a model without a
    price is billed unknown, never $0.00; cached input tokens are billed as such."""
    from batchtop.core.costs import billed_usd
    from batchtop.core.models import TokenUsage

    remote = RemoteBatch(
        id="batch_1",
        processing_status=ProcessingStatus.ENDED,
        request_counts=RequestCounts(succeeded=3),
        created_at=T0,
        expires_at=T0,
        provider="openai",
        model="gpt-5-2025-08-07",
        usage=TokenUsage(input_tokens=1000, output_tokens=300, cached_tokens=400),
    )
    assert billed_usd(remote) == pytest.approx((600 * 1.25 + 400 * 0.125 + 300 * 10) / 1e6 * 0.5)
    assert billed_usd(replace(remote, usage=TokenUsage(0, 0))) is None
    assert billed_usd(replace(remote, usage=None)) is None
    assert billed_usd(replace(remote, model="gpt-unpriced")) is None
    running = replace(remote, processing_status=ProcessingStatus.IN_PROGRESS)
    assert billed_usd(running) is None


def test_a_batch_total_above_the_long_context_line_is_not_priced_as_one_request() -> None:
    """OpenAI's >272K tier is per request: a batch's total of 30 million input tokens says
    nothing of which requests were long, so it is priced at the base tier (gpt-6-luna:
    $0.10 input, $0.01 cached input, $0.50 output), not the long-context one."""
    from batchtop.core.costs import billed_usd
    from batchtop.core.models import TokenUsage

    remote = RemoteBatch(
        id="batch_1",
        processing_status=ProcessingStatus.ENDED,
        request_counts=RequestCounts(succeeded=1000),
        created_at=T0,
        expires_at=T0,
        provider="openai",
        model="gpt-6-luna",
        usage=TokenUsage(input_tokens=30_000_000, output_tokens=500_000, cached_tokens=10_000_000),
    )
    expected = (20_000_000 * 0.10 + 10_000_000 * 0.01 + 500_000 * 0.50) / 1e6 * 0.5
    assert billed_usd(remote) == pytest.approx(expected)

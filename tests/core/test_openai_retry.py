"""Retry of OpenAI results cut at their output budget (issue 16's `--max-tokens` for OpenAI):
a chat completion that finished with `length` and a response `incomplete` for
`max_output_tokens` are cuts; the resend raises the field the endpoint reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import UserError
from batchtop.core.models import ImportOptions, ResultFilter
from batchtop.core.service import BatchService

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")

from test_openai_service import openai_service

MODEL = "gpt-4o-mini"


def write(path: Path, url: str, bodies: dict[str, dict[str, Any]]) -> Path:
    lines = [
        {"custom_id": cid, "method": "POST", "url": url, "body": {"model": MODEL, **body}}
        for cid, body in bodies.items()
    ]
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


async def ended_batch(service: BatchService, emulator: EmulatorHandle, path: Path) -> str:
    report = await service.analyse(path, ImportOptions())
    assert report.ok, report.issues
    (batch_id,) = (await service.submit(report)).batch_ids
    emulator.advance(3600)
    await service.refresh()
    await service.download_results(batch_id)
    return batch_id


def sent_bodies(emulator: EmulatorHandle, batch_id: str) -> dict[str, dict[str, Any]]:
    from openai import OpenAI

    client = OpenAI(api_key="test-key", base_url=emulator.base_url, max_retries=0)
    batch = client.batches.retrieve(batch_id)
    lines = client.files.content(batch.input_file_id).content.splitlines()
    return {x["custom_id"]: x["body"] for x in map(orjson.loads, lines)}


async def test_chat_cuts_are_resent_with_a_higher_budget(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    question = [{"role": "user", "content": "Tell me about the sea and its tides"}]
    path = write(
        tmp_path / "chat.jsonl",
        "/v1/chat/completions",
        {
            "c-0": {"messages": question, "max_completion_tokens": 3},
            "c-1": {"messages": question, "max_tokens": 3},  # the older field
            "c-2": {"messages": question, "max_completion_tokens": 500},
        },
    )
    service = openai_service(openai_emulator, tmp_path)
    try:
        batch_id = await ended_batch(service, openai_emulator, path)
        rows = service.results_page([batch_id], ResultFilter(), 0, 10).rows
        assert {r.custom_id: r.stop_reason for r in rows} == {  # OpenAI's own words
            "c-0": "length",
            "c-1": "length",
            "c-2": "stop",
        }
        plan = await service.retry_plan([batch_id], max_tokens=400)
        assert (plan.resend, plan.resend_by_stop) == (2, {"max_tokens": 2})
        # what the front ends call the new budget: the fields these cuts have
        assert plan.budget_field == "max_completion_tokens / max_tokens"
        with pytest.raises(UserError, match="already had"):
            await service.retry_failed(batch_id, max_tokens=3)
        outcome = await service.retry_failed(batch_id, max_tokens=400)
        (child,) = outcome.submitted.batch_ids
        bodies = sent_bodies(openai_emulator, child)
        assert bodies == {
            "c-0": {"model": MODEL, "messages": question, "max_completion_tokens": 400},
            "c-1": {"model": MODEL, "messages": question, "max_tokens": 400},
        }
        openai_emulator.advance(3600)
        await service.refresh()
        await service.download_results(child)
        again = service.results_page([child], ResultFilter(), 0, 10).rows
        assert {r.stop_reason for r in again} == {"stop"}
    finally:
        await service.close()


async def test_incomplete_responses_are_resent_with_max_output_tokens(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "resp.jsonl",
        "/v1/responses",
        {
            "r-0": {"input": "Tell me about the sea and its tides", "max_output_tokens": 3},
            "r-1": {"input": "Tell me about rivers", "max_output_tokens": 1000},
        },
    )
    service = openai_service(openai_emulator, tmp_path)
    try:
        batch_id = await ended_batch(service, openai_emulator, path)
        survey = await service.retry_plan([batch_id], refusals=True)
        assert survey.budget_field == "max_output_tokens"  # the dialog's word for it
        with pytest.raises(UserError, match=r"max_output_tokens cuts .* max_output_tokens 3 or"):
            await service.retry_failed(batch_id, max_tokens=3)
        outcome = await service.retry_failed(batch_id, max_tokens=300)
        assert outcome.plan.resend_by_stop == {"max_tokens": 1}
        (child,) = outcome.submitted.batch_ids
        assert sent_bodies(openai_emulator, child) == {
            "r-0": {
                "model": MODEL,
                "input": "Tell me about the sea and its tides",
                "max_output_tokens": 300,
            }
        }
    finally:
        await service.close()


async def test_cancelled_batch_downloads_and_its_unrun_requests_are_retried(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A cancelled OpenAI batch's files list only the requests that ran ("partial results
    (if any)"): its download is complete with those, and a retry resends the others as
    canceled requests, with their parameters from the manifest."""
    from batchtop.core.emulator import Rule
    from batchtop.core.models import ResultType

    openai_emulator.set_rules([Rule(pattern="[13579]$", delay_s=10_000)])  # half never end
    question = [{"role": "user", "content": "Tell me about the sea"}]
    path = write(
        tmp_path / "chat.jsonl",
        "/v1/chat/completions",
        {f"c-{i}": {"messages": question} for i in range(10)},
    )
    service = openai_service(openai_emulator, tmp_path)
    service.auto_download = False
    try:
        report = await service.analyse(path, ImportOptions())
        (batch_id,) = (await service.submit(report)).batch_ids
        openai_emulator.advance(60)
        await service.cancel(batch_id)
        openai_emulator.advance(3600)
        await service.refresh()
        view = service.batch(batch_id)
        assert view is not None
        assert view.remote.provider_status == "cancelled"
        assert (view.remote.request_counts.succeeded, view.remote.request_counts.canceled) == (
            5,
            5,
        )
        assert (await service.download_results(batch_id)).rows == 5  # not "5 of 10 lines": cut
        plan = await service.retry_plan([batch_id])
        assert (plan.resend, plan.resend_by_type) == (5, {ResultType.CANCELED: 5})
        openai_emulator.set_rules([])
        outcome = await service.retry_failed(batch_id)
        (child,) = outcome.submitted.batch_ids
        bodies = sent_bodies(openai_emulator, child)
        assert sorted(bodies) == [f"c-{i}" for i in (1, 3, 5, 7, 9)]
        assert bodies["c-1"] == {"model": MODEL, "messages": question}
    finally:
        await service.close()

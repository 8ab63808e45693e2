"""Every endpoint through the official SDK, sync and async, against the real server."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from batchtop.core.emulator import EmulatorHandle

from .conftest import make_request, make_requests


def test_create_retrieve_results_sync(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(3))
    assert batch.id.startswith("msgbatch_01")
    assert len(batch.id) == len("msgbatch_01") + 22
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 3
    assert batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 86_400
    emulator.advance(1)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.succeeded == 3
    assert ended.request_counts.processing == 0
    assert ended.results_url == f"{emulator.base_url}/v1/messages/batches/{batch.id}/results"
    results = list(client.messages.batches.results(batch.id))
    assert sorted(r.custom_id for r in results) == ["req-0", "req-1", "req-2"]
    message = results[0].result.message
    assert message.id.startswith("msg_01")
    assert message.usage.service_tier == "batch"
    assert message.stop_reason == "end_turn"
    assert "Question number" in message.content[0].text


async def test_create_retrieve_results_async(aclient: Any, emulator: EmulatorHandle) -> None:
    batch = await aclient.messages.batches.create(requests=make_requests(2))
    emulator.advance(1)
    ended = await aclient.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    results = [r async for r in await aclient.messages.batches.results(batch.id)]
    assert {r.result.type for r in results} == {"succeeded"}


def test_unknown_batch_is_404(client: Any) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.batches.retrieve("msgbatch_01nope")
    assert info.value.body["error"]["message"] == "Message Batch msgbatch_01nope not found."


def test_models_and_count_tokens(client: Any) -> None:
    models = client.models.list()
    assert any(m.id == "claude-opus-5-5" for m in models.data)
    count = client.messages.count_tokens(
        model="claude-opus-5-5", messages=[{"role": "user", "content": "x" * 40}]
    )
    assert count.input_tokens == 10


def test_beta_routes(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.beta.messages.batches.create(requests=[make_request("a")])
    emulator.advance(1)
    assert client.beta.messages.batches.retrieve(batch.id).processing_status == "ended"
    assert [r.custom_id for r in client.beta.messages.batches.results(batch.id)] == ["a"]

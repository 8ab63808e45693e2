"""Every endpoint through the official SDK, sync and async, against the real server."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from batchtop.core.emulator import EmulatorHandle

from .conftest import api_status, make_request, make_requests, text_of


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
    assert "Question number" in text_of(message)


async def test_create_retrieve_results_async(aclient: Any, emulator: EmulatorHandle) -> None:
    batch = await aclient.messages.batches.create(requests=make_requests(2))
    emulator.advance(1)
    ended = await aclient.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    results = [r async for r in await aclient.messages.batches.results(batch.id)]
    assert {r.result.type for r in results} == {"succeeded"}


def test_unknown_batch_is_404(client: Any) -> None:
    with api_status(404) as info:
        client.messages.batches.retrieve("msgbatch_01nope")
    assert info.value.body["error"]["message"] == "Message Batch msgbatch_01nope not found."


def test_models_and_count_tokens(client: Any) -> None:
    models = client.models.list()
    assert any(m.id == "claude-opus-5-5" for m in models.data)
    count = client.messages.count_tokens(
        model="claude-opus-5-5", messages=[{"role": "user", "content": "x" * 40}]
    )
    assert count.input_tokens == 10
    # a create's own fields are not taken here
    with api_status(400, match="max_tokens: Extra inputs are not permitted"):
        client.messages.count_tokens(
            model="claude-opus-5-5",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"max_tokens": 10},
        )


def test_beta_routes(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.beta.messages.batches.create(requests=[make_request("a")])
    emulator.advance(1)
    assert client.beta.messages.batches.retrieve(batch.id).processing_status == "ended"
    assert [r.custom_id for r in client.beta.messages.batches.results(batch.id)] == ["a"]


def _create_many(client: Any, n: int) -> list[str]:
    return [client.messages.batches.create(requests=[make_request("a")]).id for _ in range(n)]


def test_list_pages_newest_first_in_both_directions(client: Any) -> None:
    ids = _create_many(client, 7)
    newest_first = list(reversed(ids))
    first = client.messages.batches.list(limit=3)
    assert [b.id for b in first.data] == newest_first[:3]
    assert first.has_more is True
    assert first.first_id == newest_first[0]
    assert first.last_id == newest_first[2]
    # auto-pagination follows after_id until has_more is false
    assert [b.id for b in client.messages.batches.list(limit=3)] == newest_first
    second = client.messages.batches.list(limit=3, after_id=first.last_id)
    third = client.messages.batches.list(limit=3, after_id=second.last_id)
    assert [b.id for b in third.data] == newest_first[6:]
    assert third.has_more is False
    # backwards from the oldest: before_id pages towards newer batches
    back = client.messages.batches.list(limit=3, before_id=newest_first[6])
    assert [b.id for b in back.data] == newest_first[3:6]
    assert back.has_more is True
    pages = list(client.messages.batches.list(limit=3, before_id=newest_first[6]).iter_pages())
    assert [[b.id for b in p.data] for p in pages] == [newest_first[3:6], newest_first[0:3]]
    assert pages[-1].has_more is False


def test_list_default_limit_and_bounds(client: Any) -> None:
    _create_many(client, 22)
    page = client.messages.batches.list()
    assert len(page.data) == 20
    assert page.has_more is True
    assert len(client.messages.batches.list(limit=1000).data) == 22
    for bad, message in ((0, "greater than or equal to 1"), (1001, "less than or equal to 1000")):
        with api_status(400, match=message):
            client.messages.batches.list(limit=bad)


def test_list_empty_page_shape(client: Any) -> None:
    raw = client.messages.batches.with_raw_response.list()
    assert raw.http_response.json() == {
        "data": [],
        "has_more": False,
        "first_id": None,
        "last_id": None,
    }


async def test_list_pages_async(aclient: Any) -> None:
    ids = [
        (await aclient.messages.batches.create(requests=[make_request("a")])).id for _ in range(5)
    ]
    seen = [b.id async for b in aclient.messages.batches.list(limit=2)]
    assert seen == list(reversed(ids))
    page = await aclient.messages.batches.list(limit=2, before_id=ids[0])
    assert [b.id for b in page.data] == [ids[2], ids[1]]
    assert page.has_more is True


def test_cancel_then_end_with_canceled_requests(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(500))
    emulator.advance(1)  # 100 req/s: about 100 done
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert canceling.results_url is None
    emulator.advance(emulator.config.cancel_delay_s)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    counts = ended.request_counts
    assert counts.processing == 0
    assert counts.succeeded == 100  # done before the cancel; nothing new starts after it
    assert counts.canceled == 400
    kinds = [r.result.type for r in client.messages.batches.results(batch.id)]
    assert kinds.count("canceled") == counts.canceled
    assert kinds.count("succeeded") == counts.succeeded


async def test_cancel_and_delete_async(aclient: Any, emulator: EmulatorHandle) -> None:
    batch = await aclient.messages.batches.create(requests=make_requests(300))
    canceling = await aclient.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    again = await aclient.messages.batches.cancel(batch.id)  # idempotent while canceling
    assert again.cancel_initiated_at == canceling.cancel_initiated_at
    with api_status(400, match="In progress batches cannot be deleted"):
        await aclient.messages.batches.delete(batch.id)
    emulator.advance(60)
    deleted = await aclient.messages.batches.delete(batch.id)
    assert deleted.id == batch.id
    assert deleted.type == "message_batch_deleted"
    with api_status(404):
        await aclient.messages.batches.retrieve(batch.id)
    assert [b.id async for b in aclient.messages.batches.list()] == []


def test_delete_sync_and_404_afterwards(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(2))
    emulator.advance(1)
    assert client.messages.batches.delete(batch.id).type == "message_batch_deleted"
    for call in (
        client.messages.batches.retrieve,
        client.messages.batches.delete,
        client.messages.batches.cancel,
    ):
        with api_status(404, match="not found"):
            call(batch.id)


def test_cancel_after_end_is_400(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(1))
    emulator.advance(1)
    with api_status(400) as info:
        client.messages.batches.cancel(batch.id)
    assert info.value.body["error"]["message"] == (
        f"Batch {batch.id} cannot be canceled because it has already finished processing."
    )
    assert info.value.body["error"]["type"] == "invalid_request_error"


def test_results_before_end_is_404(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(1000))
    response = httpx2.get(
        f"{emulator.base_url}/v1/messages/batches/{batch.id}/results",
        headers={"x-api-key": "k"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        f"Message Batch {batch.id} has no available results."
    )
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        client.messages.batches.results(batch.id)


async def test_models_and_count_tokens_async(aclient: Any) -> None:
    ids = [m.id async for m in aclient.models.list(limit=5)]
    assert len(ids) == len(set(ids)) > 5
    assert "claude-haiku-4-5-20251001" in ids
    first = await aclient.models.list(limit=2)
    assert first.has_more is True
    assert first.first_id == ids[0]
    back = await aclient.models.list(limit=2, before_id=ids[3])
    assert [m.id for m in back.data] == ids[1:3]
    count = await aclient.messages.count_tokens(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "y" * 41}]
    )
    assert count.input_tokens == 11
    model = await aclient.models.retrieve("claude-opus-5-5")
    assert model.display_name == "Claude Opus 5.5"
    with api_status(404):
        await aclient.messages.count_tokens(
            model="claude-nope", messages=[{"role": "user", "content": "x"}]
        )


def test_emulator_env_points_the_sdk_at_the_emulator(emulator_env: EmulatorHandle) -> None:
    import os

    from anthropic import Anthropic

    assert os.environ["ANTHROPIC_BASE_URL"] == emulator_env.base_url
    assert os.environ["XDG_DATA_HOME"].startswith(os.environ["XDG_CONFIG_HOME"].rsplit("/", 1)[0])
    with Anthropic() as client:
        batch = client.messages.batches.create(requests=make_requests(1))
    assert emulator_env.stats.count("create", 200) == 1
    assert batch.id.startswith("msgbatch_01")


def test_no_real_anthropic_env_leaks_into_tests() -> None:
    import os

    assert not [k for k in os.environ if k.startswith("ANTHROPIC_")]
    assert "pytest" in os.environ["XDG_CONFIG_HOME"] or "tmp" in os.environ["XDG_CONFIG_HOME"]


def test_list_with_both_cursors_and_unknown_cursor(client: Any) -> None:
    ids = _create_many(client, 6)  # oldest first
    window = client.messages.batches.list(after_id=ids[5], before_id=ids[0], limit=10)
    assert [b.id for b in window.data] == [ids[4], ids[3], ids[2], ids[1]]
    assert window.has_more is False
    unknown = client.messages.batches.list(after_id="msgbatch_01unknown")
    assert unknown.data == []
    assert unknown.has_more is False


def test_cancel_with_at_end_counters(emulator_factory: Any) -> None:
    handle = emulator_factory(counters="at-end", cancel_delay_s=30.0)
    from .conftest import sdk

    with sdk(handle) as client:
        batch = client.messages.batches.create(requests=make_requests(400))
        handle.advance(2)
        canceling = client.messages.batches.cancel(batch.id)
        assert canceling.request_counts.processing == 400
        handle.advance(29)
        assert client.messages.batches.retrieve(batch.id).processing_status == "canceling"
        handle.advance(1)
        ended = client.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended"
        assert (ended.ended_at - ended.cancel_initiated_at).total_seconds() == 30
        counts = ended.request_counts
        assert (counts.succeeded, counts.canceled, counts.processing) == (200, 200, 0)

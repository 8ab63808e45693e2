"""Injected faults and how the official SDK's retries react to them."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from batchtop.core.emulator import EmulatorHandle

from .conftest import api_status, async_sdk, failure_of, make_request, make_requests, sdk

FAST = {"retry_after_s": 0.01, "retry_after_all": True}


@pytest.mark.parametrize(
    ("field", "status"), [("rate_429", 429), ("rate_529", 529), ("rate_500", 500)]
)
def test_sdk_gives_up_after_max_retries(emulator: EmulatorHandle, field: str, status: int) -> None:
    emulator.set_faults(**{field: 1.0}, **FAST)
    with sdk(emulator, max_retries=2) as client, api_status(status) as info:
        client.messages.batches.list()
    assert emulator.stats.count("list", status) == 3
    assert emulator.stats.count("list") == 3
    body = info.value.body  # type: ignore[attr-defined]
    assert (
        body["error"]["type"]
        == {
            429: "rate_limit_error",
            529: "overloaded_error",
            500: "api_error",
        }[status]
    )


async def test_async_sdk_retries_overloaded(emulator: EmulatorHandle) -> None:
    emulator.set_faults(rate_529=1.0, **FAST)
    async with async_sdk(emulator, max_retries=1) as client:
        with api_status(529):
            await client.messages.batches.create(requests=[make_request("a")])
    assert emulator.stats.count("create", 529) == 2
    emulator.clear_faults()
    async with async_sdk(emulator) as client:
        assert [b async for b in client.messages.batches.list()] == []


def test_429_carries_retry_after(emulator: EmulatorHandle) -> None:
    emulator.set_faults(rate_429=1.0, retry_after_s=7)
    response = httpx2.get(emulator.base_url + "/v1/messages/batches", headers={"x-api-key": "k"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-should-retry"] == "true"
    assert response.json()["error"]["type"] == "rate_limit_error"
    emulator.set_faults(rate_429=0.0, rate_529=1.0)
    response = httpx2.get(emulator.base_url + "/v1/messages/batches", headers={"x-api-key": "k"})
    assert response.status_code == 529
    assert "retry-after" not in response.headers


def test_partial_fault_rate_is_survived_by_retries(emulator: EmulatorHandle) -> None:
    emulator.set_faults(rate_529=0.3, rate_429=0.2, seed=7, **FAST)
    with sdk(emulator, max_retries=10) as client:
        batch = client.messages.batches.create(requests=make_requests(3))
        for _ in range(10):
            assert client.messages.batches.retrieve(batch.id).id == batch.id
    assert emulator.stats.count(status=529) > 0
    assert emulator.stats.count(status=429) > 0
    assert emulator.stats.count("retrieve", 200) == 10


def test_fault_sequence_is_seeded(emulator_factory: Any) -> None:
    sequences = []
    for _ in range(2):
        handle = emulator_factory()
        handle.set_faults(rate_500=0.5, seed=3)
        with httpx2.Client(base_url=handle.base_url, headers={"x-api-key": "k"}) as http:
            statuses = [http.get("/v1/models").status_code for _ in range(12)]
        sequences.append(statuses)
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {200, 500}


def test_latency_triggers_client_timeout(emulator: EmulatorHandle) -> None:
    emulator.set_faults(latency_s=0.5)
    with sdk(emulator) as client, pytest.raises(Exception) as info:  # noqa: PT011
        client.with_options(timeout=0.05).messages.batches.list()
    failure = failure_of(info.value)
    assert failure.kind == "offline"
    assert "Timed out" in str(failure)
    emulator.set_faults(latency_s=0.0)
    with sdk(emulator) as client:
        assert client.with_options(timeout=5).messages.batches.list().data == []


def test_transient_404_after_create(emulator: EmulatorHandle, client: Any) -> None:
    emulator.set_faults(transient_404_s=10)
    batch = client.messages.batches.create(requests=make_requests(2))
    with api_status(404, match="not found"):
        client.messages.batches.retrieve(batch.id)
    emulator.advance(9)
    with api_status(404):
        client.messages.batches.retrieve(batch.id)
    emulator.advance(1)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert len(list(client.messages.batches.results(batch.id))) == 2


def test_results_stream_cut_and_server_survives(emulator: EmulatorHandle, client: Any) -> None:
    batch = client.messages.batches.create(requests=make_requests(200))
    emulator.advance(5)
    emulator.set_faults(cut_results_after_bytes=5000)
    url = f"{emulator.base_url}/v1/messages/batches/{batch.id}/results"
    received = bytearray()

    def read_all() -> None:
        with httpx2.stream("GET", url, headers={"x-api-key": "k"}) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received.extend(chunk)

    with pytest.raises(Exception) as raw:  # noqa: PT011 (any transport error: asserted below)
        read_all()
    assert len(received) == 5000
    assert failure_of(raw.value).kind == "offline"
    # Through the SDK (its exception for a cut body changed within 2.x): batchtop must see a
    # retryable, connection-level failure of a request that did reach the server.
    with pytest.raises(Exception) as cut:  # noqa: PT011
        list(client.messages.batches.results(batch.id))
    failure = failure_of(cut.value)
    assert failure.kind == "offline"
    assert failure.sent
    assert "interrupted" in str(failure)
    emulator.set_faults(cut_results_after_bytes=None)
    assert len(list(client.messages.batches.results(batch.id))) == 200


def test_set_faults_rejects_unknown_names(emulator: EmulatorHandle) -> None:
    with pytest.raises(TypeError, match="no field"):
        emulator.set_faults(rate_999=1.0)

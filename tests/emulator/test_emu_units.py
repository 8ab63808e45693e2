"""Unit tests of the emulator's pure parts: clocks, ids, validation, reply synthesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle, ManualClock, Rule, ScaledClock
from batchtop.core.emulator import clock as clock_module
from batchtop.core.emulator.behaviour import (
    CreateError,
    Synthesizer,
    count_tokens,
    validate_requests,
)
from batchtop.core.emulator.clock import from_us, rfc3339, to_us
from batchtop.core.emulator.ids import batch_id, message_id, request_id

from .conftest import make_request, make_requests

START = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START)
    assert ManualClock(datetime(2026, 1, 1)).now().tzinfo is UTC  # naive means UTC


def test_scaled_clock_speeds_time_up(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([100.0, 102.5])
    monkeypatch.setattr(clock_module.time, "monotonic", lambda: next(ticks))
    clock = ScaledClock(60.0, start=START)
    assert clock.now() == START + timedelta(seconds=150)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0)


def test_timestamps_round_trip_exactly() -> None:
    when = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    assert from_us(to_us(when)) == when
    assert rfc3339(to_us(when)) == "2026-11-25T12:00:00.123456+00:00"
    assert rfc3339(None) is None


def test_ids_look_real() -> None:
    bid = batch_id(0, 1, 0)
    assert bid.startswith("msgbatch_01")
    assert len(bid) == 33
    assert bid == batch_id(0, 1, 0)
    assert bid != batch_id(0, 2, 0)
    assert bid != batch_id(1, 1, 0)
    assert message_id(0, bid, "a").startswith("msg_01")
    assert message_id(0, bid, "a") != message_id(0, bid, "b")
    assert request_id() != request_id()
    assert not set(bid[11:]) & set("0OIl")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "Input should be a valid dictionary"),
        ({}, "requests: Field required"),
        ({"requests": {}}, "requests: Input should be a valid list"),
        ({"requests": [1]}, "requests.0: Input should be a valid dictionary"),
        (
            {"requests": [{"custom_id": 5, "params": {}}]},
            "requests.0.custom_id: Input should be a valid string",
        ),
        ({"requests": [{"custom_id": "", "params": {}}]}, "at least 1 character"),
        (
            {"requests": [{"custom_id": "a", "params": []}]},
            "requests.0.params: Input should be a valid dictionary",
        ),
        ({"requests": [{"custom_id": "é", "params": {}}]}, "should match pattern"),
    ],
)
def test_create_validation_messages(body: Any, message: str) -> None:
    with pytest.raises(CreateError, match=message.replace(".", r"\.")):
        validate_requests(body, 100_000)


def test_rules_precedence() -> None:
    synth = Synthesizer(
        [
            Rule("^x", "errored", error_type="api_error"),
            Rule("^y", text="fixed"),
            Rule("y", "canceled"),  # never reached for ids starting with y: first match wins
        ],
        seed=1,
    )
    bad = {"model": "claude-opus-5-5", "max_tokens": 1}  # no messages
    assert synth.outcome("b", "x1", bad).kind == "errored"
    y_bad = orjson.loads(synth.outcome("b", "y1", bad).line or b"{}")
    assert y_bad["result"]["error"]["error"]["message"] == "messages: Field required"
    y_ok = orjson.loads(synth.outcome("b", "y1", make_request("y1")["params"]).line or b"{}")
    assert (
        "".join(b["text"] for b in y_ok["result"]["message"]["content"] if b["type"] == "text")
        == "fixed"
    )
    assert synth.outcome("b", "zy", bad).kind == "canceled"


def test_count_tokens_counts_system_and_tools() -> None:
    base = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a" * 8}]}]}
    assert count_tokens(base) == 2
    assert count_tokens({**base, "system": "b" * 8}) > 2
    assert count_tokens({**base, "tools": [{"name": "t", "input_schema": {}}]}) > 2


def test_stats_and_client_disconnect(emulator: EmulatorHandle, client: Any) -> None:
    batch = client.messages.batches.create(requests=make_requests(3000))
    emulator.advance(60)
    url = f"{emulator.base_url}/v1/messages/batches/{batch.id}/results"
    with httpx2.stream("GET", url, headers={"x-api-key": "k"}) as response:
        next(response.iter_raw())  # read a little, then hang up
    full = httpx2.get(url, headers={"x-api-key": "k"})
    assert full.content.count(b"\n") == 3000
    assert emulator.stats.count("results", 200) >= 1
    assert emulator.stats.count("create") == 1
    emulator.stats.reset()
    assert emulator.stats.total == 0


def test_handle_accessors(emulator: EmulatorHandle) -> None:
    assert emulator.config.rate == 100.0
    assert emulator.config.counters == "live"
    assert emulator.clock.now() == START
    assert emulator.base_url.startswith("http://127.0.0.1:")
    assert emulator.call(lambda: 41 + 1) == 42
    emulator.set_faults(rate_500=1.0)
    emulator.clear_faults()
    assert emulator.config.faults.rate_500 == 0.0

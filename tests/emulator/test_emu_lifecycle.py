"""Lifecycle driven by the ManualClock: counters, rules, expiry, archival, persistence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchtop.core.emulator import EmulatorHandle, ManualClock, Rule

from .conftest import api_status, make_request, make_requests, sdk, text_of

HOSTILE = "[bold red]boom[/] \x1b[31mred\x1b[0m \x1b]0;title\x07 \r\n end"


def _results(client: Any, batch_id: str) -> dict[str, Any]:
    return {r.custom_id: r.result for r in client.messages.batches.results(batch_id)}


def test_live_counters_move_as_processed(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(250))
    seen = []
    for _ in range(3):
        emulator.advance(1)
        counts = client.messages.batches.retrieve(batch.id).request_counts
        seen.append((counts.processing, counts.succeeded))
    assert seen == [(150, 100), (50, 200), (0, 250)]
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"


def test_at_end_counters_stay_processing(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(counters="at-end")
    with sdk(handle) as client:
        batch = client.messages.batches.create(requests=make_requests(250))
        handle.advance(2)
        mid = client.messages.batches.retrieve(batch.id)
        assert mid.processing_status == "in_progress"
        assert mid.request_counts.processing == 250
        assert mid.request_counts.succeeded == 0
        handle.advance(1)
        end = client.messages.batches.retrieve(batch.id)
        assert end.request_counts.succeeded == 250
        assert (end.ended_at - end.created_at).total_seconds() == 2.5


def test_instant_rate_and_start_delay(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(rate=None, start_delay_s=30.0)
    with sdk(handle) as client:
        batch = client.messages.batches.create(requests=make_requests(1000))
        handle.advance(29)
        assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
        handle.advance(1)
        ended = client.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended"
        assert (ended.ended_at - ended.created_at).total_seconds() == 30


def test_all_four_result_types_and_rules(client: Any, emulator: EmulatorHandle) -> None:
    emulator.set_rules(
        [
            Rule(r"^err-", "errored", error_type="overloaded_error", error_message="Overloaded"),
            Rule(r"^cxl-", "canceled"),
            Rule(r"^exp-", "expired"),
            Rule(r"^fixed$", text="Exactly this."),
            Rule(r"^hostile$", text=HOSTILE),
        ]
    )
    ids = ["ok-1", "err-1", "cxl-1", "exp-1", "fixed", "hostile"]
    batch = client.messages.batches.create(requests=[make_request(i) for i in ids])
    emulator.advance(1)
    ended = client.messages.batches.retrieve(batch.id)
    counts = ended.request_counts
    assert (counts.succeeded, counts.errored, counts.canceled, counts.expired) == (3, 1, 1, 1)
    results = _results(client, batch.id)
    assert {k: v.type for k, v in results.items()} == {
        "ok-1": "succeeded",
        "err-1": "errored",
        "cxl-1": "canceled",
        "exp-1": "expired",
        "fixed": "succeeded",
        "hostile": "succeeded",
    }
    assert results["err-1"].error.error.type == "overloaded_error"
    assert results["err-1"].error.error.message == "Overloaded"
    assert text_of(results["fixed"].message) == "Exactly this."
    assert text_of(results["hostile"].message) == HOSTILE


def test_slow_rule_delays_the_end(client: Any, emulator: EmulatorHandle) -> None:
    emulator.set_rules([Rule("slow", delay_s=3600)])
    batch = client.messages.batches.create(requests=[make_request("fast"), make_request("slow")])
    emulator.advance(60)
    mid = client.messages.batches.retrieve(batch.id)
    assert mid.processing_status == "in_progress"
    assert (mid.request_counts.processing, mid.request_counts.succeeded) == (1, 1)
    emulator.advance(3600)
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"


def test_expiry_after_24h(client: Any, emulator: EmulatorHandle) -> None:
    emulator.set_rules([Rule("stuck", delay_s=48 * 3600)])
    batch = client.messages.batches.create(
        requests=[make_request("done"), make_request("stuck-1"), make_request("stuck-2")]
    )
    emulator.advance(23 * 3600)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    emulator.advance(3600)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.ended_at == ended.expires_at
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (1, 2)
    kinds = {k: v.type for k, v in _results(client, batch.id).items()}
    assert kinds == {"done": "succeeded", "stuck-1": "expired", "stuck-2": "expired"}


def test_archival_after_29_days(client: Any, emulator: EmulatorHandle) -> None:
    batch = client.messages.batches.create(requests=make_requests(3))
    emulator.advance(29 * 86_400 - 1)
    assert client.messages.batches.retrieve(batch.id).archived_at is None
    emulator.advance(1)
    archived = client.messages.batches.retrieve(batch.id)
    assert archived.archived_at is not None
    assert (archived.archived_at - archived.created_at).days == 29
    assert archived.processing_status == "ended"
    with api_status(404, match="has no available results"):
        list(client.messages.batches.results(batch.id))
    # still listed, still deletable
    assert [b.id for b in client.messages.batches.list()] == [batch.id]
    client.messages.batches.delete(batch.id)


def test_retire_archives_an_ended_batch_now(client: Any, emulator: EmulatorHandle) -> None:
    """What the demo does with an arrival it keeps no longer: the archival, today. The batch
    stays listed with its counts; its requests are gone from the emulator."""
    batch = client.messages.batches.create(requests=make_requests(3))
    assert not emulator.retire(batch.id)  # still running
    emulator.advance(1)
    assert emulator.retire(batch.id)
    archived = client.messages.batches.retrieve(batch.id)
    assert archived.archived_at is not None
    assert archived.processing_status == "ended"
    assert archived.request_counts.succeeded == 3
    with api_status(404, match="has no available results"):
        list(client.messages.batches.results(batch.id))
    assert [b.id for b in client.messages.batches.list()] == [batch.id]
    db: Any = emulator.server.state._db
    assert emulator.call(lambda: db.execute("SELECT count(*) FROM requests").fetchone()[0]) == 0
    assert not emulator.retire("msgbatch_unknown")


def test_max_tokens_stop_reason_and_usage(client: Any, emulator: EmulatorHandle) -> None:
    prompt = "Tell me about the lighthouse keepers of the northern coast " * 4
    batch = client.messages.batches.create(
        requests=[make_request("short", prompt, max_tokens=3), make_request("long", prompt)]
    )
    emulator.advance(1)
    results = _results(client, batch.id)
    short, full = results["short"].message, results["long"].message
    assert short.stop_reason == "max_tokens"
    assert short.usage.output_tokens == 3
    assert len(text_of(short)) <= 12
    assert full.stop_reason == "end_turn"
    assert full.usage.input_tokens == -(-len(prompt) // 4)
    assert full.usage.output_tokens >= 10
    assert full.model == "claude-opus-5-5"
    alias = client.messages.batches.create(
        requests=[make_request("alias", model="claude-haiku-4-5")]
    )
    emulator.advance(1)
    [line] = list(client.messages.batches.results(alias.id))
    assert line.result.message.model == "claude-haiku-4-5-20251001"
    assert "Tell me about the lighthouse keepers" in text_of(full)


def test_replies_are_deterministic(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    outputs = []
    for _ in range(2):
        handle = emulator_factory()
        with sdk(handle) as client:
            batch = client.messages.batches.create(requests=make_requests(5))
            handle.advance(1)
            outputs.append(
                (
                    batch.id,
                    [r.to_dict() for r in client.messages.batches.results(batch.id)],
                )
            )
    assert outputs[0] == outputs[1]
    assert len({r["result"]["message"]["id"] for r in outputs[0][1]}) == 5


def test_shuffle_is_seeded(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    orders = []
    for seed, shuffle in ((1, True), (2, True), (1, False)):
        handle = emulator_factory(seed=seed, shuffle_results=shuffle)
        with sdk(handle) as client:
            batch = client.messages.batches.create(requests=make_requests(30))
            handle.advance(1)
            orders.append([r.custom_id for r in client.messages.batches.results(batch.id)])
    in_order = [f"req-{i}" for i in range(30)]
    assert orders[2] == in_order
    assert orders[0] != in_order
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == sorted(in_order)


def test_state_survives_restart(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    db = tmp_path / "emu.sqlite3"
    clock = ManualClock(ManualClock().now())
    first = emulator_factory(clock=clock, db_path=db)
    with sdk(first) as client:
        done = client.messages.batches.create(requests=make_requests(4))
        clock.advance(1)
        before = _results(client, done.id)
        running = client.messages.batches.create(requests=make_requests(1000))
    first.stop()
    second = emulator_factory(clock=clock, db_path=db)
    with sdk(second) as client:
        assert [b.id for b in client.messages.batches.list()] == [running.id, done.id]
        assert client.messages.batches.retrieve(done.id).processing_status == "ended"
        assert _results(client, done.id) == before
        clock.advance(20)
        assert client.messages.batches.retrieve(running.id).request_counts.succeeded == 1000
        new = client.messages.batches.create(requests=make_requests(1))
        assert new.id not in (done.id, running.id)

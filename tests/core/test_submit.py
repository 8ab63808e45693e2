"""Journaled submission against the emulator: intents, crashes, ambiguous failures."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.api import BatchApi
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import ApiError, CreateUnresolved
from batchtop.core.models import ABANDON_AFTER, ImportOptions, IntentState, ResultFilter
from batchtop.core.service import BatchService
from batchtop.core.submit import Submitter, prepare_requests, read_part
from data_factory import requests
from service_support import FakeSleep, ServiceFactory
from svc_helpers import server_batch_count
from waiting import async_wait


def numbered(service: BatchService, n: int, part: int = 0) -> list[dict[str, Any]]:
    """`n` requests with the ids batchtop numbers in this data directory (`row-<tag>-…`):
    after a crash reconcile proves a batch ours by those, never by ids a user named."""
    return requests(n, prefix=f"row-{service._client_tag()}-{part}")


def write_part(path: Path, requests: Sequence[dict[str, Any]]) -> None:
    """A prepared part file as the importer writes one: native batch JSONL lines."""
    with path.open("wb") as fh:
        for req in requests:
            fh.write(orjson.dumps({"custom_id": req["custom_id"], "params": req["params"]}))
            fh.write(b"\n")


async def test_submit_records_intent_manifest_and_meta(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    outcome = await service.submit_requests(requests(5), name="five", label="first")
    (bid,) = outcome.batch_ids
    (intent,) = service.store.intents(outcome.job_id)
    assert intent.state is IntentState.SUBMITTED
    assert intent.batch_id == bid
    assert intent.request_count == 5
    assert len(intent.content_hash) == 64
    view = service.batch(bid)
    assert view is not None
    assert view.job_id == outcome.job_id
    assert view.job_part == 1
    assert view.model == "claude-haiku-4-5"
    assert view.label == "first"
    assert view.estimated_cost_usd is not None
    assert view.estimated_cost_usd > 0
    assert view.remote.request_counts.processing == 5
    job = service.job(outcome.job_id)
    assert job is not None
    assert job.name == "five"
    emulator.advance(60)
    await service.refresh()
    await service.wait_background()  # submitted by us: results download by themselves
    page = service.results_page([bid], ResultFilter(), 0, 10)
    assert page.total == 5
    assert page.rows[0].input_text is not None
    assert page.rows[0].input_text.startswith("Say hello number")


async def test_crash_between_create_and_record_is_reconciled(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    part = tmp_path / "part-0001.jsonl"
    # ids batchtop numbered with this data directory's tag: proof once the batch has ended
    # (ids a user named prove nothing after a crash: test_rel_foreign_lookalike.py)
    write_part(part, numbered(service, 7))
    prepared = read_part(part)
    job = service.store.create_job("crashed", None, emulator.clock.now())
    service.store.add_manifest(job.id, 1, prepared.manifest_rows)
    intent = service.store.add_intent(
        job.id, 1, prepared.request_count, prepared.content_hash, emulator.clock.now()
    )
    # the create call reaches the server, then the process "dies" before recording it
    created = await service._api.create_raw(prepared.body)
    # another batch with a different size must not be mistaken for ours
    await service._api.create(requests(3, prefix="other"))
    assert [i.id for i in service.store.open_intents()] == [intent.id]

    # still running: its custom_ids are not readable yet, so it is not adopted yet
    (unknown,) = await service.reconcile()
    assert (unknown.state, unknown.candidates) == (IntentState.PENDING, (created.id,))
    assert unknown.error is not None
    assert "unknown: not adopted" in unknown.error
    emulator.advance(60)  # it ends: its results name exactly the custom_ids we sent

    resolved = await service.reconcile()
    assert [(i.id, i.state, i.batch_id) for i in resolved] == [
        (intent.id, IntentState.RECONCILED, created.id)
    ]
    assert service.store.open_intents() == []
    view = service.batch(created.id)
    assert view is not None
    assert view.job_id == job.id
    # the part's estimate and model carry over from its manifest (not "—" until results)
    assert view.model == "claude-haiku-4-5"
    assert view.estimated_cost_usd == pytest.approx(prepared.estimate.batch_usd)
    assert view.estimated_cost_usd > 0
    # its results are this part's: no warning that they may be another client's
    await service.download_results(created.id)
    assert await service.adopted_results_warning(created.id) is None
    assert server_batch_count(emulator) == 2  # nothing was resubmitted
    # a second reconcile has nothing to do
    assert await service.reconcile() == []


async def test_crash_while_recording_keeps_job_and_part(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Killed after the batch's job/part were written but before the intent was resolved:
    the intent is still open, reconcile claims the batch, and job, part and model stay."""
    service = make_service()
    part = tmp_path / "part-0002.jsonl"
    write_part(part, requests(4))
    prepared = read_part(part)
    job = service.store.create_job("crashed", None, emulator.clock.now())
    intent = service.store.add_intent(
        job.id, 2, prepared.request_count, prepared.content_hash, emulator.clock.now()
    )
    created = await service._api.create_raw(prepared.body)
    service.store.upsert_remote([created], emulator.clock.now())
    service.store.set_batch_meta(created.id, job_id=job.id, job_part=2, model="claude-haiku-4-5")
    # ... the process dies here: the intent was never resolved
    resolved = await service.reconcile()
    assert [(i.state, i.batch_id) for i in resolved] == [(IntentState.RECONCILED, created.id)]
    view = service.batch(created.id)
    assert view is not None
    assert (view.job_id, view.job_part, view.model) == (job.id, 2, "claude-haiku-4-5")
    assert intent.id == resolved[0].id
    assert server_batch_count(emulator) == 1


async def test_two_open_intents_of_equal_size_claim_different_batches(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    job = service.store.create_job("twins", None, emulator.clock.now())
    ids = []
    for part_no in (1, 2):
        prepared = prepare_requests(numbered(service, 4, part_no))
        service.store.add_manifest(job.id, part_no, prepared.manifest_rows)
        service.store.add_intent(job.id, part_no, 4, f"hash{part_no}", emulator.clock.now())
        ids.append((await service._api.create_raw(prepared.body)).id)
    emulator.advance(60)
    resolved = await service.reconcile()
    assert sorted(i.batch_id or "" for i in resolved) == sorted(ids)
    assert {i.state for i in resolved} == {IntentState.RECONCILED}


async def test_a_create_held_past_the_timeout_is_never_sent_twice(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The create reaches the server, which holds it past the client's timeout and makes
    the batch a quarter of an hour later. The submitter looks (nothing listed yet), does
    not send the part again and leaves it unresolved, saying until when; reconcile then
    adopts the late batch. (Sent again, the part made two batches; looked for only ten
    minutes after its intent, the late batch was never adopted and the part was closed as
    not sent after thirty: a submit of the file sent it twice.)"""
    service = make_service(request_timeout_s=1.0)
    emulator.set_faults(create_latency_s=3600)
    with pytest.raises(CreateUnresolved) as info:
        await service.submit_requests(numbered(service, 6))
    said = str(info.value)
    assert "so the part is not sent again" in said, said
    (intent,) = service.store.open_intents()
    settles = (intent.created_at + ABANDON_AFTER).astimezone(UTC).strftime("%H:%M UTC")
    assert f"if none has by {settles}" in said, said
    assert emulator.stats.count("list") >= 1  # looked for it
    assert emulator.stats.arrivals("create") == 1
    progress = service.job_progress(intent.job_id)
    assert progress is not None
    assert progress.open == (1,)

    emulator.advance(15 * 60)  # the server makes the batch long after the client gave up
    emulator.set_faults(create_latency_s=0)
    emulator.call(emulator.server.release_slow_creates)
    await async_wait(lambda: server_batch_count(emulator) == 1, 60, "the held create's batch")
    emulator.advance(60)  # it ends: its results name the custom_ids the part sent
    (resolved,) = await service.reconcile()
    assert (resolved.id, resolved.state) == (intent.id, IntentState.RECONCILED)
    assert service.store.open_intents() == []
    assert emulator.stats.arrivals("create") == 1
    assert server_batch_count(emulator) == 1


async def test_reconcile_finds_a_batch_created_during_a_timeout(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # The intent was written and the create reached the server, but the client gave up
    # (simulated: the create goes out directly while every lookup times out).
    service = make_service(request_timeout_s=1.0)
    part = tmp_path / "part-0001.jsonl"
    write_part(part, numbered(service, 6))
    prepared = read_part(part)
    job = service.store.create_job("slow", None, emulator.clock.now())
    service.store.add_manifest(job.id, 1, prepared.manifest_rows)
    intent = service.store.add_intent(
        job.id, 1, prepared.request_count, prepared.content_hash, emulator.clock.now()
    )
    other_tool = BatchApi(api_key="test-key", base_url=emulator.base_url)
    created = await other_tool.create_raw(prepared.body)
    await other_tool.close()
    emulator.set_faults(latency_s=3.0)
    with pytest.raises(ApiError):
        await service.reconcile()  # cannot look: stays open
    assert [i.id for i in service.store.open_intents()] == [intent.id]
    emulator.clear_faults()
    emulator.advance(60)
    (resolved,) = await service.reconcile()
    assert (resolved.state, resolved.batch_id) == (IntentState.RECONCILED, created.id)
    assert server_batch_count(emulator) == 1


async def test_reconcile_waits_out_a_rate_limited_list(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Every list call answered 429 three times (more than the SDK's own two retries):
    reconcile waits them out and still adopts the batch."""
    service = make_service()
    part = tmp_path / "part-0001.jsonl"
    write_part(part, numbered(service, 6))
    prepared = read_part(part)
    job = service.store.create_job("storm", None, emulator.clock.now())
    service.store.add_manifest(job.id, 1, prepared.manifest_rows)
    service.store.add_intent(
        job.id, 1, prepared.request_count, prepared.content_hash, emulator.clock.now()
    )
    other_tool = BatchApi(api_key="test-key", base_url=emulator.base_url)
    created = await other_tool.create_raw(prepared.body)
    await other_tool.close()
    await service.reconcile()  # the scope probe and anything else first, without faults
    emulator.advance(60)
    emulator.set_faults(rate_429=1.0, retry_after_s=0.01, retry_after_all=True)
    before = emulator.stats.count("list", 429)
    task = asyncio.ensure_future(service.reconcile())
    await async_wait(lambda: emulator.stats.count("list", 429) >= before + 4, 30, "429s")
    emulator.clear_faults()
    (resolved,) = await asyncio.wait_for(task, 60)
    assert (resolved.state, resolved.batch_id) == (IntentState.RECONCILED, created.id)


async def test_unverifiable_timeout_leaves_intent_open_until_reconcile(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service(request_timeout_s=1.0)
    emulator.set_faults(latency_s=3.0)  # every call times out, the lookups too
    with pytest.raises(ApiError) as info:
        await service.submit_requests(requests(6))
    assert info.value.kind == "offline"
    assert "batchtop reconcile" in str(info.value)
    (intent,) = service.store.open_intents()
    emulator.clear_faults()
    # nothing was created; a recent intent stays open (the server might be slow)...
    assert await service.reconcile() == []
    assert [i.id for i in service.store.open_intents()] == [intent.id]
    # ...and is closed as failed once it is clearly stale
    emulator.advance(31 * 60)
    (resolved,) = await service.reconcile()
    assert (resolved.id, resolved.state) == (intent.id, IntentState.FAILED)
    assert service.store.open_intents() == []
    assert server_batch_count(emulator) == 0


async def test_server_error_on_create_resubmits_once_when_nothing_was_created(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    sleeper = FakeSleep(on_sleep=lambda _d: emulator.clear_faults())
    service = make_service(sleep=sleeper)
    emulator.set_faults(rate_500=1.0)
    outcome = await service.submit_requests(requests(2))
    (intent,) = service.store.intents(outcome.job_id)
    assert intent.state is IntentState.SUBMITTED
    assert emulator.stats.count("create", 500) == 1
    assert emulator.stats.count("create", 200) == 1
    assert server_batch_count(emulator) == 1


@pytest.mark.parametrize("status", [500, 504])
async def test_a_gateway_timeout_on_create_is_never_sent_again(
    make_service: ServiceFactory, emulator: EmulatorHandle, status: int
) -> None:
    """A 504 (Anthropic's `timeout_error`: "timed out while processing") comes from a gateway
    that gave up waiting; the server may still make the batch. Unlike a 500 (the server had
    finished with the create: sent once more when nothing was made), the part is not sent
    again: it is left for reconcile, which looks for its batch."""
    service = make_service(sleep=FakeSleep())
    emulator.set_faults(rate_500=float(status == 500), rate_504=float(status == 504))
    emulator.set_faults(fault_endpoints=("create",))
    if status == 500:
        with pytest.raises(ApiError):  # every create answered 500: sent twice, then failed
            await service.submit_requests(requests(2))
        assert emulator.stats.arrivals("create") == 2
        return
    with pytest.raises(CreateUnresolved) as info:
        await service.submit_requests(requests(2))
    assert "so the part is not sent again" in str(info.value), str(info.value)
    assert emulator.stats.arrivals("create") == 1
    assert emulator.stats.count("create", 504) == 1
    assert emulator.stats.count("list") >= 1  # looked for it
    (intent,) = service.store.open_intents()
    assert intent.state is IntentState.PENDING


async def test_refused_create_marks_the_intent_failed(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    bad = requests(2)
    bad[1]["custom_id"] = "not a valid id!"
    part = tmp_path / "part-0001.jsonl"
    write_part(part, bad)
    job = service.store.create_job("bad", None, emulator.clock.now())
    submitter = Submitter(lambda: service._api, service.store, now=emulator.clock.now)
    with pytest.raises(ApiError) as info:
        await submitter.submit_part(job.id, 1, read_part(part))
    assert info.value.kind == "invalid"
    assert info.value.status == 400
    (intent,) = service.store.intents(job.id)
    assert intent.state is IntentState.FAILED
    assert intent.error
    assert "400" in intent.error
    assert server_batch_count(emulator) == 0


async def test_compose_validation_errors_are_user_errors(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    from batchtop.core.errors import UserError

    service = make_service()
    dup = requests(2)
    dup[1]["custom_id"] = dup[0]["custom_id"]
    with pytest.raises(UserError, match="duplicate"):
        await service.submit_requests(dup)
    with pytest.raises(UserError):
        await service.submit_requests([])
    assert emulator.stats.count("create") == 0


async def test_first_refresh_reconciles_a_crashed_submission(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    prepared = prepare_requests(numbered(service, 3))
    job = service.store.create_job("crashed", None, emulator.clock.now())
    service.store.add_manifest(job.id, 1, prepared.manifest_rows)
    service.store.add_intent(job.id, 1, 3, prepared.content_hash, emulator.clock.now())
    created = await service._api.create_raw(prepared.body)
    emulator.advance(60)
    await service.refresh()
    assert service.store.open_intents() == []
    view = service.batch(created.id)
    assert view is not None
    assert view.job_id == job.id


async def test_prepared_files_are_dropped_after_submit(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    from batchtop.core.models import ImportOptions

    source = tmp_path / "p.txt"
    source.write_text("a\nb\n")
    service = make_service()
    report = await service.analyse(source, ImportOptions())
    assert report.prepared_path is not None
    assert report.prepared_path.exists()
    await service.submit(report)
    assert not report.prepared_path.exists()


async def test_unreachable_server_fails_the_intent_without_ambiguity(tmp_path: Path) -> None:
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store

    store = Store.open(tmp_path / "s.sqlite3")
    service = BatchService(
        store, Settings(max_retries=0), api_key="k", base_url="http://127.0.0.1:9"
    )
    try:
        with pytest.raises(ApiError) as info:
            await service.submit_requests(requests(2))
        assert info.value.kind == "offline"
        assert not info.value.sent  # connection refused: nothing can exist remotely
        assert store.open_intents() == []  # so the intent is closed, not left pending
        (job,) = service.jobs()
        (intent,) = store.intents(job.id)
        assert intent.state is IntentState.FAILED
    finally:
        await service.close()
        store.close()


async def test_numbered_requests_of_two_clients_never_share_custom_ids(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    """Reconcile proves a batch ours by its custom_ids: requests batchtop numbers itself
    (a TXT or CSV import) carry a tag of the data directory, so another client's import of
    a file of the same size is never taken for ours; the same home numbers the same file
    the same way (one file still makes one job)."""
    src = tmp_path / "prompts.txt"
    src.write_text("".join(f"prompt {i}\n" for i in range(1, 6)))
    alpha = make_service(home=tmp_path / "alpha")
    bravo = make_service(home=tmp_path / "bravo")

    async def ids(service: BatchService) -> list[str]:
        report = await service.analyse(src, ImportOptions())
        assert report.ok
        return [
            orjson.loads(line)["custom_id"]
            for part in report.parts
            for line in part.path.read_bytes().splitlines()
        ]

    first, again, other = await ids(alpha), await ids(alpha), await ids(bravo)
    assert first == again  # the same home, the same ids
    assert not set(first) & set(other)  # two homes: disjoint
    assert all(re.fullmatch(r"row-[0-9a-f]{6}-00000[1-5]", c) for c in first + other), first

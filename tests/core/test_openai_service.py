"""OpenAI batches through BatchService, the official `openai` SDK and the OpenAI emulator:
import → submit (upload + create, journaled) → refresh → results → rows, cancel, reconcile."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle, Rule
from batchtop.core.errors import UserError
from batchtop.core.models import (
    ImportOptions,
    IntentState,
    ProcessingStatus,
    ResultFilter,
    ResultType,
)
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from service_support import FakeSleep

pytest.importorskip("openai")
# Runs once the OpenAI emulator (core/emulator/openai_api, the openai_emulator fixture) is in.
pytest.importorskip("batchtop.core.emulator.openai_api")

MODEL = "gpt-4o-mini"


def openai_service(
    emulator: EmulatorHandle, tmp_path: Path, sleep: FakeSleep | None = None, **kw: Any
) -> BatchService:
    store = Store.open(tmp_path / "store.sqlite3")
    service = BatchService(
        store,
        Settings(max_retries=0, request_timeout_s=10.0),
        api_key="test-key",
        base_url=emulator.base_url,
        now=emulator.clock.now,
        sleep=sleep or FakeSleep(),
        provider="openai",
        **kw,
    )
    service._owns_store = True
    return service


def two_homes(emulator: EmulatorHandle, tmp_path: Path) -> tuple[BatchService, BatchService]:
    """Two data directories' services on one project (alpha and bravo)."""
    homes = []
    for name in ("alpha", "bravo"):
        (tmp_path / name).mkdir()
        homes.append(openai_service(emulator, tmp_path / name))
    return homes[0], homes[1]


def chat_file(path: Path, n: int, *, bad: bool = False) -> Path:
    lines = []
    for i in range(n):
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"Summarise article {i}"}],
            "max_completion_tokens": 50,
        }
        lines.append(
            {
                "custom_id": f"art-{i:04d}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            }
        )
    if bad:
        lines.append(
            {
                "custom_id": "art-0000",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": MODEL, "messages": []},
            }
        )
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


async def test_chat_batch_end_to_end(openai_emulator: EmulatorHandle, tmp_path: Path) -> None:
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(chat_file(tmp_path / "in.jsonl", 25), ImportOptions())
        assert report.ok, report.issues
        assert report.models == {MODEL: 25}
        assert report.estimate is not None
        assert report.estimate.batch_usd > 0  # priced from prices.toml
        outcome = await service.submit(report)
        (batch_id,) = outcome.batch_ids
        view = service.batch(batch_id)
        assert view is not None
        assert view.remote.provider == "openai"
        assert view.remote.provider_status == "validating"
        assert view.remote.submission_id is not None
        assert view.remote.input_file_id is not None
        intents = service.store.intents(outcome.job_id)
        assert [i.state for i in intents] == [IntentState.SUBMITTED]
        openai_emulator.advance(3600)
        await service.refresh()
        ended = service.batch(batch_id)
        assert ended is not None
        assert ended.remote.processing_status is ProcessingStatus.ENDED
        assert ended.remote.provider_status == "completed"
        assert ended.remote.request_counts.succeeded == 25
        rows = (await service.download_results(batch_id)).rows
        assert rows == 25
        page = service.results_page([batch_id], ResultFilter(), 0, 100)
        assert {r.type for r in page.rows} == {ResultType.SUCCEEDED}
        assert all(r.text for r in page.rows)
        first = page.rows[0].input_text
        assert first is not None
        assert first.startswith("Summarise")
        assert all(r.cost_usd is not None for r in page.rows)
    finally:
        await service.close()


async def test_template_embeddings_show_dimension_and_norm(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = openai_service(openai_emulator, tmp_path, endpoint="/v1/embeddings")
    try:
        src = tmp_path / "words.txt"
        src.write_text("the sea\nthe mountain\nthe river\n")
        report = await service.analyse(src, ImportOptions(model="text-embedding-3-small"))
        assert report.ok, report.issues
        outcome = await service.submit(report)
        (batch_id,) = outcome.batch_ids
        openai_emulator.advance(3600)
        await service.refresh()
        assert (await service.download_results(batch_id)).rows == 3
        page = service.results_page([batch_id], ResultFilter(), 0, 10)
        for row in page.rows:
            assert row.text.startswith("embedding: ")
            assert "dimensions, norm" in row.text
            assert row.stop_reason is None  # an embedding does not stop (not end_turn)
        stops = service.result_breakdown([batch_id]).stop_reasons
        assert [(s.label, s.count) for s in stops] == [("—", 3)]
    finally:
        await service.close()


async def test_validation_reports_openai_problems_with_lines(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(
            chat_file(tmp_path / "in.jsonl", 3, bad=True), ImportOptions()
        )
        assert not report.ok
        # line 4: an empty messages list and a custom_id used before, both reported
        assert [(i.line, i.field) for i in report.errors] == [
            (4, "body.messages"),
            (4, "custom_id"),
        ]
        assert "used twice" in report.errors[1].message
    finally:
        await service.close()


async def test_an_openai_import_reports_its_progress(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The import's progress callback runs for OpenAI files as for Anthropic ones: from
    nothing read to the whole file."""
    service = openai_service(openai_emulator, tmp_path)
    path = chat_file(tmp_path / "in.jsonl", 5)
    seen: list[tuple[int, int]] = []
    try:
        report = await service.analyse(path, ImportOptions(), lambda n, t: seen.append((n, t)))
        assert report.request_count == 5
        size = path.stat().st_size
        assert seen[0] == (0, size)
        assert seen[-1] == (size, size)
    finally:
        await service.close()


async def test_split_follows_openai_limits(openai_emulator: EmulatorHandle, tmp_path: Path) -> None:
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(
            chat_file(tmp_path / "in.jsonl", 7), ImportOptions(max_requests_per_batch=3)
        )
        assert [p.request_count for p in report.parts] == [3, 3, 1]
        # The provider's own limit caps a larger setting.
        big = await service.analyse(
            chat_file(tmp_path / "in2.jsonl", 2), ImportOptions(max_requests_per_batch=10**6)
        )
        assert big.parts[0].request_count == 2
    finally:
        await service.close()


async def test_cancel_and_status_words(openai_emulator: EmulatorHandle, tmp_path: Path) -> None:
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(chat_file(tmp_path / "in.jsonl", 5), ImportOptions())
        (batch_id,) = (await service.submit(report)).batch_ids
        view = await service.cancel(batch_id)
        assert view.remote.provider_status in ("cancelling", "cancelled")
        openai_emulator.advance(3600)
        await service.refresh()
        done = service.batch(batch_id)
        assert done is not None
        assert done.remote.provider_status == "cancelled"
        assert done.remote.processing_status is ProcessingStatus.ENDED
    finally:
        await service.close()


async def test_an_expired_batchs_unrun_requests_are_expired_not_errored(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The requests OpenAI's expiry kept from running (the error file's `batch_expired`
    lines) are expired in the batch's counters and in the results index, not errored; a
    request that ran and failed stays errored."""
    openai_emulator.set_rules(
        [
            Rule(pattern=r"-000[0-2]$", outcome="expired"),
            Rule(pattern=r"-0003$", outcome="errored", error_type="api_error"),
        ]
    )
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(chat_file(tmp_path / "in.jsonl", 8), ImportOptions())
        (batch_id,) = (await service.submit(report)).batch_ids
        openai_emulator.advance(25 * 3600)
        await service.refresh()
        view = service.batch(batch_id)
        assert view is not None
        assert view.remote.provider_status == "expired"
        counts = view.remote.request_counts
        assert (counts.succeeded, counts.errored, counts.expired) == (4, 1, 3)
        assert (await service.download_results(batch_id)).rows == 8  # the error file lists them
        page = service.results_page([batch_id], ResultFilter(), 0, 100)
        types = {r.custom_id: r.type for r in page.rows}
        assert [c for c, t in sorted(types.items()) if t is ResultType.EXPIRED] == [
            "art-0000",
            "art-0001",
            "art-0002",
        ]
        assert types["art-0003"] is ResultType.ERRORED
    finally:
        await service.close()


async def test_refresh_of_n_batches_uses_one_list_call_per_100(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    from openai import OpenAI

    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    }
    file = client.files.create(file=("in.jsonl", orjson.dumps(line) + b"\n"), purpose="batch")
    n = 250
    for _ in range(n):
        client.batches.create(
            input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    service = openai_service(openai_emulator, tmp_path)
    try:
        openai_emulator.stats.reset()
        await service.refresh()
        assert len(service.batches()) == n
        assert openai_emulator.stats.count("list", 200) == math.ceil(n / 100)
    finally:
        await service.close()


async def test_refresh_of_many_active_batches_lists_in_pages_of_100(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """1,500 OpenAI batches in progress: the first sync and every refresh after it list
    them in ⌈1,500/100⌉ = 15 calls; none is retrieved one by one (the list cap counts
    batches, not pages of Message Batches' size: 10 pages of 100 left 500 to retrieve)."""
    n = 1_500
    openai_emulator.seed_history(n, active=frozenset(range(n)))
    service = openai_service(openai_emulator, tmp_path)
    try:
        for _ in range(2):
            openai_emulator.stats.reset()
            await service.refresh()
            assert len(service.batches("active")) == n
            assert openai_emulator.stats.count("list", 200) == math.ceil(n / 100)
            assert openai_emulator.stats.count("retrieve") == 0
    finally:
        await service.close()


async def test_reconcile_finds_the_batch_by_its_submission_id(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A create whose answer was lost: the journal's open intent is resolved by the batch
    that carries its submission id in metadata (counts are 0 while it validates)."""
    from batchtop.core.submit import read_part, submission_id

    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(chat_file(tmp_path / "in.jsonl", 4), ImportOptions())
        assert report.prepared_path is not None
        job = service.store.create_job(
            "lost", str(tmp_path / "in.jsonl"), openai_emulator.clock.now(), part_count=1
        )
        part = read_part(report.prepared_path / "part-0001.jsonl")
        service.store.add_manifest(job.id, 1, part.manifest_rows)
        intent = service.store.add_intent(
            job.id, 1, 4, part.content_hash, openai_emulator.clock.now()
        )
        # The create went through, but its answer never came back (as after a crash).
        created = await service._api.create_raw(part.body, submission_id=submission_id(intent))
        assert created.request_counts.total == 0  # validating: nothing counted yet
        resolved = await service.reconcile()
        assert [(i.state, i.batch_id) for i in resolved] == [(IntentState.RECONCILED, created.id)]
    finally:
        await service.close()


async def test_another_clients_tagged_batch_is_no_look_alike(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """An open intent (its create's answer lost, no batch made) and, in the same minutes,
    another data directory's batch of the same size on the project: that batch carries the
    other's submission id in its metadata, so it is not this part's and reconcile does not
    hold the intent as "unknown: not adopted" on it (a resubmit would have waited 30 min)."""
    from batchtop.core.submit import read_part

    alpha, bravo = two_homes(openai_emulator, tmp_path)
    try:
        report = await alpha.analyse(chat_file(tmp_path / "a.jsonl", 4), ImportOptions())
        assert report.prepared_path is not None
        job = alpha.store.create_job(
            "lost", str(tmp_path / "a.jsonl"), openai_emulator.clock.now(), part_count=1
        )
        part = read_part(report.prepared_path / "part-0001.jsonl")
        alpha.store.add_manifest(job.id, 1, part.manifest_rows)
        alpha.store.add_intent(job.id, 1, 4, part.content_hash, openai_emulator.clock.now())
        theirs = await bravo.submit(
            await bravo.analyse(chat_file(tmp_path / "b.jsonl", 4), ImportOptions())
        )
        await bravo.refresh()  # in progress (the clock stands still): it counts 4 requests
        (bid,) = theirs.batch_ids
        other = bravo.batch(bid)
        assert other is not None
        assert other.remote.request_counts.total == 4
        assert other.remote.processing_status is ProcessingStatus.IN_PROGRESS
        resolved = await alpha.reconcile()
        # not held as "unknown" on the other's batch, never adopted: the part's input file
        # was never uploaded and no batchtop is sending it, so it is closed as never created
        assert [(i.candidates, i.batch_id, i.state) for i in resolved] == [
            ((), None, IntentState.FAILED)
        ]
        assert alpha.store.open_intents() == []
        mine = alpha.batch(bid)
        assert mine is None or mine.job_id is None  # the other data directory's: not ours
    finally:
        await alpha.close()
        await bravo.close()


async def test_orphaned_files_are_only_this_data_directorys(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Two data directories on one project: each one's input files that no batch uses are
    reported (and deleted when asked) by that one only; the other's upload, perhaps about
    to become a batch, is not its to touch."""
    from batchtop.core.providers.openai import input_file_name
    from openai import OpenAI

    alpha, bravo = two_homes(openai_emulator, tmp_path)
    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    line = orjson.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"})
    try:
        uploads = {}
        for service in (alpha, bravo):
            job = service.store.create_job("orphan", None, openai_emulator.clock.now())
            name = input_file_name(f"{job.id}/1/1")  # as the adapter names a part's upload
            uploads[service] = client.files.create(file=(name, line + b"\n"), purpose="batch")
        client.files.create(file=("batchtop-notes.jsonl", line + b"\n"), purpose="batch")
        for service in (alpha, bravo):
            found = await service.orphan_files()
            assert [f.id for f in found] == [uploads[service].id]
            assert found[0].submission_id is not None
            assert found[0].submission_id.endswith("/1/1")
        # an hour later (`orphan_min_age_s`: a younger one may be about to be used)
        openai_emulator.advance(alpha.settings.orphan_min_age_s + 1)
        await alpha.delete_orphan_files(await alpha.orphan_files())
        assert await alpha.orphan_files() == []
        assert [f.id for f in await bravo.orphan_files()] == [uploads[bravo].id]
    finally:
        client.close()
        await alpha.close()
        await bravo.close()


async def test_split_setting_applies_to_openai_imports(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "store.sqlite3")
    service = BatchService(
        store,
        Settings(max_retries=0, max_requests_per_batch=4),
        api_key="test-key",
        base_url=openai_emulator.base_url,
        now=openai_emulator.clock.now,
        sleep=FakeSleep(),
        provider="openai",
    )
    service._owns_store = True
    try:
        report = await service.analyse(chat_file(tmp_path / "in.jsonl", 10), ImportOptions())
        assert [p.request_count for p in report.parts] == [4, 4, 2]
    finally:
        await service.close()


async def test_download_survives_faults_and_cut_streams(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Server errors, 429s and file contents cut mid-stream: the download starts the
    neutral stream again and ends with every row exactly once."""
    cuts = {"n": 0}

    def heal(_delay: float) -> None:  # the stream is cut on the first tries only
        cuts["n"] += 1
        if cuts["n"] == 2:
            openai_emulator.set_faults(cut_results_after_bytes=None, rate_500=0.0, rate_429=0.0)

    service = openai_service(openai_emulator, tmp_path, sleep=FakeSleep(heal))
    service.auto_download = False  # the download under test is the one asked for below
    try:
        report = await service.analyse(chat_file(tmp_path / "in.jsonl", 200), ImportOptions())
        (batch_id,) = (await service.submit(report)).batch_ids
        openai_emulator.advance(3600)
        await service.refresh()
        openai_emulator.set_faults(rate_500=0.2, rate_429=0.1, cut_results_after_bytes=20_000)
        rows = (await service.download_results(batch_id)).rows
        assert rows == 200
        page = service.results_page([batch_id], ResultFilter(), 0, 500)
        assert len({r.custom_id for r in page.rows}) == 200
        assert cuts["n"] >= 1  # it was cut and tried again
    finally:
        openai_emulator.clear_faults()
        await service.close()


async def test_retry_resends_failed_requests_to_the_batch_endpoint(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Failed embeddings requests are resent to /v1/embeddings (the batch's endpoint), not
    to the service's default."""
    from openai import OpenAI

    service = openai_service(openai_emulator, tmp_path)  # default endpoint: chat completions
    try:
        src = tmp_path / "emb.jsonl"
        lines = [
            {
                "custom_id": f"e-{i}",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "text-embedding-3-small", "input": f"word {i}"},
            }
            for i in range(4)
        ]
        src.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        # Two requests fail on the server with a server error (a resend can fix those).
        openai_emulator.set_rules([Rule(pattern="^e-[13]$", outcome="errored")])
        report = await service.analyse(src, ImportOptions())
        (batch_id,) = (await service.submit(report)).batch_ids
        openai_emulator.advance(3600)
        await service.refresh()
        await service.download_results(batch_id)
        outcome = await service.retry_failed(batch_id)
        assert outcome.sent == 2
        (child,) = outcome.submitted.batch_ids
        client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
        batch = client.batches.retrieve(child)
        assert batch.endpoint == "/v1/embeddings"
        sent = client.files.content(batch.input_file_id).content.splitlines()
        assert sorted(orjson.loads(line)["url"] for line in sent) == ["/v1/embeddings"] * 2
    finally:
        await service.close()


async def test_composed_requests_go_to_openai_through_the_journal(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """`submit_requests` for OpenAI: the bodies of the chosen endpoint are checked, uploaded
    as the input file and created with the submission id, journaled as imports are."""
    from openai import OpenAI

    service = openai_service(openai_emulator, tmp_path)  # default endpoint: chat completions
    try:
        bad = [{"custom_id": "a", "params": {"model": "text-embedding-3-small", "input": ""}}]
        with pytest.raises(UserError, match=r"request 1: 'body\.input' is an empty string"):
            await service.submit_requests(bad, endpoint="/v1/embeddings")
        with pytest.raises(UserError, match=r"'body\.messages' is missing"):
            await service.submit_requests(  # the service's endpoint: chat completions
                [{"custom_id": "a", "params": {"model": MODEL, "input": "x"}}]
            )
        requests = [
            {"custom_id": f"w-{i}", "params": {"model": "text-embedding-3-small", "input": w}}
            for i, w in enumerate(("sea", "river"))
        ]
        outcome = await service.submit_requests(requests, name="words", endpoint="/v1/embeddings")
        (batch_id,) = outcome.batch_ids
        intents = service.store.intents(outcome.job_id)
        assert [i.state for i in intents] == [IntentState.SUBMITTED]
        client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
        batch = client.batches.retrieve(batch_id)
        assert batch.endpoint == "/v1/embeddings"
        view = service.batch(batch_id)
        assert view is not None
        assert batch.metadata == {"batchtop_submission": view.remote.submission_id}
        openai_emulator.advance(3600)
        await service.refresh()
        assert (await service.download_results(batch_id)).rows == 2
        page = service.results_page([batch_id], ResultFilter(), 0, 10)
        assert {r.input_text for r in page.rows} == {"sea", "river"}  # the manifest's texts
    finally:
        await service.close()


async def test_a_template_import_without_a_model_goes_to_the_default_openai_model(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """No --model: the cheapest current OpenAI model the API lists (chosen from the model and
    price data, never a constant), priced; an embeddings import has no such default."""
    service = openai_service(openai_emulator, tmp_path, endpoint="/v1/responses")
    try:
        await service.model_catalog(force=True)  # the API's list, as at start
        src = tmp_path / "words.txt"
        src.write_text("the sea\nthe mountain\n")
        report = await service.analyse(src, ImportOptions())
        assert report.ok, report.issues
        assert report.models == {"gpt-6-luna": 2}
        assert report.estimate is not None
        assert report.estimate.unknown_models == ()
        assert service.default_model("/v1/embeddings") == ""
    finally:
        await service.close()

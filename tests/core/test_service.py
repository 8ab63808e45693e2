"""BatchService end to end against the emulator: import → submit → results, retry, actions."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle, Rule
from batchtop.core.errors import ApiError, Conflict, NotFound, UserError
from batchtop.core.models import (
    ImportOptions,
    ProcessingStatus,
    ResultFilter,
    ResultType,
    SubmitProgress,
)
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from data_factory import requests
from service_support import STORE_FILE, ServiceFactory, new_service


async def test_articles_flow_analyse_submit_results(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    articles = [{"id": i, "content": f"Article {i} text about topic {i % 7}."} for i in range(1000)]
    source = tmp_path / "articles.json"
    source.write_text(json.dumps(articles))
    service = make_service()
    report = await service.analyse(
        source, ImportOptions(template="Summarise: {content}", max_tokens=200)
    )
    assert report.ok, report.issues[:3]
    assert report.request_count == 1000
    # no model in settings: the cheapest current model of the catalogue
    assert report.models == {"claude-haiku-5-5": 1000}
    outcome = await service.submit(report, label="articles")
    (bid,) = outcome.batch_ids
    emulator.advance(3600)
    await service.refresh()
    await service.wait_background()
    view = service.batch(bid)
    assert view is not None
    assert view.results_indexed == 1000
    assert view.label == "articles"
    out = tmp_path / "summaries.json"
    result = await service.export([bid], "json", out)
    assert result.rows == 1000
    data = json.loads(out.read_text())
    assert len(data) == 1000
    row = service.results_page([bid], ResultFilter(search="topic"), 0, 1).rows[0]
    assert row.input_text is not None
    assert row.input_text.startswith("Summarise: Article")


async def test_small_limits_split_into_a_job_of_several_batches(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.txt"
    source.write_text("".join(f"prompt {i}\n" for i in range(25)))
    service = make_service(max_requests_per_batch=10)
    report = await service.analyse(source, ImportOptions())
    assert [p.request_count for p in report.parts] == [10, 10, 5]
    seen = []
    outcome = await service.submit(report, progress=seen.append)
    assert len(outcome.batch_ids) == 3
    assert {p.batch_id for p in seen if p.batch_id} == set(outcome.batch_ids)
    job = service.job(outcome.job_id)
    assert job is not None
    assert set(job.batch_ids) == set(outcome.batch_ids)
    assert sorted(service.batch(b).job_part for b in outcome.batch_ids) == [1, 2, 3]  # type: ignore[union-attr]
    assert service.resolve_ids(outcome.job_id) == list(job.batch_ids)


async def test_a_part_another_submit_created_meanwhile_is_said_created_not_failed(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Two submits of one file share a job. While the first is between parts 1 and 2, the
    second sends parts 2 and 3 and, every part created, removes the job's prepared copy
    (the first's). The first then names parts 2 and 3 as created by the other, not as
    failed: nothing of its file is left unsent."""
    source = tmp_path / "prompts.txt"
    source.write_text("".join(f"prompt {i}\n" for i in range(25)))
    first = make_service(max_requests_per_batch=10)
    report = await first.analyse(source, ImportOptions())
    second_ids: list[str] = []

    def second_submit() -> None:  # another batchtop on the same data directory
        async def run() -> None:
            other = new_service(emulator, tmp_path / STORE_FILE, max_requests_per_batch=10)
            try:
                outcome = await other.submit(await other.analyse(source, ImportOptions()))
                second_ids.extend(outcome.batch_ids)
            finally:
                await other.close()

        asyncio.run(run())

    def between_parts(step: SubmitProgress) -> None:
        if step.part == 2 and step.batch_id is None:  # part 1 created, part 2 not read yet
            worker = threading.Thread(target=second_submit)
            worker.start()
            worker.join()

    outcome = await first.submit(report, progress=between_parts)
    assert len(second_ids) == 2  # parts 2 and 3, sent by the second submit
    assert outcome.failed_parts == ()
    assert outcome.unresolved_parts == ()
    assert len(outcome.batch_ids) == 1
    assert [e.split(" was ")[0] for e in outcome.errors] == [
        f"part {i}: Part {i} of job {outcome.job_id}" for i in (2, 3)
    ]
    assert all("already created" in e for e in outcome.errors)
    assert emulator.stats.count("create") == 3  # each part once


async def test_submit_refuses_a_report_with_errors(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"custom_id": "a", "params": {}}\nnot json\n')
    service = make_service()
    report = await service.analyse(source, ImportOptions(format="jsonl"))
    assert report.errors
    with pytest.raises(UserError, match="error"):
        await service.submit(report)
    assert emulator.stats.count("create") == 0


async def test_retry_failed_end_to_end(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.set_rules(
        [
            Rule(pattern="-0000[0-2]$", outcome="errored", error_type="overloaded_error"),
            Rule(pattern="-0000[3]$", outcome="expired"),
            Rule(
                pattern="-0000[4]$",
                outcome="errored",
                error_type="invalid_request_error",
                error_message="bad",
            ),
        ]
    )
    service = make_service()
    outcome = await service.submit_requests(requests(10), label="orig")
    (parent,) = outcome.batch_ids
    emulator.advance(3600)
    await service.refresh()
    await service.wait_background()
    summary = service.result_summary([parent])
    assert summary.by_type[ResultType.ERRORED] == 4
    assert summary.by_type[ResultType.EXPIRED] == 1
    emulator.set_rules([])  # the retry succeeds
    retry = await service.retry_failed(parent)
    (child,) = retry.submitted.batch_ids
    assert retry.submitted.job_id == outcome.job_id
    assert retry.sent == 4
    view = service.batch(child)
    assert view is not None
    assert view.parent_batch_id == parent
    assert view.remote.request_counts.total == 4  # 3 overloaded + 1 expired, no invalid
    assert view.job_part == 2
    emulator.advance(3600)
    await service.refresh()
    await service.wait_background()
    # the job's merged results prefer the newest success per custom_id
    ids = service.resolve_ids(outcome.job_id)
    assert set(ids) == {parent, child}
    merged = service.result_summary(ids)
    assert merged.by_type.get(ResultType.SUCCEEDED) == 9
    assert merged.by_type.get(ResultType.ERRORED) == 1
    # include_invalid resends the invalid one too
    again = await service.retry_failed(parent, include_invalid=True)
    view = service.batch(again.submitted.batch_ids[0])
    assert view is not None
    assert view.remote.request_counts.total == 5


async def test_retry_announces_what_it_sends_and_leaves_out_what_would_fail_again(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The plan counts the requests a retry sends; errors that a resend meets again
    (invalid_request_error, not_found_error) are left out unless asked for."""
    emulator.set_rules(
        [
            Rule(pattern="-0000[0-1]$", outcome="errored", error_type="overloaded_error"),
            Rule(pattern="-0000[2]$", outcome="expired"),
            Rule(pattern="-0000[3]$", outcome="errored", error_type="invalid_request_error"),
            Rule(pattern="-0000[4-5]$", outcome="errored", error_type="not_found_error"),
        ]
    )
    service = make_service()
    outcome = await service.submit_requests(requests(10))
    (parent,) = outcome.batch_ids
    emulator.advance(3600)
    await service.refresh()
    view = service.batch(parent)
    assert view is not None
    assert view.remote.request_counts.failed == 6
    assert view.remote.request_counts.has_errors
    plan = await service.retry_plan([parent])  # downloads the results to know
    assert plan.resend == 3
    assert plan.resend_by_type == {ResultType.ERRORED: 2, ResultType.EXPIRED: 1}
    assert plan.left_out == {"invalid_request_error": 1, "not_found_error": 2}
    assert plan.batch_ids == (parent,)
    sent = await service.retry_failed(parent)
    assert sent.sent == plan.resend == 3
    child = service.batch(sent.submitted.batch_ids[0])
    assert child is not None
    assert child.remote.request_counts.total == 3  # the number announced is the number sent
    every = await service.retry_plan([parent], include_invalid=True)
    assert every.resend == 6
    assert not every.left_out
    again = await service.retry_failed(parent, include_invalid=True)
    assert again.sent == 6


async def test_retry_of_only_hopeless_requests_says_why(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.set_rules([Rule(pattern=".", outcome="errored", error_type="invalid_request_error")])
    service = make_service()
    outcome = await service.submit_requests(requests(2))
    emulator.advance(3600)
    await service.refresh()
    (parent,) = outcome.batch_ids
    plan = await service.retry_plan([parent])
    assert plan.resend == 0
    assert plan.batch_ids == ()
    assert plan.left_out_total == 2
    with pytest.raises(UserError, match="would fail the same way again"):
        await service.retry_failed(parent)
    assert (await service.retry_failed(parent, include_invalid=True)).sent == 2


async def test_retry_rules(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 0.001
    service = make_service()
    outcome = await service.submit_requests(requests(2))
    with pytest.raises(Conflict, match="not ended"):
        await service.retry_failed(outcome.batch_ids[0])
    emulator.config.rate = None
    other = await service.submit_requests(requests(2, prefix="ok"))
    emulator.advance(60)
    await service.refresh()
    with pytest.raises(UserError, match="Nothing to retry"):
        await service.retry_failed(other.batch_ids[0])
    with pytest.raises(NotFound):
        await service.retry_failed("msgbatch_unknown")


async def test_cancel_delete_label_rules(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 0.001
    service = make_service()
    outcome = await service.submit_requests(requests(3))
    (bid,) = outcome.batch_ids
    with pytest.raises(Conflict, match="cancel it"):
        await service.delete(bid)
    view = await service.cancel(bid)
    assert view.remote.processing_status is ProcessingStatus.CANCELING
    assert view.remote.cancel_initiated_at is not None
    emulator.advance(600)
    await service.refresh()
    await service.wait_background()
    ended = service.batch(bid)
    assert ended is not None
    assert ended.remote.processing_status is ProcessingStatus.ENDED
    assert ended.remote.request_counts.canceled == 3
    with pytest.raises(Conflict, match="already ended"):
        await service.cancel(bid)
    service.set_label(bid, "  keep me  ")
    assert service.batch(bid).label == "keep me"  # type: ignore[union-attr]
    service.set_label(bid, "")
    assert service.batch(bid).label is None  # type: ignore[union-attr]
    await service.delete(bid)
    gone = service.batch(bid)
    assert gone is not None
    assert gone.deleted
    with pytest.raises(NotFound):
        await service.cancel("msgbatch_doesnotexist")
    with pytest.raises(NotFound):
        service.set_label("msgbatch_doesnotexist", "x")


async def test_store_reads_work_without_a_key(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    service = BatchService(store, Settings(), api_key="")
    try:
        assert not service.has_api_key
        assert service.batches() == []
        assert service.jobs() == []
        with pytest.raises(ApiError) as info:
            await service.refresh()
        assert info.value.kind == "auth"
        assert str(info.value) == "No API key: set ANTHROPIC_API_KEY or run batchtop --demo."
        with pytest.raises(ApiError):
            await service.submit_requests(requests(1))
    finally:
        await service.close()
        store.close()


async def test_models_from_api_with_fallback(emulator: EmulatorHandle, tmp_path: Path) -> None:
    service = new_service(emulator, tmp_path / STORE_FILE)
    try:
        models = await service.models()
        assert "claude-haiku-4-5" in " ".join(models)
    finally:
        await service.close()
    store = Store.open(tmp_path / "other.sqlite3")
    offline = BatchService(
        store, Settings(max_retries=0), api_key="k", base_url="http://127.0.0.1:9"
    )
    try:
        fallback = await offline.models()
        assert "claude-haiku-4-5-20251001" in fallback  # the built-in catalogue
    finally:
        await offline.close()
        store.close()


async def test_eta_and_progress(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 1.0  # one request per emulated second, live counters
    service = make_service()
    outcome = await service.submit_requests(requests(100))
    (bid,) = outcome.batch_ids
    assert service.eta(bid) is None  # no progress observed yet
    emulator.advance(25)
    await service.refresh()
    by_count, by_time = service.progress(bid)
    assert 0.2 <= by_count <= 0.3
    assert by_time == pytest.approx(25 / 86400, rel=0.05)
    eta = service.eta(bid)
    assert eta is not None
    expected = emulator.clock.now() + timedelta(seconds=75)
    assert abs((eta - expected).total_seconds()) < 10
    emulator.advance(200)
    await service.refresh()
    assert service.eta(bid) is None
    assert service.progress(bid)[0] == 1.0


async def test_retry_resends_refusals_and_max_tokens_cuts_when_asked(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    """Refusals and max_tokens cuts are resent only when asked for, the cuts with the new
    max_tokens (a cut whose own max_tokens is already that high is left out and counted);
    the number announced is the number sent."""
    emulator.set_rules(
        [
            Rule(pattern="^refused-", stop_reason="refusal"),
            Rule(pattern="^busy-", outcome="errored", error_type="overloaded_error"),
            Rule(pattern="^roomy-", stop_reason="max_tokens"),
        ]
    )
    batch = requests(1, prefix="busy") + requests(2, prefix="refused") + requests(1, prefix="ok")
    cuts = requests(2, prefix="cut")  # max_tokens 1: the reply is cut by the model's budget
    for cut in cuts:
        cut["params"]["max_tokens"] = 1
    roomy = requests(1, prefix="roomy")  # cut (by rule) although its max_tokens is 2,000
    roomy[0]["params"]["max_tokens"] = 2000
    service = make_service()
    outcome = await service.submit_requests(batch + cuts + roomy)
    (parent,) = outcome.batch_ids
    emulator.advance(3600)
    await service.refresh()
    plain = await service.retry_plan([parent])
    assert plain.resend == 1
    assert plain.stops_seen == {"refusal": 2, "max_tokens": 3}
    plan = await service.retry_plan([parent], refusals=True, max_tokens=1000)
    assert plan.resend == 5
    assert plan.resend_by_type == {ResultType.ERRORED: 1}
    assert plan.resend_by_stop == {"refusal": 2, "max_tokens": 2}
    assert plan.not_raised == 1
    emulator.set_rules([])
    sent = await service.retry_failed(parent, refusals=True, max_tokens=1000)
    assert sent.sent == plan.resend == 5
    (child,) = sent.submitted.batch_ids
    view = service.batch(child)
    assert view is not None
    assert view.remote.request_counts.total == 5
    emulator.advance(3600)
    await service.refresh()
    await service.download_results(child)
    rows = service.results_page([child], ResultFilter(), 0, 10).rows
    cut_rows = [r for r in rows if r.custom_id.startswith("cut-")]
    assert sorted(r.custom_id for r in cut_rows) == ["cut-00000", "cut-00001"]
    assert {r.stop_reason for r in cut_rows} == {"end_turn"}  # resent with room to finish
    only_refusals = await service.retry_plan([parent], refusals=True)
    assert only_refusals.resend == 3
    with pytest.raises(UserError, match="maximum output"):
        await service.retry_plan([parent], max_tokens=10_000_000)
    with pytest.raises(UserError, match="positive whole number"):
        await service.retry_plan([parent], max_tokens=0)
    not_raised = await service.retry_plan([parent], max_tokens=1)
    assert (not_raised.resend, not_raised.not_raised) == (1, 3)  # only the overloaded one


async def test_betas_are_sent_on_create_recorded_with_the_job_and_kept_by_a_retry(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    emulator.set_rules([Rule(pattern="-00000$", outcome="errored", error_type="overloaded_error")])
    service = make_service()
    outcome = await service.submit_requests(requests(2), betas=["files-api-2025-04-14"])
    (parent,) = outcome.batch_ids
    assert outcome.betas == ("files-api-2025-04-14",)
    assert emulator.betas(parent) == ("files-api-2025-04-14",)
    view = service.batch(parent)
    assert view is not None
    assert view.betas == ("files-api-2025-04-14",)
    emulator.advance(3600)
    await service.refresh()
    emulator.set_rules([])
    retry = await service.retry_failed(parent)
    (child,) = retry.submitted.batch_ids
    assert emulator.betas(child) == ("files-api-2025-04-14",)  # created as its job was
    with pytest.raises(UserError, match="not an anthropic-beta name"):
        await service.submit_requests(requests(1, prefix="x"), betas=["a,b"])

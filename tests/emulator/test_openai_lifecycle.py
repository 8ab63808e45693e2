"""OpenAI emulator: statuses and timestamps on the controllable clock, live counters,
finalizing, expiry with its error file, cancel during validating, and restart safety."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchtop.core.emulator import EmulatorHandle, Rule

from .openai_support import api_status, chat_lines, read_lines, sdk, submit


def test_statuses_and_timestamps_follow_the_clock(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    emu = emulator_factory(rate=1.0, start_delay_s=10.0, finalize_delay_s=30.0, api="openai")
    with sdk(emu) as oai:
        batch = submit(oai, chat_lines(4))
        t0 = batch.created_at
        assert oai.batches.retrieve(batch.id).status == "validating"
        emu.advance(10)
        running = oai.batches.retrieve(batch.id)
        assert running.status == "in_progress"
        assert running.in_progress_at == t0 + 10
        assert running.request_counts.model_dump() == {"total": 4, "completed": 0, "failed": 0}
        emu.advance(2)
        assert oai.batches.retrieve(batch.id).request_counts.completed == 2  # live counters
        emu.advance(2)
        finalizing = oai.batches.retrieve(batch.id)
        assert finalizing.status == "finalizing"
        assert finalizing.finalizing_at == t0 + 14
        assert finalizing.output_file_id is None  # files exist once the batch completed
        emu.advance(30)
        done = oai.batches.retrieve(batch.id)
        assert done.status == "completed"
        assert (done.in_progress_at, done.finalizing_at, done.completed_at) == (
            t0 + 10,
            t0 + 14,
            t0 + 44,
        )
        assert done.failed_at is done.expired_at is done.cancelled_at is None
        assert oai.files.retrieve(done.output_file_id).created_at == t0 + 44


def test_at_end_counters_stay_zero_until_the_end(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    emu = emulator_factory(rate=1.0, counters="at-end", api="openai")
    with sdk(emu) as oai:
        batch = submit(oai, chat_lines(4))
        emu.advance(2)
        counts = oai.batches.retrieve(batch.id).request_counts
        assert (counts.total, counts.completed) == (4, 0)
        emu.advance(2)
        assert oai.batches.retrieve(batch.id).request_counts.completed == 4


def test_expiry_writes_unfinished_requests_to_the_error_file(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    emu = emulator_factory(rate=1.0, api="openai")
    emu.set_rules([Rule(r"^req-2$", outcome="expired")])
    with sdk(emu) as oai:
        batch = submit(oai, chat_lines(4))
        emu.advance(23 * 3600)
        assert oai.batches.retrieve(batch.id).status == "in_progress"
        emu.advance(3600)
        expired = oai.batches.retrieve(batch.id)
        assert expired.status == "expired"
        assert expired.expired_at == batch.expires_at == batch.created_at + 86_400
        assert expired.completed_at is None
        assert expired.request_counts.model_dump() == {"total": 4, "completed": 3, "failed": 0}
        assert len(read_lines(oai, expired.output_file_id)) == 3
        (line,) = read_lines(oai, expired.error_file_id)
        assert line["custom_id"] == "req-2"
        assert line["response"] is None
        assert line["error"]["code"] == "batch_expired"


def test_cancel_while_validating(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    emu = emulator_factory(start_delay_s=60.0, api="openai")
    with sdk(emu) as oai:
        batch = submit(oai, chat_lines(3))
        assert oai.batches.cancel(batch.id).status == "cancelling"
        emu.advance(60)
        cancelled = oai.batches.retrieve(batch.id)
        assert cancelled.status == "cancelled"
        assert cancelled.in_progress_at is None
        assert cancelled.output_file_id is None
        assert cancelled.request_counts.completed == 0


def test_errored_rule_goes_to_the_error_file(oai: Any, openai_emulator: EmulatorHandle) -> None:
    openai_emulator.set_rules(
        [Rule(r"-1$", outcome="errored", error_type="rate_limit_error", error_message="slow")]
    )
    batch = submit(oai, chat_lines(3))
    openai_emulator.advance(5)
    done = oai.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 3, "completed": 2, "failed": 1}
    (line,) = read_lines(oai, done.error_file_id)
    assert line["custom_id"] == "req-1"
    assert line["error"] is None
    assert line["response"]["status_code"] == 429
    assert line["response"]["body"]["error"]["message"] == "slow"


def test_state_survives_a_restart(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Any
) -> None:
    db = tmp_path / "oai.sqlite3"
    first = emulator_factory(db_path=db, api="openai")
    with sdk(first) as oai:
        batch = submit(oai, chat_lines(2))
        first.advance(5)
        output = oai.batches.retrieve(batch.id).output_file_id
        content = oai.files.content(output).content
    first.stop()
    second = emulator_factory(db_path=db, api="openai")
    with sdk(second) as oai:
        assert oai.batches.retrieve(batch.id).status == "completed"
        assert oai.files.content(output).content == content


def _rows(emu: EmulatorHandle, sql: str) -> int:
    db: Any = emu.server.state._db
    return int(emu.call(lambda: db.execute(sql).fetchone()[0]))


def test_an_ended_batch_keeps_its_replies_once_in_its_files(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    """Once the output and error files are written its request rows are dropped (an
    emulator open for hours, the demo's, kept every reply twice): the files, counts and
    usage are all the API shows of an ended batch."""
    emu = emulator_factory(rate=1.0, api="openai")
    emu.set_rules([Rule(r"^req-1$", outcome="errored", error_type="api_error")])
    with sdk(emu) as oai:
        batch = submit(oai, chat_lines(4))
        emu.advance(2)
        assert oai.batches.retrieve(batch.id).request_counts.completed == 1  # live
        assert _rows(emu, "SELECT count(*) FROM oai_requests") == 4
        emu.advance(2)
        done = oai.batches.retrieve(batch.id)
        assert done.status == "completed"
        assert _rows(emu, "SELECT count(*) FROM oai_requests") == 0
        again = oai.batches.retrieve(batch.id)
        assert again.request_counts.model_dump() == {"total": 4, "completed": 3, "failed": 1}
        assert again.usage == done.usage
        assert len(read_lines(oai, done.output_file_id)) == 3
        assert [line["custom_id"] for line in read_lines(oai, done.error_file_id)] == ["req-1"]


def test_retire_expires_an_ended_batchs_files_now(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    """What the demo does with an arrival it keeps no longer: the files' expiry, today. The
    batch stays listed."""
    emu = emulator_factory(rate=1.0, api="openai")
    with sdk(emu) as oai:
        batch = submit(oai, chat_lines(2))
        assert not emu.retire(batch.id)  # still running
        emu.advance(2)
        done = oai.batches.retrieve(batch.id)
        assert done.status == "completed"
        assert emu.retire(batch.id)
        for file_id in (done.input_file_id, done.output_file_id):
            with api_status(404):
                oai.files.retrieve(file_id)
        assert _rows(emu, "SELECT count(*) FROM oai_files WHERE length(content) > 0") == 0
        assert [b.id for b in oai.batches.list()] == [batch.id]
        assert oai.batches.retrieve(batch.id).status == "completed"
        assert not emu.retire("batch_unknown")

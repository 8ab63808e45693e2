"""OpenAI emulator: injected faults as the `openai` SDK's retry logic meets them, the error
envelope on the wire, and the strict shapes of its objects."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from batchtop.core.emulator import EmulatorHandle, Rule
from waiting import wait_until

from .openai_support import api_status, chat_line, chat_lines, sdk, submit, upload


def test_429_with_retry_after_is_retried_by_the_sdk(openai_emulator: EmulatorHandle) -> None:
    openai_emulator.set_faults(rate_429=1.0, retry_after_s=0.01)
    with sdk(openai_emulator, max_retries=2) as oai, api_status(429) as info:
        oai.batches.list()
    assert info.value.response.headers["retry-after"] == "0.01"
    assert info.value.response.json()["error"]["code"] == "rate_limit_exceeded"
    assert openai_emulator.stats.count("list", 429) == 3  # the first try and two retries
    openai_emulator.clear_faults()
    with sdk(openai_emulator) as oai:
        assert oai.batches.list().data == []


def test_500_and_overload_are_retried(openai_emulator: EmulatorHandle) -> None:
    openai_emulator.set_faults(rate_500=1.0, retry_after_s=0.01, retry_after_all=True)
    with sdk(openai_emulator, max_retries=1) as oai, api_status(500):
        oai.files.list()
    assert openai_emulator.stats.count("file_list", 500) == 2
    openai_emulator.set_faults(rate_500=0.0, rate_529=1.0)
    with sdk(openai_emulator, max_retries=1) as oai, api_status(503) as info:
        oai.files.list()
    assert info.value.response.json()["error"]["type"] == "server_error"
    assert openai_emulator.stats.count("file_list", 503) == 2


def test_half_the_calls_failing_still_get_through(openai_emulator: EmulatorHandle) -> None:
    openai_emulator.set_faults(rate_429=0.5, retry_after_s=0.01, seed=7)
    with sdk(openai_emulator, max_retries=8) as oai:
        batch = submit(oai, chat_lines(2))
        openai_emulator.advance(5)
        assert oai.batches.retrieve(batch.id).status == "completed"
    assert openai_emulator.stats.count(status=429) > 0


def test_cut_download_is_retried_then_raises(openai_emulator: EmulatorHandle) -> None:
    """A content download cut mid-body is a connection error to the SDK (Content-Length tells
    it the body is short): it retries, and raises once its retries are spent."""
    with sdk(openai_emulator, max_retries=2) as oai:
        file = upload(oai, chat_lines(20))
        whole = oai.files.content(file.id).content
        openai_emulator.set_faults(cut_results_after_bytes=100)
        with pytest.raises(Exception):  # noqa: B017, PT011 (which class is the SDK's business)
            oai.files.content(file.id)
        # the whole download, the cut one and its two retries (the server counts a cut
        # answer a moment after the client saw the connection close)
        wait_until(lambda: openai_emulator.stats.count("file_content") == 4, timeout=10)
        openai_emulator.clear_faults()
        assert oai.files.content(file.id).content == whole


def test_transient_404_after_create(openai_emulator: EmulatorHandle) -> None:
    openai_emulator.set_faults(transient_404_s=2.0)
    with sdk(openai_emulator) as oai:
        batch = submit(oai, chat_lines(1))
        with api_status(404):
            oai.batches.retrieve(batch.id)
        openai_emulator.advance(2)
        assert oai.batches.retrieve(batch.id).id == batch.id


def test_transient_404_of_a_new_output_file(openai_emulator: EmulatorHandle) -> None:
    """As a new batch's results on the Anthropic emulator: a batch's output file answers 404
    for `transient_404_s` after it was written, then its content."""
    with sdk(openai_emulator) as oai:
        submit(oai, chat_lines(1))
        openai_emulator.set_faults(transient_404_s=2.0)
        openai_emulator.advance(1)  # the request is done 10 ms in: the batch has ended
        (batch,) = oai.batches.list().data  # (retrieve 404s too, 2 s from its creation)
        assert batch.status == "completed"
        assert batch.output_file_id is not None
        with api_status(404):
            oai.files.content(batch.output_file_id)
        assert oai.files.content(batch.input_file_id).content  # an input file: no 404
        openai_emulator.advance(2)
        assert oai.files.content(batch.output_file_id).content.count(b"\n") == 1


def test_wire_shapes_validate_strictly(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    """The SDK builds objects without validating them; the raw JSON of every status must
    validate against its types."""
    from openai.types import Batch, FileObject

    emu = emulator_factory(rate=1.0, start_delay_s=5.0, finalize_delay_s=5.0, api="openai")
    emu.set_rules([Rule("^slow-", outcome="expired")])
    seen: set[str] = set()
    with sdk(emu) as oai:

        def check(batch_id: str) -> dict[str, Any]:
            raw = oai.batches.with_raw_response.retrieve(batch_id).http_response.json()
            seen.add(Batch.model_validate(raw).status)
            return raw

        done = submit(oai, chat_lines(2), metadata={"a": "b"}).id
        failed = submit(oai, b"{not json\n").id
        cancelled = submit(oai, chat_lines(3)).id
        expired = submit(oai, [chat_line("slow-1")]).id
        check(done)  # validating
        emu.advance(5.5)
        check(done)  # in_progress
        oai.batches.cancel(cancelled)
        check(cancelled)  # cancelling
        emu.advance(2)
        check(done)  # finalizing
        emu.advance(10)
        raw = check(done)
        for batch_id in (failed, cancelled):
            check(batch_id)
        emu.advance(86_400)
        check(expired)
        file_raw = oai.files.with_raw_response.retrieve(raw["output_file_id"]).http_response
        assert FileObject.model_validate(file_raw.json()).purpose == "batch_output"
    assert seen == {
        "validating",
        "in_progress",
        "cancelling",
        "finalizing",
        "completed",
        "failed",
        "cancelled",
        "expired",
    }


def test_unknown_route_and_missing_key(openai_emulator: EmulatorHandle) -> None:
    base = openai_emulator.base_url
    nokey = httpx2.get(base + "/batches")
    assert nokey.status_code == 401
    assert set(nokey.json()["error"]) == {"message", "type", "param", "code"}
    unknown = httpx2.get(base + "/nowhere", headers={"authorization": "Bearer k"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (GET /v1/nowhere)"
    assert unknown.headers["x-request-id"].startswith("req_")


def test_cli_api_openai_prints_the_sdk_base_url(tmp_path: Any) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchtop.tui.cli", "emulator", "--api", "openai", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1")
        from openai import OpenAI

        with OpenAI(api_key="k", base_url=base_url, max_retries=0) as oai:
            batch = submit(oai, chat_lines(1))
            assert oai.batches.retrieve(batch.id).id == batch.id
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None
        assert b"OPENAI_BASE_URL" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_defaults_follow_the_api() -> None:
    import argparse

    from batchtop.core.emulator.cli import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).api == "anthropic"
    assert config_from_args(parser.parse_args([])).counters == "at-end"
    openai = config_from_args(parser.parse_args(["--api", "openai", "--finalize-delay", "3"]))
    assert (openai.counters, openai.finalize_delay_s) == ("live", 3.0)


def test_slow_create_arrives_before_the_batch_exists(openai_emulator: EmulatorHandle) -> None:
    """`create_latency_s`: the create has reached the server, the batch is made later (a
    client that gives up meanwhile cannot know) — the same fault as the Anthropic one."""
    import threading

    openai_emulator.set_faults(create_latency_s=600)
    with sdk(openai_emulator) as oai:
        file = upload(oai, chat_lines(1))
        made: list[Any] = []
        creating = threading.Thread(
            target=lambda: made.append(
                oai.batches.create(
                    input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
                )
            )
        )
        creating.start()
        # held at the gate (arrival is counted earlier, before the body is read: a release
        # sent then would find nothing to let go and the create would wait its 600 s)
        wait_until(
            lambda: openai_emulator.call(lambda: openai_emulator.server.held_creates) == 1,
            timeout=30,
        )
        assert openai_emulator.stats.arrivals("create") == 1
        assert oai.batches.list().data == []
        openai_emulator.call(openai_emulator.server.release_slow_creates)
        creating.join(timeout=30)
        assert [b.id for b in oai.batches.list()] == [made[0].id]

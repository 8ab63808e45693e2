"""`Fleet`: both providers' batches as one, each action routed to the service that owns the
batch; against the Anthropic and the OpenAI emulators as real servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.fleet import Fleet, covered_providers, shown_providers
from batchtop.core.models import Event, ImportOptions, RefreshDone, RefreshFailed
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from service_support import FakeSleep, new_service

pytest.importorskip("openai")

SETTINGS = Settings(max_retries=0, request_timeout_s=10.0)


def openai_service(emulator: EmulatorHandle, path: Path) -> BatchService:
    return new_service(emulator, path, provider="openai")


def anthropic_service(emulator: EmulatorHandle, path: Path) -> BatchService:
    return new_service(emulator, path)


def chat_file(path: Path, n: int) -> Path:
    lines = [
        {
            "custom_id": f"q-{i:03d}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Q {i}"}]},
        }
        for i in range(n)
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def anthropic_requests(n: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"a-{i:03d}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": f"A {i}"}],
            },
        }
        for i in range(n)
    ]


async def test_fleet_over_both_emulators(
    emulator: EmulatorHandle, openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    from openai import AsyncOpenAI

    anthropic = anthropic_service(emulator, tmp_path / "a.sqlite3")
    openai = openai_service(openai_emulator, tmp_path / "o.sqlite3")
    fleet = Fleet([anthropic, openai])
    events: list[Event] = []
    fleet.subscribe(events.append)
    try:
        (a_id,) = (await anthropic.submit_requests(anthropic_requests(5), name="a")).batch_ids
        report = await openai.analyse(chat_file(tmp_path / "q.jsonl", 7), ImportOptions())
        (o_id,) = (await openai.submit(report)).batch_ids
        # another client's batch, known only after a refresh
        other = anthropic_service(emulator, tmp_path / "b.sqlite3")
        (elsewhere,) = (await other.submit_requests(anthropic_requests(2), name="x")).batch_ids
        await other.close()

        done = await fleet.refresh()
        rows = fleet.batches()
        assert {b.id for b in rows} == {a_id, o_id, elsewhere}
        assert {b.id: b.remote.provider for b in rows} == {
            a_id: "anthropic",
            o_id: "openai",
            elsewhere: "anthropic",
        }
        times = [(b.remote.created_at, b.id) for b in rows]
        assert times == sorted(times, reverse=True)  # one order over both stores
        newest, total, active, _seen = fleet.newest_batches(2)
        assert [b.id for b in newest] == [b.id for b in rows[:2]]
        assert (total, active) == (3, 3)
        # the counters of both providers, in the result and in the event
        assert done.total == 3
        assert done.api_calls_total == anthropic.api_calls + openai.api_calls
        assert openai.api_calls > 0
        assert anthropic.api_calls > 0
        dones = [e for e in events if isinstance(e, RefreshDone)]
        assert dones
        assert dones[-1].total == 3
        assert dones[-1].api_calls_total == fleet.api_calls

        # routing: the service whose store holds the batch
        assert fleet.service_for(o_id) is openai
        assert fleet.service_for(a_id) is anthropic
        assert fleet.service_for(elsewhere) is anthropic
        assert fleet.batch(o_id) is not None
        assert fleet.batch(o_id).remote.provider == "openai"
        (o_job,) = openai.jobs()
        (a_job,) = anthropic.jobs()
        assert {j.id for j in fleet.jobs()} == {o_job.id, a_job.id}
        assert fleet.service_for_job(o_job.id) is openai
        assert fleet.service_for_job(a_job.id) is anthropic

        # a cancel through the owner reaches the OpenAI emulator
        await fleet.service_for(o_id).cancel(o_id)
        async with AsyncOpenAI(api_key="k", base_url=openai_emulator.base_url) as client:
            seen = await client.batches.retrieve(o_id)
        assert seen.status in ("cancelling", "cancelled")
        assert fleet.batch(a_id).remote.is_active  # type: ignore[union-attr]
    finally:
        await fleet.close()


async def test_a_failing_provider_is_named_and_the_other_refreshes(
    emulator: EmulatorHandle, openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    anthropic = anthropic_service(emulator, tmp_path / "a.sqlite3")
    broken = BatchService(
        Store.open(tmp_path / "o.sqlite3"),
        SETTINGS,
        api_key="test-key",
        base_url="http://127.0.0.1:9/v1",  # nothing listens there
        now=openai_emulator.clock.now,
        sleep=FakeSleep(),
        provider="openai",
    )
    broken._owns_store = True
    fleet = Fleet([anthropic, broken])
    events: list[Event] = []
    fleet.subscribe(events.append)
    try:
        await anthropic.submit_requests(anthropic_requests(3), name="a")
        done = await fleet.refresh()
        assert done.total == 1
        failures = [e for e in events if isinstance(e, RefreshFailed)]
        assert failures
        assert failures[-1].message.startswith("OpenAI: ")
    finally:
        await fleet.close()


def test_shown_providers_follow_the_keys() -> None:
    both = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    assert shown_providers("anthropic", None, both).providers == ("anthropic", "openai")
    assert shown_providers("openai", None, both).providers == ("openai", "anthropic")
    assert shown_providers("anthropic", None, {"OPENAI_API_KEY": "o"}).providers == ("openai",)
    assert shown_providers("anthropic", "anthropic", both).providers == ("anthropic",)
    assert shown_providers("anthropic", None, {}).providers == ()


def test_a_command_covers_the_providers_with_a_key_else_the_configured_one() -> None:
    """`ls`, `show`, … without `--provider`: every provider with a key, as the dashboard;
    with no key at all, the configured provider's local store (read offline)."""
    both = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    assert covered_providers("anthropic", None, both).providers == ("anthropic", "openai")
    assert covered_providers("anthropic", None, {"OPENAI_API_KEY": "o"}).providers == ("openai",)
    assert covered_providers("openai", None, {}).providers == ("openai",)
    assert covered_providers("anthropic", "openai", {}).providers == ("openai",)
    # no key: every provider with a local store, the configured one first
    stored = {"anthropic", "openai"}.__contains__
    assert covered_providers("openai", None, {}, stored).providers == ("openai", "anthropic")
    assert covered_providers("anthropic", None, {}, {"openai"}.__contains__).providers == (
        "openai",
    )
    assert covered_providers("anthropic", None, {"OPENAI_API_KEY": "o"}, stored).providers == (
        "openai",
    )


async def test_an_id_no_store_knows_while_one_api_fails_names_each_provider(
    emulator: EmulatorHandle, openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """`Fleet.locate` of an id Anthropic does not know while OpenAI's API fails: the error
    says both, each by its provider (not the bare failure of one API)."""
    from batchtop.core.errors import BatchtopError, NotFound

    fleet = Fleet(
        [
            anthropic_service(emulator, tmp_path / "a.sqlite3"),
            openai_service(openai_emulator, tmp_path / "o.sqlite3"),
        ]
    )
    try:
        openai_emulator.set_faults(rate_500=1.0)
        with pytest.raises(BatchtopError) as failed:
            await fleet.locate("batch_nowhere")
        assert not isinstance(failed.value, NotFound)  # OpenAI could not say
        text = str(failed.value)
        assert text.startswith("No batch batch_nowhere is known to Anthropic; OpenAI: "), text
        openai_emulator.clear_faults()
        with pytest.raises(NotFound, match="known to Anthropic or OpenAI"):
            await fleet.locate("batch_nowhere")
    finally:
        await fleet.close()


async def test_the_openai_model_list_never_becomes_the_anthropic_catalogue(
    emulator: EmulatorHandle, openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Both services fetch their provider's model list at start; the process's model
    catalogue (the Anthropic checks and the default model read it) stays Anthropic's, in
    whichever order the fetches end: OpenAI's last made the default 'text-embedding-3-small'."""
    from batchtop.core import model_catalog

    anthropic = anthropic_service(emulator, tmp_path / "a.sqlite3")
    openai = openai_service(openai_emulator, tmp_path / "o.sqlite3")
    try:
        await anthropic.model_catalog(force=True)
        await openai.model_catalog(force=True)  # ends last
        default = Settings().resolved_default_model
        assert default.startswith("claude-"), default
        assert model_catalog.current().lookup("gpt-4o-mini") is None
    finally:
        await anthropic.close()
        await openai.close()
        model_catalog.set_current(None)

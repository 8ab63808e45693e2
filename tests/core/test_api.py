"""api.py: SDK → dataclass conversion, error classification, call counting (real emulator)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from batchtop.core.api import BatchApi, is_ambiguous, parse_retry_after
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from batchtop.core.errors import ApiError
from batchtop.core.models import ProcessingStatus
from data_factory import requests


def _api(emulator: EmulatorHandle, **kw: object) -> BatchApi:
    return BatchApi(api_key="test-key", base_url=emulator.base_url, max_retries=0, **kw)  # type: ignore[arg-type]


async def test_create_retrieve_list_convert_to_dataclasses(emulator: EmulatorHandle) -> None:
    api = _api(emulator)
    try:
        created = await api.create(requests(3))
        assert created.processing_status is ProcessingStatus.IN_PROGRESS
        assert created.request_counts.processing == 3
        assert created.created_at.tzinfo is not None
        assert created.expires_at - created.created_at == timedelta(hours=24)
        assert created.results_url is None
        again = await api.retrieve(created.id)
        assert again.id == created.id
        page = await api.list_page()
        assert page.batches == [again]  # orjson list parsing == SDK object conversion
        assert page.has_more is False
        assert api.calls == 3
        emulator.advance(60)
        ended = await api.retrieve(created.id)
        assert ended.processing_status is ProcessingStatus.ENDED
        assert ended.results_url
        assert (await api.list_page()).batches == [ended]
        body = b"".join([chunk async for chunk, _ in api.iter_results(created.id)])
        assert body.count(b"\n") == 3
    finally:
        await api.close()


async def test_errors_are_classified_in_one_line(emulator: EmulatorHandle) -> None:
    api = _api(emulator)
    try:
        with pytest.raises(ApiError) as info:
            await api.retrieve("msgbatch_missing")
        assert (info.value.kind, info.value.status) == ("invalid", 404)
        assert info.value.request_id
        assert "\n" not in str(info.value)
        emulator.set_faults(rate_429=1.0, retry_after_s=12)
        with pytest.raises(ApiError) as info:
            await api.list_page()
        assert (info.value.kind, info.value.retry_after_s) == ("rate_limited", 12.0)
        emulator.set_faults(rate_429=0.0, rate_529=1.0)
        with pytest.raises(ApiError) as info:
            await api.list_page()
        assert (info.value.kind, info.value.status) == ("server", 529)
        assert is_ambiguous(info.value)
        assert str(info.value).startswith("The API is overloaded (529)")
    finally:
        await api.close()


async def test_sdk_retries_are_counted(emulator: EmulatorHandle) -> None:
    api = BatchApi(api_key="k", base_url=emulator.base_url, max_retries=2)
    try:
        emulator.set_faults(rate_500=1.0, retry_after_s=0)
        with pytest.raises(ApiError):
            await api.list_page()
        assert api.calls == 3  # one call and two SDK retries
        # creates are never retried by the SDK (no idempotency key)
        with pytest.raises(ApiError):
            await api.create(requests(1))
        assert api.calls == 4
    finally:
        await api.close()


async def test_bad_key_offline_and_no_key() -> None:
    config = EmulatorConfig(api_keys=frozenset({"good"}))
    with run_in_thread(config, ManualClock(datetime(2026, 11, 25, tzinfo=UTC))) as emu:
        api = BatchApi(api_key="bad", base_url=emu.base_url, max_retries=0)
        try:
            with pytest.raises(ApiError) as info:
                await api.list_page()
            assert info.value.kind == "auth"
            assert str(info.value).startswith("The API key was rejected (401)")
        finally:
            await api.close()
    api = BatchApi(api_key="k", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(ApiError) as info:
        await api.list_page()
    assert info.value.kind == "offline"
    assert str(info.value) == "Cannot reach http://127.0.0.1:9: connection refused."
    await api.close()
    with pytest.raises(ApiError, match="No API key") as info:
        BatchApi(api_key=None).client()
    assert info.value.kind == "auth"
    assert "test-key" not in repr(BatchApi(api_key="test-key"))


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    delay = parse_retry_after({"retry-after": when})
    assert delay is not None
    assert 25 <= delay <= 31


def test_importing_the_service_does_not_import_the_sdk() -> None:
    code = (
        "import sys, batchtop.core.service, batchtop.core.poller, batchtop.core.api\n"
        "print('anthropic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_FIRST_IMPORT_THREAD = """
import asyncio, sys, threading

class Watch:
    thread = None
    def find_spec(self, name, path=None, target=None):
        if name == "anthropic" and Watch.thread is None:
            Watch.thread = threading.current_thread().name
        return None

sys.meta_path.insert(0, Watch())
from batchtop.core.api import BatchApi
from batchtop.core.errors import ApiError

async def main():
    api = BatchApi(api_key="k", base_url="http://127.0.0.1:9", max_retries=0)
    try:
        call, args = sys.argv[1], sys.argv[2:3]
        await getattr(api, call)(*[a.encode() if call == "create_raw" else a for a in args])
    except ApiError:
        pass
    finally:
        await api.close()
    print("main" if Watch.thread == threading.main_thread().name else "worker")

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("call", "arg"), [("create_raw", '{"requests": []}'), ("retrieve", "b1"), ("list_page", None)]
)
def test_the_sdk_loads_off_the_event_loop_whatever_the_first_call(
    call: str, arg: str | None
) -> None:
    """No front end warms the SDK up by hand: any first call imports it in a worker thread
    (the import takes seconds; on the loop it would freeze the dashboard)."""
    args = [call] if arg is None else [call, arg]
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_IMPORT_THREAD, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "worker", out.stderr

"""Refresh policy against the emulator: list-based refresh, backoff, idle, pause, events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import ApiError
from batchtop.core.models import BatchEnded, Event, RefreshDone, RefreshFailed
from batchtop.core.poller import backoff_delay
from data_factory import requests
from service_support import FakeSleep, ServiceFactory
from svc_helpers import create_remote_batches
from waiting import async_wait


async def test_thousand_active_batches_refresh_in_one_list_call(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 0.001  # keep them all in progress
    service = make_service()
    await create_remote_batches(service, 1000)
    emulator.stats.reset()
    started = time.perf_counter()
    done = await service.refresh()
    first = time.perf_counter() - started
    assert done.active == 1000
    assert emulator.stats.count("list") == 1
    assert emulator.stats.total == 1
    assert done.api_calls_last == 1
    assert len(service.batches("active")) == 1000
    # a second refresh, now with 1,000 active batches known locally: still one call
    emulator.stats.reset()
    started = time.perf_counter()
    done = await service.refresh()
    second = time.perf_counter() - started
    assert emulator.stats.total == 1
    assert done.api_calls_last == 1
    assert done.api_calls_total == 2
    print(f"\nrefresh of 1,000 active batches: first {first:.3f}s, second {second:.3f}s")


async def test_list_walks_pages_until_past_the_oldest_active(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 0.001
    service = make_service()
    service._api.page_limit = 2
    await create_remote_batches(service, 5)
    emulator.stats.reset()
    await service.refresh()  # the first sync walks the whole list: 3 pages
    assert len(service.batches()) == 5
    assert emulator.stats.count("list") == 3
    emulator.stats.reset()
    await service.refresh()  # oldest active is on page 3
    assert emulator.stats.count("list") == 3
    assert emulator.stats.count("retrieve") == 0
    # with a page cap, active batches beyond it are retrieved one by one
    service.poller.max_pages = 1
    emulator.stats.reset()
    await service.refresh()
    assert emulator.stats.count("list") == 1
    assert emulator.stats.count("retrieve") == 3


async def test_batch_ended_event_and_counts(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    events: list[Event] = []
    unsubscribe = service.subscribe(events.append)
    service.auto_download = False
    outcome = await service.submit_requests(requests(10))
    bid = outcome.batch_ids[0]
    await service.refresh()
    assert not any(isinstance(e, BatchEnded) for e in events)
    emulator.advance(60)
    done = await service.refresh()
    ended = [e for e in events if isinstance(e, BatchEnded)]
    assert [e.batch.id for e in ended] == [bid]
    assert ended[0].batch.remote.request_counts.succeeded == 10
    assert done.active == 0
    assert done.idle
    assert done.next_in_s == service.settings.idle_refresh_interval_s
    assert isinstance(events[-1], RefreshDone)
    unsubscribe()
    n = len(events)
    await service.refresh()
    assert len(events) == n


async def test_a_batch_another_process_saw_end_ends_here_too(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    """Another batchtop on the same data directory (`batchtop show` in another shell)
    stored a batch's end first: this one's refresh finds the API saying what the store
    already holds, yet the batch it knew as active ended here too (its notice, its
    download), once."""
    here, elsewhere = make_service(), make_service()  # one data directory
    events: list[Event] = []
    here.subscribe(events.append)
    here.auto_download = False
    bid = (await here.submit_requests(requests(3))).batch_ids[0]
    await here.refresh()
    emulator.advance(60)
    await elsewhere.refresh()  # stores the end
    await here.refresh()
    await here.refresh()
    assert [e.batch.id for e in events if isinstance(e, BatchEnded)] == [bid]


async def test_concurrent_refreshes_never_overlap(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    await create_remote_batches(service, 3)
    emulator.stats.reset()
    emulator.set_faults(latency_s=0.2)
    a, b, c = await asyncio.gather(service.refresh(), service.refresh(), service.refresh())
    assert emulator.stats.count("list") == 1
    assert a == b == c


@pytest.mark.parametrize(
    ("status", "kind"), [(429, "rate_limited"), (529, "server"), (500, "server")]
)
async def test_polling_backs_off_and_honours_retry_after(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path, status: int, kind: str
) -> None:
    emulator.config.rate = 0.001
    sleeper = FakeSleep()
    service = make_service(sleep=sleeper)
    service.poller._rng = lambda: 0.5  # jitter factor exactly 1.0
    events: list[Event] = []
    service.subscribe(events.append)

    def on_sleep(_delay: float) -> None:
        failures = [e for e in events if isinstance(e, RefreshFailed)]
        if len(failures) >= 4:
            emulator.clear_faults()
        if any(isinstance(e, RefreshDone) for e in events):
            service.stop_polling()

    sleeper.on_sleep = on_sleep
    await create_remote_batches(service, 1)
    field = {429: "rate_429", 529: "rate_529", 500: "rate_500"}[status]
    emulator.set_faults(**{field: 1.0, "retry_after_s": 7.0})
    await asyncio.wait_for(service.run_polling(), timeout=30)
    failures = [e for e in events if isinstance(e, RefreshFailed)]
    assert len(failures) == 4
    assert {f.kind for f in failures} == {kind}
    if status == 429:
        # retry-after (7 s) wins while the exponential delay is shorter, then 8 s, 16 s
        assert sleeper.delays[:4] == [7.0, 7.0, 8.0, 16.0]
    else:
        assert sleeper.delays[:4] == [2.0, 4.0, 8.0, 16.0]
    assert [f.retry_in_s for f in failures] == sleeper.delays[:4]
    # after recovery the normal interval resumes (something is still active)
    assert isinstance(events[-1], RefreshDone)
    assert sleeper.delays[4] == service.settings.refresh_interval_s
    assert service.poller.failures == 0


def test_backoff_delay_is_capped_and_jittered() -> None:
    assert backoff_delay(1, None, lambda: 0.0) == 1.5
    assert backoff_delay(1, None, lambda: 1.0) == 2.5
    assert backoff_delay(30, None, lambda: 0.5) == 300.0
    assert backoff_delay(1, 42.0, lambda: 0.5) == 42.0


async def test_idle_polls_slowly_and_wakes_on_submit(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    forever = asyncio.Event()
    delays: list[float] = []

    async def stuck_sleep(delay: float) -> None:  # only a wake ends this wait
        delays.append(delay)
        await forever.wait()

    service = make_service(sleep=stuck_sleep)
    events: list[Event] = []
    service.subscribe(events.append)
    task = asyncio.ensure_future(service.run_polling())
    await async_wait(lambda: sum(isinstance(e, RefreshDone) for e in events) >= 1)
    await async_wait(lambda: len(delays) == 1)
    assert delays == [120.0]  # nothing active: the idle interval
    done = next(e for e in events if isinstance(e, RefreshDone))
    assert done.idle
    assert done.next_in_s == 120.0
    service.auto_download = False
    await service.submit_requests(requests(3))  # wakes the poller at once
    await async_wait(lambda: len(delays) >= 2)
    assert delays[1] == 30.0
    service.stop_polling()
    await asyncio.wait_for(task, 10)


async def test_idle_dashboard_sees_another_clients_batch_without_a_manual_refresh(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Issue 14.1: nothing active, another client creates a batch: the timer finds it,
    switches to the active interval, and back to the idle one once it has ended."""
    emulator.config.rate = 1.0  # 2 requests: ended 2 emulated seconds after creation
    other = make_service(home=tmp_path / "other")
    delays: list[float] = []
    created: list[str] = []

    async def clock_sleep(delay: float) -> None:  # the emulator's clock stands in for time
        delays.append(delay)
        if len(delays) == 1:  # idle wait: it ends as another client submits a batch
            created.extend(await create_remote_batches(other, 1, size=2))
        else:
            emulator.advance(delay)

    service = make_service(sleep=clock_sleep, idle_refresh_interval_s=300.0)
    service.auto_download = False
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if len([e for e in events if isinstance(e, RefreshDone)]) >= 3:
            service.stop_polling()

    service.subscribe(on_event)
    await asyncio.wait_for(service.run_polling(), timeout=30)
    dones = [e for e in events if isinstance(e, RefreshDone)]
    assert [d.active for d in dones] == [0, 1, 0]
    assert [d.next_in_s for d in dones] == [300.0, 30.0, 300.0]
    assert [d.idle for d in dones] == [True, False, True]
    assert delays[:2] == [300.0, 30.0]
    assert [v.id for v in service.batches()] == created
    ended = [e.batch.id for e in events if isinstance(e, BatchEnded)]
    assert ended == created


def test_idle_interval_setting_has_a_floor_and_follows_the_active_one() -> None:
    from batchtop.core.config import Settings, settings_from_dict

    assert Settings().idle_refresh_interval_s == 120.0
    assert Settings(idle_refresh_interval_s=1.0).idle_refresh_interval_s == 5.0
    parsed = settings_from_dict({"idle_refresh_interval_s": 600})
    assert parsed.idle_refresh_interval_s == 600.0


async def test_pause_and_resume(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    sleeper = FakeSleep()
    service = make_service(sleep=sleeper)
    events: list[Event] = []
    service.subscribe(events.append)
    service.pause()
    assert service.paused
    task = asyncio.ensure_future(service.run_polling())
    # the poller went to its paused wait (an open-ended one: None) without refreshing
    await async_wait(lambda: None in service.poller.next_delays)
    assert not any(isinstance(e, RefreshDone) for e in events)
    # a manual refresh always works, even paused
    await service.refresh()
    assert sum(isinstance(e, RefreshDone) for e in events) == 1
    service.resume()
    await async_wait(lambda: sum(isinstance(e, RefreshDone) for e in events) >= 2)
    service.stop_polling()
    await asyncio.wait_for(task, 10)


async def test_auth_failure_stops_the_timer(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    sleeper = FakeSleep()
    service = make_service(sleep=sleeper)
    service._api._api_key = None
    events: list[Event] = []
    service.subscribe(events.append)
    task = asyncio.ensure_future(service.run_polling())
    await async_wait(lambda: any(isinstance(e, RefreshFailed) for e in events))
    failed = next(e for e in events if isinstance(e, RefreshFailed))
    assert failed.kind == "auth"
    assert failed.retry_in_s is None
    assert "ANTHROPIC_API_KEY" in failed.message
    with pytest.raises(ApiError):
        await service.refresh()
    service.stop_polling()
    await asyncio.wait_for(task, 10)


async def test_manual_refresh_ends_a_backoff(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 0.001
    forever = asyncio.Event()
    delays: list[float] = []

    async def stuck_sleep(delay: float) -> None:  # a long backoff that never ends by itself
        delays.append(delay)
        await forever.wait()

    service = make_service(sleep=stuck_sleep)
    events: list[Event] = []
    service.subscribe(events.append)
    await create_remote_batches(service, 1)
    emulator.set_faults(rate_529=1.0)
    task = asyncio.ensure_future(service.run_polling())
    await async_wait(lambda: len(delays) == 1)  # failed, now backing off
    assert any(isinstance(e, RefreshFailed) for e in events)
    emulator.clear_faults()
    await service.refresh()  # the user presses r
    await async_wait(lambda: len(delays) == 2)  # the loop woke, refreshed, re-armed
    assert delays[1] == service.settings.refresh_interval_s
    service.stop_polling()
    await asyncio.wait_for(task, 10)

"""API calls for one refresh of N active batches vs the classic one-retrieve-per-batch loop."""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from .. import util
from ..context import Context, remote_from_json

NAME = "refresh"
TITLE = "API calls for one refresh of N active batches"
METHOD = (
    "the emulator runs in-process (`run_in_thread`, ManualClock, a 1-hour start delay so"
    " every batch stays in progress) and its `stats` count the HTTP requests it served."
    " N one-request batches are created with raw HTTP; a fresh store is seeded with exactly"
    " those N batches as active and its listing marked complete (the steady state after the"
    " first sync). Subject: one `BatchService.refresh()`. Baseline: the classic loop, one"
    " `client.messages.batches.retrieve(id)` per batch with the sync SDK. Large workspace:"
    " a second emulator seeded through its state with 5,000 ended batches, the 101st oldest"
    " still in progress (4,899 newer ones); subject: the first sync of a fresh store (target"
    " ⌈5,000/1000⌉ list calls), then a refresh (target ⌈1/1000⌉ + one page of new ones), then"
    " a refresh after 1,500 more batches were created (target: the pages of new ones + the"
    " retrieve). OpenAI: the OpenAI emulator seeded through its state with N = 10, 1,000,"
    " 5,000 batches in progress; subject: a fresh store's first sync, then a refresh (target"
    " ⌈N/100⌉ list calls each, OpenAI's page size, and no retrieve). Calls are exact counts"
    " (one run each); times are reported for information."
)

ONE = [
    {
        "custom_id": "only",
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}],
        },
    }
]


def _create(base_url: str, count: int) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _i: util.create_batch(base_url, ONE), range(count)))


async def _refresh(store_path: Any, base_url: str, times: int = 1) -> list[int]:
    """`times` refreshes of one service; the API calls of each."""
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store

    store = Store.open(store_path)
    service = BatchService(
        store, Settings(max_retries=0), api_key=util.BENCH_KEY, base_url=base_url
    )
    calls: list[int] = []
    try:
        service.warm_up()
        for _ in range(times):
            calls.append((await service.refresh()).api_calls_last)
    finally:
        await service.close()
        store.close()
    return calls


def _large_workspace(ctx: Context) -> list[util.Measure]:
    """The first sync of 5,000 batches and the refreshes after it (issue 13.4)."""
    from batchtop.core.emulator import EmulatorConfig, ManualClock, run_in_thread

    clock = ManualClock(datetime.now(UTC))
    with run_in_thread(EmulatorConfig(counters="live"), clock) as emu:
        emu.seed_history(5_000, active=frozenset({100}))
        store_path = ctx.fresh_dir("refresh-history") / "store.sqlite3"
        t0 = time.perf_counter()
        first, steady = asyncio.run(_refresh(store_path, emu.base_url, times=2))
        first_s = time.perf_counter() - t0
        clock.advance(7200)
        emu.seed_history(1_500)
        (after_new,) = asyncio.run(_refresh(store_path, emu.base_url))
    ctx.log(f"  5,000 batches: first sync {first}, then {steady}, after 1,500 new {after_new}")
    return [
        util.Measure(
            NAME,
            "calls for the first sync of a 5,000-batch workspace",
            first,
            "calls",
            "5 (⌈5,000/1000⌉)",
            first <= 5,
            detail=f"{first_s * 1000:.0f} ms for both refreshes (incl. service setup)",
        ),
        util.Measure(
            NAME,
            "calls for a refresh of it (1 active batch 4,899 below the newest)",
            steady,
            "calls",
            "2 (⌈1/1000⌉ + 1 page)",
            steady <= 2,
            detail="the newest page + one retrieve: walking to the old batch costs 5",
        ),
        util.Measure(
            NAME,
            "calls for a refresh after 1,500 new batches",
            after_new,
            "calls",
            "3 (2 pages of new ones + 1)",
            after_new <= 3,
        ),
    ]


def run(ctx: Context) -> list[util.Measure]:
    import anthropic
    from batchtop.core.emulator import EmulatorConfig, ManualClock, run_in_thread
    from batchtop.core.store import Store

    sizes = [10, 1_000] if ctx.quick else [10, 1_000, 5_000]
    out: list[util.Measure] = []
    clock = ManualClock(datetime.now(UTC))
    config = EmulatorConfig(rate=1.0, start_delay_s=3600.0, counters="live")
    with run_in_thread(config, clock) as emu:
        client = anthropic.Anthropic(api_key=util.BENCH_KEY, base_url=emu.base_url, max_retries=0)
        batches: list[dict[str, Any]] = []
        for n in sizes:
            batches += _create(emu.base_url, n - len(batches))
            store_path = ctx.fresh_dir(f"refresh-{n}") / "store.sqlite3"
            store = Store.open(store_path)
            store.upsert_remote([remote_from_json(b) for b in batches], util.utcnow())
            store.set_listing(None, complete=True)
            assert len(store.list_batches(active_only=True)) == n
            store.close()
            before = emu.stats.total
            t0 = time.perf_counter()
            asyncio.run(_refresh(store_path, emu.base_url))
            subject_s = time.perf_counter() - t0
            calls = emu.stats.total - before
            before = emu.stats.total
            t0 = time.perf_counter()
            for b in batches:
                client.messages.batches.retrieve(b["id"])
            loop_s = time.perf_counter() - t0
            loop_calls = emu.stats.total - before
            want = math.ceil(n / 1000)
            out.append(
                util.Measure(
                    NAME,
                    f"calls for one refresh of {n:,} active batches",
                    calls,
                    "calls",
                    f"{want} (⌈N/1000⌉)",
                    calls <= want,
                    detail=(
                        f"classic loop {loop_calls:,} calls; refresh {subject_s * 1000:.0f} ms"
                        f" (incl. service setup) vs loop {loop_s * 1000:.0f} ms"
                    ),
                )
            )
            ctx.log(f"  N={n:,}: refresh {calls} calls, classic loop {loop_calls} calls")
        client.close()
    out += _large_workspace(ctx)
    out += _openai(ctx)
    return out


async def _openai_refreshes(store_path: Any, base_url: str, times: int) -> list[int]:
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store

    service = BatchService(
        Store.open(store_path),
        Settings(max_retries=0),
        api_key=util.BENCH_KEY,
        base_url=base_url,
        provider="openai",
    )
    service._owns_store = True
    try:
        return [(await service.refresh()).api_calls_last for _ in range(times)]
    finally:
        await service.close()


def openai_calls(ctx: Context, n: int) -> dict[str, int]:
    """A fresh store's first sync of `n` OpenAI batches in progress, then a refresh: the
    calls each refresh counted, and the list and retrieve calls the emulator answered."""
    from batchtop.core.emulator import EmulatorConfig, ManualClock, run_in_thread

    with run_in_thread(
        EmulatorConfig(counters="live"), ManualClock(datetime.now(UTC)), api="openai"
    ) as emu:
        emu.seed_history(n, active=frozenset(range(n)))  # in progress for 23 hours
        store_path = ctx.fresh_dir(f"refresh-openai-{n}") / "store.sqlite3"
        got: dict[str, int] = {}
        for name in ("first sync", "refresh"):
            emu.stats.reset()
            (got[name],) = asyncio.run(_openai_refreshes(store_path, emu.base_url, 1))
            got[f"{name} list"] = emu.stats.count("list", 200)
            got[f"{name} retrieve"] = emu.stats.count("retrieve")
    return got


def _openai(ctx: Context) -> list[util.Measure]:
    """OpenAI batches: N batches in progress (seeded through the emulator's state: one input
    file, no N uploads and creates), a fresh store's first sync and a refresh of it; list and
    retrieve calls counted by the emulator (issue 17: ⌈N/100⌉ list calls)."""
    try:
        import openai  # noqa: F401
        from batchtop.core.emulator.openai_api import server as _server  # noqa: F401
    except ImportError:
        ctx.log("  openai: the openai extra or the OpenAI emulator is missing: skipped")
        return []
    sizes = [10, 250] if ctx.tiny else [10, 1_000] if ctx.quick else [10, 1_000, 5_000]
    out: list[util.Measure] = []
    for n in sizes:
        t0 = time.perf_counter()
        got = openai_calls(ctx, n)
        took = time.perf_counter() - t0
        want = math.ceil(n / 100)
        ctx.log(f"  openai N={n:,}: {got}")
        for name in ("first sync", "refresh"):
            lists, retrieves = got[f"{name} list"], got[f"{name} retrieve"]
            out.append(
                util.Measure(
                    NAME,
                    f"OpenAI: list calls for the {name} of {n:,} batches in progress",
                    lists,
                    "calls",
                    f"{want} (⌈N/100⌉, OpenAI's page size), no retrieve",
                    lists <= want and retrieves == 0 and got[name] == lists,
                    detail=(
                        f"{retrieves:,} retrieves; {got[name]:,} calls counted by the refresh;"
                        f" {took * 1000:.0f} ms for both (incl. seeding)"
                    ),
                )
            )
    return out

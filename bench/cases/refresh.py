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
    " those N batches as active (the steady state after the first refresh). Subject: one"
    " `BatchService.refresh()`. Baseline: the classic loop, one"
    " `client.messages.batches.retrieve(id)` per batch with the sync SDK. Calls are exact"
    " counts (one run each); times are reported for information."
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


async def _refresh(store_path: Any, base_url: str) -> None:
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store

    store = Store.open(store_path)
    service = BatchService(
        store, Settings(max_retries=0), api_key=util.BENCH_KEY, base_url=base_url
    )
    try:
        service.warm_up()
        await service.refresh()
    finally:
        await service.close()
        store.close()


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
    return out

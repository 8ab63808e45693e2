"""Fault soak: submit and follow many batches to the end through an API that misbehaves.

The emulator answers about 20% of requests with 429 (with retry-after), 529 or 500, adds
latency, answers 404 for a while after each create, and cuts results streams mid-way (the
cut is re-rolled every time the service backs off, so downloads can eventually succeed).
Time is the emulator's ManualClock: the service's sleep advances it, so nothing really waits.

Checks: batches created == intended (no duplicate on the server, every server batch known
locally), results indexed == results produced, the event loop never froze, and the degraded
state was reported (RefreshFailed events; in the TUI, the status bar).

Short form by default; `-m soak` or BATCHTOP_SOAK=full runs 200 batches (and 40 in the TUI).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle, FaultConfig
from batchtop.core.errors import ApiError, BatchtopError
from batchtop.core.models import Event, IntentState, RefreshFailed
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import AdvancingSleep, LoopLag, server_custom_ids, soak_full
from waiting import async_wait

SERVICE_SIZES = [
    pytest.param(20, id="short"),
    pytest.param(200, id="full", marks=pytest.mark.soak),
]
TUI_SIZES = [
    pytest.param(8, id="short"),
    pytest.param(40, id="full", marks=pytest.mark.soak),
]
# Liveness, not performance: a frozen loop (sync work on it, a deadlock) blows far past these.
# CPU burned by the loop thread between two heartbeats is bounded tightly; wall-clock lag
# generously, because on a shared 2-core machine waiting for a CPU alone reached 1-2.5 s.
MAX_LOOP_BUSY_S = 1.0
MAX_LOOP_STALL_S = 5.0


def faults(seed: int) -> FaultConfig:
    return FaultConfig(
        rate_429=0.10,
        rate_529=0.05,
        rate_500=0.05,
        latency_s=0.001,
        retry_after_s=0.01,  # real seconds the SDK's own retry waits: keep the run fast
        retry_after_all=True,
        transient_404_s=45.0,
        cut_results_after_bytes=900,
        seed=seed,
    )


def soak_requests(k: int, size: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"s{k:03d}-{i:02d}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 32,
                "messages": [{"role": "user", "content": f"Soak request {i} of batch {k}"}],
            },
        }
        for i in range(size)
    ]


class Soak:
    """One soak run: a service on a faulty emulator, the intended batches and the figures."""

    def __init__(
        self, emulator: EmulatorHandle, tmp_path: Path, n: int, seed: int, pace_s: float = 0.0
    ) -> None:
        self.emulator = emulator
        self.n = n
        self.rng = random.Random(seed)
        self.sizes = [self.rng.randint(1, 12) for _ in range(n)]
        self.sleep = AdvancingSleep(emulator, on_sleep=self._reroll_cut, pace_s=pace_s)
        store = Store.open(tmp_path / "soak.sqlite3")
        self.service = BatchService(
            store,
            Settings(
                max_retries=0, request_timeout_s=10.0, refresh_interval_s=5.0, notify_bell=False
            ),
            api_key="test-key",
            base_url=emulator.base_url,
            now=emulator.clock.now,
            sleep=self.sleep,
        )
        self.store = store
        self.events: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.service.subscribe(self._on_event)
        self.submit_errors = 0
        self.manual_downloads = 0
        self.cuts_armed = 0

    def _reroll_cut(self, _delay: float) -> None:
        cut = self.rng.choice([None, None, 700, 2500])
        self.cuts_armed += cut is not None
        self.emulator.set_faults(cut_results_after_bytes=cut)

    def _on_event(self, event: Event) -> None:
        self.events[type(event).__name__] += 1
        if isinstance(event, RefreshFailed):
            self.failures[event.kind] += 1

    async def submit_all(self) -> None:
        """Submit every batch; a refused or ambiguous create is reconciled, then resent."""
        for k, size in enumerate(self.sizes):
            for _attempt in range(30):
                try:
                    await self.service.submit_requests(soak_requests(k, size), name=f"soak-{k}")
                    break
                except ApiError:
                    self.submit_errors += 1
                    await self._reconcile()
                    if self._created(k):
                        break  # reconcile found the batch that the failed call did create
            else:
                raise AssertionError(f"batch {k} could not be submitted in 30 attempts")

    def _created(self, k: int) -> bool:
        """Whether a batch of intended batch `k` is recorded (its job carries the name)."""
        for view in self.service.batches():
            job = self.service.job(view.job_id) if view.job_id else None
            if job is not None and job.name == f"soak-{k}":
                return True
        return False

    async def _reconcile(self) -> None:
        for _ in range(30):
            try:
                await self.service.reconcile()
                return
            except BatchtopError:
                await self.sleep(1.0)
        raise AssertionError("reconcile kept failing")

    async def run(self) -> None:
        """Submit everything while polling (as the TUI does), follow to the end, download all."""
        svc = self.service
        poll = asyncio.ensure_future(svc.run_polling())
        try:
            await self.submit_all()
            await self._wait_ended()
            await self.download_rest()
        finally:
            svc.stop_polling()
            await poll

    async def download_rest(self) -> None:
        """Automatic downloads give up after a few cut streams: retry those, like `watch`."""
        svc = self.service
        await svc.wait_background()
        for view in svc.batches():
            for _ in range(20):
                if (svc.batch(view.id) or view).results_downloaded:
                    break
                self.manual_downloads += 1
                try:
                    await svc.download_results(view.id)
                except BatchtopError:
                    await self.sleep(5.0)

    async def _wait_ended(self) -> None:
        svc = self.service
        await async_wait(
            lambda: len(svc.batches()) >= self.n and not svc.batches("active"),
            limit_s=120 if self.n > 50 else 45,
            what="every batch ended",
        )

    async def finish(self) -> None:
        """With faults cleared: settle old intents (30 min later) so the journal is closed."""
        self.emulator.clear_faults()
        self.emulator.advance(31 * 60)
        await self.service.reconcile()

    def check(self) -> dict[str, Any]:
        svc = self.service
        on_server = server_custom_ids(self.emulator)
        per_k: Counter[int] = Counter()
        for cids in on_server.values():
            prefixes = {cid.split("-")[0] for cid in cids}
            assert len(prefixes) == 1, prefixes
            per_k[int(next(iter(prefixes))[1:])] += 1
        duplicates = {k: c for k, c in per_k.items() if c != 1}
        assert not duplicates, f"batches submitted twice (or never): {duplicates}"
        assert sorted(per_k) == list(range(self.n))
        local = {v.id: v for v in svc.batches()}
        assert set(on_server) == set(local), "a server batch is unknown locally (or vice versa)"
        assert all(v.job_id is not None for v in local.values())
        assert not svc.store.open_intents()
        resolved = [
            i
            for job in svc.jobs()
            for i in svc.store.intents(job.id)
            if i.state in (IntentState.SUBMITTED, IntentState.RECONCILED)
        ]
        assert sorted(i.batch_id for i in resolved) == sorted(on_server)
        produced = sum(len(c) for c in on_server.values())
        indexed = 0
        for bid, cids in on_server.items():
            got = svc.results.count_results([bid])
            assert got == len(cids) == local[bid].remote.request_counts.total, bid
            assert local[bid].results_indexed == got
            indexed += got
        stats = self.emulator.stats
        figures = {
            "batches_intended": self.n,
            "batches_created": len(on_server),
            "results_produced": produced,
            "results_indexed": indexed,
            "http_requests": stats.total,
            "injected_429": stats.count(status=429),
            "injected_529": stats.count(status=529),
            "injected_500": stats.count(status=500),
            "transient_404": stats.count(status=404),
            "results_requests": stats.count("results"),
            "cuts_armed": self.cuts_armed,
            "create_calls": stats.count("create"),
            "submit_errors_seen": self.submit_errors,
            "manual_download_retries": self.manual_downloads,
            "refresh_failed_events": dict(self.failures),
            "events": dict(self.events),
        }
        assert produced == indexed == sum(self.sizes)
        return figures


@pytest.mark.parametrize("n", SERVICE_SIZES)
async def test_service_survives_faults(
    emulator_factory: Any, tmp_path: Path, n: int, request: pytest.FixtureRequest
) -> None:
    if n > 20 and not soak_full(request.config):
        pytest.skip("full soak: run with -m soak or BATCHTOP_SOAK=full")
    emulator = emulator_factory(rate=0.05, faults=faults(seed=7))
    soak = Soak(emulator, tmp_path, n, seed=7)
    lag = LoopLag()
    try:
        await asyncio.to_thread(soak.service.warm_up)  # the SDK import is not the loop's
        lag.start()
        await soak.run()
        await soak.finish()
        figures = soak.check()
    finally:
        lag.stop()
        await soak.service.close()
        soak.store.close()
    figures["max_loop_lag_s"] = round(lag.max_lag_s, 3)
    figures["max_loop_busy_s"] = round(lag.max_busy_s, 3)
    print(f"\nfault soak (service, {n} batches): {figures}")
    injected = figures["injected_429"] + figures["injected_529"] + figures["injected_500"]
    assert injected > 0
    assert figures["results_requests"] > n, "no results stream was cut and retried"
    assert soak.failures, "the degraded state was never reported"
    lag.check(MAX_LOOP_BUSY_S, MAX_LOOP_STALL_S)


@pytest.mark.parametrize("n", TUI_SIZES)
async def test_tui_stays_responsive_and_shows_degraded_state(
    emulator_factory: Any, tmp_path: Path, n: int, request: pytest.FixtureRequest
) -> None:
    from batchtop.tui.app import BatchtopApp

    if n > 8 and not soak_full(request.config):
        pytest.skip("full soak: run with -m soak or BATCHTOP_SOAK=full")
    emulator = emulator_factory(rate=0.05, faults=faults(seed=11))
    soak = Soak(emulator, tmp_path, n, seed=11, pace_s=0.02)  # one refresh per 20 ms
    svc = soak.service
    app = BatchtopApp(svc, svc.settings, poll=True, now=emulator.clock.now)
    shown: list[str] = []
    lag = LoopLag()
    try:
        await asyncio.to_thread(svc.warm_up)  # as `batchtop` does before its first refresh
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            status = app.dashboard.status
            original_failed = status.failed

            def spy(event: RefreshFailed) -> None:
                original_failed(event)
                shown.append(str(status.render()))

            status.failed = spy  # type: ignore[method-assign]
            lag.start()
            await soak.submit_all()
            await soak._wait_ended()
            await soak.download_rest()
            await pilot.pause()
            # the table shows every batch as ended
            table = app.dashboard.table
            await async_wait(lambda: table.row_count >= n, limit_s=10, what="rows shown")
            # recovery: faults off, a manual refresh clears the error from the status bar
            emulator.clear_faults()
            await pilot.press("r")
            await async_wait(
                lambda: status.state.error is None and not status.state.busy,
                limit_s=10,
                what="status bar recovered",
            )
            assert "⚠" not in str(status.render())
            lag.stop()
            svc.stop_polling()
            await app.workers.wait_for_complete()
            await soak.finish()
        figures = soak.check()
    finally:
        lag.stop()
        await svc.close()
        soak.store.close()
    figures["max_loop_lag_s"] = round(lag.max_lag_s, 3)
    figures["max_loop_busy_s"] = round(lag.max_busy_s, 3)
    figures["heartbeats"] = lag.ticks
    figures["status_bar_errors_shown"] = len(shown)
    print(f"\nfault soak (TUI, {n} batches): {figures}")
    assert lag.ticks > 10
    lag.check(MAX_LOOP_BUSY_S, MAX_LOOP_STALL_S)
    assert shown, "the status bar never showed the degraded state"
    assert any(
        t in s for s in shown for t in ("rate limited", "API error", "offline", "refresh failed")
    )
    assert all("⚠" in s for s in shown)

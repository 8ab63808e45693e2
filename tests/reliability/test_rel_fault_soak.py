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
from batchtop.core.models import Event, ImportOptions, IntentState, RefreshFailed
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from data_factory import openai_chat, write_jsonl
from reliability_support import (
    AdvancingSleep,
    LoopLag,
    server_custom_ids,
    server_input_file_ids,
    server_input_files,
    soak_full,
)
from waiting import async_wait

SERVICE_SIZES = [
    pytest.param(20, id="short"),
    pytest.param(200, id="full", marks=pytest.mark.soak),
]
TUI_SIZES = [
    pytest.param(8, "anthropic", id="short"),
    pytest.param(8, "openai", id="openai"),
    pytest.param(40, "anthropic", id="full", marks=pytest.mark.soak),
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


def soak_requests(k: int, size: int, tag: str = "s") -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"{tag}{k:03d}-{i:02d}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 32,
                "messages": [{"role": "user", "content": f"Soak request {i} of batch {k}"}],
            },
        }
        for i in range(size)
    ]


def openai_soak_file(path: Path, k: int, size: int, tag: str) -> Path:
    """Batch `k` as OpenAI-format JSONL (chat completions), custom_ids as `soak_requests`."""
    return write_jsonl(
        path,
        (
            openai_chat(
                f"{tag}{k:03d}-{i:02d}",
                f"Soak request {i} of batch {k}",
                max_completion_tokens=32,
            )
            for i in range(size)
        ),
    )


class Soak:
    """One soak run: a service on a faulty emulator, the intended batches and the figures.

    `provider="openai"`: batches are imported from OpenAI-format files and submitted as
    jobs (upload + create through the journal). `tag` starts every custom_id of this run,
    so several runs (data directories) can share one emulator and each checks its own."""

    def __init__(
        self,
        emulator: EmulatorHandle,
        tmp_path: Path,
        n: int,
        seed: int,
        pace_s: float = 0.0,
        *,
        provider: str = "anthropic",
        tag: str = "s",
        shared_results: bool = False,
    ) -> None:
        self.emulator = emulator
        self.n = n
        self.provider = provider
        self.tag = tag
        self.home = tmp_path
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
            provider=provider,
        )
        self.store = store
        # Several runs in one process share one results directory (paths.results_dir):
        # each downloads only its own batches, by hand (two downloads of one batch into one
        # results directory at once would share its temp file)
        self.shared_results = shared_results
        if shared_results:
            self.service.auto_download = False
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
        if self.provider == "openai":
            await self.submit_all_files()
            return
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

    async def submit_all_files(self) -> None:
        """OpenAI: import and submit each batch's file. After a failure, reconcile; a part
        left unresolved (its create may have happened) settles 30 minutes after its attempt,
        so time moves on by that much, reconcile closes it, and submitting the same file
        again resumes the job: only a part no batch exists for is sent."""
        svc = self.service
        for k, size in enumerate(self.sizes):
            path = openai_soak_file(self.home / f"soak-{k:03d}.jsonl", k, size, self.tag)
            for _attempt in range(30):
                try:
                    report = await svc.analyse(path, ImportOptions())
                    assert report.ok, report.issues
                    outcome = await svc.submit(report, name=f"soak-{k}")
                    if outcome.batch_ids:
                        break
                    # nothing sent: the part is unresolved (an earlier create may have
                    # made its batch); the outcome says so instead of raising
                    assert outcome.unresolved_parts, outcome
                except BatchtopError:
                    pass
                self.submit_errors += 1
                await self._reconcile()
                if self._created(k):
                    break  # reconcile found the batch that the failed call did create
                if svc.store.open_intents():
                    await self.sleep(31 * 60)
                    await self._reconcile()
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
            if self.shared_results and view.job_id is None:
                continue  # another data directory's batch: that one downloads it
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

    async def check_files(self) -> dict[str, int]:
        """OpenAI: every input file this run uploaded that no batch uses is reported by
        `orphan_files` (and only those: another data directory's are not this one's to
        delete); `delete_orphan_files` removes them."""
        svc = self.service
        jobs = {job.id for job in svc.jobs()}
        used = server_input_file_ids(self.emulator)
        uploaded = {
            fid: name
            for fid, name in server_input_files(self.emulator).items()
            if name.removeprefix("batchtop-").rsplit("_", 2)[0] in jobs
        }
        unused = {fid for fid in uploaded if fid not in used}
        # past `orphan_min_age_s`, when unused uploads are old enough to delete
        self.emulator.advance(svc.settings.orphan_min_age_s + 1)
        orphans = await svc.orphan_files()
        assert {f.id for f in orphans} == unused
        assert not any(f.too_recent for f in orphans)
        await svc.delete_orphan_files(orphans)
        left = {f for f in server_input_files(self.emulator) if f in uploaded}
        assert left == set(uploaded) - unused
        return {"input_files_uploaded": len(uploaded), "orphaned_files": len(unused)}

    def check(self) -> dict[str, Any]:
        svc = self.service
        on_server = {
            bid: cids
            for bid, cids in server_custom_ids(self.emulator).items()
            if cids and cids[0].startswith(self.tag)
        }
        per_k: Counter[int] = Counter()
        for cids in on_server.values():
            prefixes = {cid.split("-")[0] for cid in cids}
            assert len(prefixes) == 1, prefixes
            per_k[int(next(iter(prefixes))[len(self.tag) :])] += 1
        duplicates = {k: c for k, c in per_k.items() if c != 1}
        assert not duplicates, f"batches submitted twice (or never): {duplicates}"
        assert sorted(per_k) == list(range(self.n))
        local = {v.id: v for v in svc.batches()}
        # every batch of this run is known with its job; no other run's batch was adopted
        # (another data directory's batches are listed too, without a job)
        mine = {bid for bid, v in local.items() if v.job_id is not None}
        assert set(on_server) == mine, "a server batch is unknown locally (or vice versa)"
        others = set(server_custom_ids(self.emulator)) - set(on_server)
        assert set(local) - mine <= others
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
            "injected_529": stats.count(status=529) + stats.count(status=503),
            "injected_500": stats.count(status=500),
            "transient_404": stats.count(status=404),
            "results_requests": stats.count(
                "file_content" if self.provider == "openai" else "results"
            ),
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


OPENAI_SIZES = [
    pytest.param(1, 12, id="short"),
    pytest.param(2, 8, id="two-homes"),
    pytest.param(2, 100, id="full", marks=pytest.mark.soak),
]


@pytest.mark.parametrize(("homes", "n"), OPENAI_SIZES)
async def test_openai_service_survives_faults(
    emulator_factory: Any, tmp_path: Path, homes: int, n: int, request: pytest.FixtureRequest
) -> None:
    """The soak against the OpenAI emulator (429 with retry-after, 503, 500, transient 404s
    on retrieve, file downloads cut mid-way), each batch an upload + create through the
    journal; with two data directories submitting to one project at once."""
    pytest.importorskip("openai")
    if n > 12 and not soak_full(request.config):
        pytest.skip("full soak: run with -m soak or BATCHTOP_SOAK=full")
    emulator = emulator_factory(api="openai", rate=0.05, faults=faults(seed=5))
    soaks = []
    for h in range(homes):
        home = tmp_path / f"home-{h}"
        home.mkdir()
        soaks.append(
            Soak(
                emulator,
                home,
                n,
                seed=5 + h,
                provider="openai",
                tag="ab"[h],
                shared_results=homes > 1,
            )
        )
    lag = LoopLag()
    figures: list[dict[str, Any]] = []
    try:
        for soak in soaks:
            await asyncio.to_thread(soak.service.warm_up)
        lag.start()
        await asyncio.gather(*(soak.run() for soak in soaks))
        for soak in soaks:
            await soak.finish()
        for soak in soaks:
            got = soak.check()
            got.update(await soak.check_files())
            figures.append(got)
    finally:
        lag.stop()
        for soak in soaks:
            await soak.service.close()
            soak.store.close()
    for got in figures:
        print(f"\nfault soak (OpenAI, {homes} home(s), {n} batches each): {got}")
    first = figures[0]
    assert first["injected_429"] + first["injected_529"] + first["injected_500"] > 0
    assert first["results_requests"] > n, "no file download was cut and retried"
    assert any(soak.failures for soak in soaks), "the degraded state was never reported"
    lag.check(MAX_LOOP_BUSY_S, MAX_LOOP_STALL_S)


@pytest.mark.parametrize(("n", "provider"), TUI_SIZES)
async def test_tui_stays_responsive_and_shows_degraded_state(
    emulator_factory: Any, tmp_path: Path, n: int, provider: str, request: pytest.FixtureRequest
) -> None:
    from batchtop.tui.app import BatchtopApp

    if n > 8 and not soak_full(request.config):
        pytest.skip("full soak: run with -m soak or BATCHTOP_SOAK=full")
    if provider == "openai":
        pytest.importorskip("openai")
    emulator = emulator_factory(api=provider, rate=0.05, faults=faults(seed=11))
    # one refresh per 20 ms
    soak = Soak(emulator, tmp_path, n, seed=11, pace_s=0.02, provider=provider)
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
        if provider == "openai":
            figures.update(await soak.check_files())
    finally:
        lag.stop()
        await svc.close()
        soak.store.close()
    figures["max_loop_lag_s"] = round(lag.max_lag_s, 3)
    figures["max_loop_busy_s"] = round(lag.max_busy_s, 3)
    figures["heartbeats"] = lag.ticks
    figures["status_bar_errors_shown"] = len(shown)
    print(f"\nfault soak (TUI, {provider}, {n} batches): {figures}")
    assert lag.ticks > 10
    lag.check(MAX_LOOP_BUSY_S, MAX_LOOP_STALL_S)
    assert shown, "the status bar never showed the degraded state"
    assert any(
        t in s for s in shown for t in ("rate limited", "API error", "offline", "refresh failed")
    )
    assert all("⚠" in s for s in shown)

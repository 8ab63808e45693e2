"""A partly submitted job in the TUI: announced, marked in the jobs view, resumed with u."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ImportOptions
from batchtop.tui.app import BatchtopApp
from batchtop.tui.screens.rows import JOB_PREFIX
from dashboard_support import close_service, make_service, until

SETTINGS = Settings(notify_bell=False, max_retries=0, max_requests_per_batch=3)


def write_input(path: Path) -> None:
    with path.open("w") as fh:
        for i in range(9):
            text = f"resume {i} " + ("x" * 3000 if 3 <= i < 6 else "")  # part 2 is large
            req = {
                "custom_id": f"r-{i}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": text}],
                },
            }
            fh.write(json.dumps(req) + "\n")


def messages(app: BatchtopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_partly_submitted_job_is_shown_and_resumed_with_u(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(max_body_bytes=4000)  # part 2 is refused (413)
    service = make_service(tmp_path / "s.sqlite3", emulator, SETTINGS)
    try:
        source = tmp_path / "input.jsonl"
        write_input(source)
        report = await service.analyse(source, ImportOptions())
        outcome = await service.submit(report, name="halfway")
        assert outcome.failed_parts == (2,)
        emulator.server.config.max_body_bytes = 1 << 20
        app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("r")
            assert await until(
                pilot, lambda: any("partly submitted" in m for m in messages(app)), tries=200
            )
            await pilot.press("5", "g")  # the jobs view, first row: the job
            table = app.dashboard.table
            assert await until(
                pilot, lambda: (table.selected_key or "").startswith(JOB_PREFIX), tries=100
            )
            shot = app.export_screenshot().replace("&#160;", " ")
            assert "2/3 parts" in shot  # the job's row says that a part is missing
            await pilot.press("u")
            assert await until(
                pilot, lambda: any(m.startswith("Resumed halfway") for m in messages(app)), 400
            )
        progress = service.job_progress(outcome.job_id)
        assert progress is not None
        assert progress.complete
        assert len(service.store.job_batches(outcome.job_id)) == 3
        assert emulator.stats.count("create", 200) == 3  # parts 1 and 3 once, then part 2
    finally:
        await close_service(service)


async def test_a_look_alike_batch_not_proven_ours_is_a_notice_not_an_adoption(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    from batchtop.core.submit import prepare_requests

    emulator = emulator_factory()  # batches run on: their results cannot prove them yet
    service = make_service(tmp_path / "s.sqlite3", emulator, SETTINGS)
    try:
        reqs = [
            {
                "custom_id": f"mine-{i}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": f"hello {i}"}],
                },
            }
            for i in range(4)
        ]
        mine = prepare_requests(reqs)
        job = service.store.create_job("crashed", None, emulator.clock.now())
        service.store.add_manifest(job.id, 1, mine.manifest_rows)
        service.store.add_intent(job.id, 1, 4, mine.content_hash, emulator.clock.now())
        # ... the process died before its create left; another client made a look-alike
        other = [{**r, "custom_id": r["custom_id"].replace("mine", "theirs")} for r in reqs]
        theirs = await service._api.create(other)
        app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("r")
            assert await until(
                pilot, lambda: any("unknown: not adopted" in m for m in messages(app)), 200
            )
            (notice,) = [m for m in messages(app) if "unknown" in m]
            assert theirs.id in notice
        view = service.batch(theirs.id)
        assert view is None or view.job_id is None  # not adopted
        (intent,) = service.store.open_intents()
        assert intent.candidates == (theirs.id,)
    finally:
        await close_service(service)

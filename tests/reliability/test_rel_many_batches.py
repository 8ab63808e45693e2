"""Workspaces with more than 1,000 batches (issue 13.4), against the real emulator.

The emulator is seeded with 5,000 older batches through its own state (one transaction, not
5,000 creates); the one at index 100 (4,900 batches below the newest) is still in progress.
- The first sync of a fresh store pages through the whole list (1 + 4 list calls), with
  progress events, and the old in-progress batch is listed as active.
- Later refreshes stay cheap: the newest page plus one retrieve per active batch the page
  does not cover (walking 4 pages to reach it would cost more); 1,500 new batches since
  the last refresh: the pages of new ones until a known batch, no more.
- The CLI: `batchtop ls` shows its progress on stderr; interrupted with Ctrl-C (SIGINT)
  mid-walk it continues where it stopped on the next run (cursor kept in the store);
  `ls --active` lists the old batch; the footer on stderr says how many batches the
  workspace has.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from pathlib import Path

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import Event, ListingProgress
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import CLI, cli_env, run_cli
from service_support import STORE_FILE, new_service
from waiting import wait_until

SEEDED = 5_000
OLD_ACTIVE = 100  # index of the old batch still in progress (4,900 newer ones)


def make_service(emulator: EmulatorHandle, tmp_path: Path) -> BatchService:
    """A service with the default timeouts and real sleeps (as the dashboard has)."""
    return new_service(
        emulator, tmp_path / STORE_FILE, settings=Settings(max_retries=0), sleep=asyncio.sleep
    )


def _seed(emulator: EmulatorHandle) -> list[str]:
    return emulator.seed_history(SEEDED, active=frozenset({OLD_ACTIVE}))


async def test_first_sync_pages_through_everything_then_refreshes_stay_cheap(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    ids = _seed(emulator)
    service = make_service(emulator, tmp_path)
    service.auto_download = False
    events: list[Event] = []
    service.subscribe(events.append)
    try:
        emulator.stats.reset()
        done = await service.refresh()
        assert emulator.stats.count("list") == 5  # the newest page + 4 pages of history
        assert emulator.stats.total == 5
        assert done.total == SEEDED
        assert done.listing_complete
        progress = [e for e in events if isinstance(e, ListingProgress)]
        assert [p.listed for p in progress] == [1000, 2000, 3000, 4000]
        assert [p.total for p in progress] == [2000, 3000, 4000, 5000]
        assert progress[-1].complete
        assert [v.id for v in service.batches("active")] == [ids[OLD_ACTIVE]]
        info = service.workspace()
        assert info.batches == SEEDED
        assert info.count_text == "5,000 batches"

        # steady state: the newest page + one retrieve for the active batch beyond it
        emulator.stats.reset()
        done = await service.refresh()
        assert emulator.stats.count("list") == 1
        assert emulator.stats.count("retrieve") == 1
        assert done.api_calls_last == 2
        assert done.active == 1

        # 1,500 batches created elsewhere since: two pages reach a known batch, then stop
        emulator.advance(7200)
        new_ids = emulator.seed_history(1_500, spacing_s=1.0)
        emulator.stats.reset()
        done = await service.refresh()
        assert emulator.stats.count("list") == 2
        assert emulator.stats.count("retrieve") == 1
        assert done.total == SEEDED + 1_500
        assert set(new_ids) <= {v.id for v in service.batches()}
        assert [v.id for v in service.batches("active")] == [ids[OLD_ACTIVE]]
    finally:
        await service.close()


async def test_an_old_store_completes_its_listing_on_the_next_refresh(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A store from before the listing was tracked holds the newest 1,000 only: the next
    refresh walks the rest once, and nothing it had is lost."""
    ids = _seed(emulator)
    service = make_service(emulator, tmp_path)
    service.auto_download = False
    try:
        page = await service._api.list_page()
        await service.poller._store_batches(page.batches)  # what an old refresh stored
        service.store.set_label(ids[-1], "kept")
        assert service.workspace().count_text == "at least 1,000 batches (listing not finished)"
        emulator.stats.reset()
        done = await service.refresh()
        assert emulator.stats.count("list") == 5
        assert done.total == SEEDED
        assert service.workspace().listing_complete
        view = service.batch(ids[-1])
        assert view is not None
        assert view.label == "kept"
    finally:
        await service.close()


@pytest.mark.timeout(600)  # several CLI processes; each imports the SDK (seconds)
def test_cli_first_sync_shows_progress_resumes_after_ctrl_c_and_counts(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    ids = _seed(emulator)
    env = cli_env(tmp_path, base_url=emulator.base_url)
    emulator.set_faults(latency_s=0.5)  # slow pages: time to interrupt the walk
    emulator.stats.reset()
    proc = subprocess.Popen(
        [*CLI, "ls"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,  # a table nobody reads must not fill a pipe and block
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen: list[str] = []
        for line in proc.stderr:
            seen.append(line)
            if "so far" in line:
                break
        assert any("listing the workspace's batches" in ln for ln in seen), seen
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (proc.returncode, rest)
    assert "Traceback" not in rest
    first_calls = emulator.stats.count("list")
    assert 2 <= first_calls < 5, first_calls  # interrupted after 1-3 history pages

    store_path = next((tmp_path / "xdg" / "data").rglob("*.sqlite3"))
    store = Store.open(store_path)
    try:
        cursor, complete = store.listing()
        stored, _active, _seen = store.batch_totals()
    finally:
        store.close()
    assert not complete
    assert cursor is not None
    assert 2_000 <= stored < SEEDED

    emulator.clear_faults()
    # the page the Ctrl-C cut is still being answered: let the server finish it, so it is
    # not counted as one of the second run's calls
    wait_until(
        lambda: emulator.stats.count("list") == emulator.stats.arrivals("list"),
        60,
        "the interrupted page's answer",
    )
    emulator.stats.reset()
    second = run_cli("ls", "--active", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    # only the pages not stored before: the newest page + what was left of the history
    remaining_pages = (SEEDED - stored) // 1000
    assert emulator.stats.count("list") == 1 + remaining_pages
    assert ids[OLD_ACTIVE] in second.stdout
    assert re.search(r"5,000 batches in this workspace · 1 shown", second.stderr), second.stderr

    # later: no progress lines, the same count
    third = run_cli("ls", "--active", cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stderr
    assert "so far" not in third.stderr
    assert "5,000 batches in this workspace · 1 shown" in third.stderr

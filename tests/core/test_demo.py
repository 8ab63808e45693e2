"""The demo workspace shows every state a user meets, without an API key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.config import Settings
from batchtop.core.costs import batch_cost
from batchtop.core.demo import (
    ARRIVALS,
    DEMO_RATE,
    OPENAI_ARRIVALS,
    DemoLife,
    open_demo,
    start_demo,
)
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ProcessingStatus
from batchtop.core.service import BatchService
from batchtop.core.store import Store


async def test_demo_seeds_every_state() -> None:
    async with start_demo() as demo:
        batches = demo.service.batches()
        by_label: dict[str | None, list] = {}
        for view in batches:
            by_label.setdefault(view.label, []).append(view)

        articles = by_label["article summaries"]
        assert len(articles) == 3  # 1,000 requests split at 400 per batch
        assert sum(v.remote.request_counts.total for v in articles) == 1000
        assert all(v.remote.processing_status is ProcessingStatus.IN_PROGRESS for v in articles)
        assert len({v.job_id for v in articles}) == 1

        [canceling] = by_label["bulk rewrite"]
        assert canceling.remote.processing_status is ProcessingStatus.CANCELING

        [errors] = by_label["translations-fr"]
        assert errors.remote.processing_status is ProcessingStatus.ENDED
        assert errors.remote.request_counts.errored > 0

        [canceled] = by_label["abandoned experiment"]
        assert canceled.remote.request_counts.canceled > 0

        [expired] = by_label["nightly eval"]
        assert expired.remote.request_counts.expired > 0

        [elsewhere] = by_label[None]
        assert elsewhere.job_id is None
        assert not elsewhere.has_manifest

        # Nothing leaves the machine: the service talks to the in-process emulator.
        assert demo.service.base_url.startswith("http://127.0.0.1:")


async def test_demo_shows_todays_result_shapes() -> None:
    """Thinking with tool calls, refusals and structured outputs, as the API returns them."""
    import orjson

    async with start_demo() as demo:
        by_label = {v.label: v for v in demo.service.batches()}
        kinds: dict[str, set[str]] = {}
        stops: dict[str, set[str]] = {}
        for label in ("support agent", "content review", "ticket triage"):
            view = by_label[label]
            assert view.remote.processing_status is ProcessingStatus.ENDED
            chunks = [c async for c, _ in demo.service._api.iter_results(view.id)]
            for line in b"".join(chunks).splitlines():
                message = orjson.loads(line)["result"]["message"]
                kinds.setdefault(label, set()).update(b["type"] for b in message["content"])
                stops.setdefault(label, set()).add(message["stop_reason"])
        assert {"thinking", "tool_use", "text"} <= kinds["support agent"]
        assert "tool_use" in stops["support agent"]
        assert "refusal" in stops["content review"]
        assert stops["ticket triage"] == {"end_turn"}


async def test_the_demo_stays_alive(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    """On the emulator's clock (advanced by hand, no sleeps): batches keep arriving, a long
    one progresses for minutes, one ends with errors."""
    emulator = emulator_factory(rate=DEMO_RATE)
    clock = emulator.manual_clock
    service = BatchService(
        Store.open(tmp_path / "s.sqlite3"),
        Settings(),
        api_key="test-key",
        base_url=emulator.base_url,
        now=clock.now,
    )
    service.auto_download = False
    try:
        life = DemoLife(service, emulator, clock, first_after_s=20, every_s=45)
        assert await life.step() is None  # nothing due yet
        arrived: list[str] = []
        for _ in range(len(ARRIVALS)):
            clock.advance(45)
            batch_id = await life.step()
            assert batch_id is not None
            arrived.append(batch_id)
            assert await life.step() is None  # one arrival at a time
        assert [service.batch(b).label for b in arrived] == [a.name for a in ARRIVALS]

        clock.advance(60)
        await service.refresh()
        views = {service.batch(b).label: service.batch(b) for b in arrived}
        long_run = views["catalogue rewrite"].remote
        assert long_run.is_active  # 1,200 requests: still going minutes later
        assert 0 < long_run.request_counts.done < long_run.request_counts.total

        clock.advance(600)
        await service.refresh()
        views = {service.batch(b).label: service.batch(b) for b in arrived}
        ended = views["contract summaries"].remote
        assert ended.processing_status is ProcessingStatus.ENDED
        assert ended.request_counts.errored > 0  # one ends with errors
        assert views["inbox triage"].remote.request_counts.has_errors

        # however long the demo stays open, something keeps arriving
        clock.advance(3600)
        assert await life.step() is not None
        assert len(service.batches()) == len(ARRIVALS) + 1
    finally:
        await service.close()
        service.store.close()


def _both_sides(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> tuple[EmulatorHandle, EmulatorHandle, list[BatchService]]:
    """The demo's two emulators on one manual clock, and a service on each."""
    pytest.importorskip("openai")
    emulator = emulator_factory(rate=DEMO_RATE)
    clock = emulator.manual_clock
    openai_emulator = emulator_factory(clock=clock, api="openai", rate=DEMO_RATE)
    services = [
        BatchService(
            Store.open(tmp_path / f"{provider}.sqlite3"),
            Settings(),
            api_key="test-key",
            base_url=emu.base_url,
            now=clock.now,
            provider=provider,
        )
        for provider, emu in (("anthropic", emulator), ("openai", openai_emulator))
    ]
    return emulator, openai_emulator, services


async def test_the_demo_stays_alive_on_the_openai_side_too(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    """With the OpenAI side, OpenAI batches arrive as well (one per endpoint, in turn, through
    the OpenAI emulator), half a period after the Anthropic ones: the OpenAI rows move."""
    emulator, openai_emulator, services = _both_sides(emulator_factory, tmp_path)
    clock = emulator.manual_clock
    service, openai = services
    for s in services:
        s.auto_download = False
    try:
        life = DemoLife(
            service,
            emulator,
            clock,
            first_after_s=20,
            every_s=40,
            openai=openai,
            openai_emulator=openai_emulator,
        )
        arrived: list[str] = []
        for _ in range(2 * len(OPENAI_ARRIVALS)):
            clock.advance(20)  # Anthropic at 20, 60, 100 …; OpenAI at 40, 80, 120 …
            batch_id = await life.step()
            assert batch_id is not None
            arrived.append(batch_id)
            assert await life.step() is None  # one arrival at a time
        from_openai = [b for b in arrived if openai.batch(b) is not None]
        assert from_openai == arrived[1::2]
        assert [openai.batch(b).label for b in from_openai] == [a.name for a in OPENAI_ARRIVALS]
        assert [openai.batch(b).remote.endpoint for b in from_openai] == [
            a.endpoint for a in OPENAI_ARRIVALS
        ]
        # the chat and responses arrivals go to the default OpenAI model (the cheapest
        # current one), and every arrival is priced: never an unknown cost
        assert [openai.batch(b).model for b in from_openai] == [
            a.model or openai.default_model(a.endpoint) for a in OPENAI_ARRIVALS
        ]
        assert openai.default_model("/v1/responses") == "gpt-6-luna"
        for b in from_openai:
            cost = batch_cost(openai.batch(b))
            assert cost.usd is not None
            assert not cost.unpriced
        assert [service.batch(b).label for b in arrived[::2]] == [
            a.name for a in ARRIVALS[: len(OPENAI_ARRIVALS)]
        ]

        clock.advance(30)
        await openai.refresh()
        moving = openai.batch(from_openai[-1]).remote  # 400 embeddings: still going
        assert moving.provider_status == "in_progress"
        assert 0 < moving.request_counts.done < moving.request_counts.total

        clock.advance(600)
        await openai.refresh()
        drafts = openai.batch(from_openai[0]).remote
        assert drafts.provider_status == "completed"
        assert drafts.request_counts.errored > 0  # the chat one ends with server errors
        # the embeddings are 256 floats, as the seeded ones (1,536: 7 MB of results each)
        output = openai.batch(from_openai[-1]).remote.output_file_id
        state: Any = openai_emulator.server.state
        content = openai_emulator.call(lambda: state.content(state.file(output)))
        first = orjson.loads(content.splitlines()[0])
        assert len(first["response"]["body"]["data"][0]["embedding"]) == 256
    finally:
        for s in services:
            await s.close()
            s.store.close()


def test_opening_the_demo_starts_nothing() -> None:
    """Paint first: opening the demo neither imports the emulator (aiohttp) nor the SDK."""
    code = (
        "import asyncio, sys\n"
        "from batchtop.core.demo import open_demo\n"
        "async def main():\n"
        "    demo = await open_demo()\n"
        "    print(demo.service.base_url.startswith('http://127.0.0.1:'),"
        " 'aiohttp' in sys.modules, 'anthropic' in sys.modules, demo.started)\n"
        "    await demo.close()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["True", "False", "False", "False"]


async def test_the_demo_stores_are_never_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's stores are thrown away when it closes: SQLite syncs nothing for them, so
    creating them (before the first frame) waits on no disk flush. A store kept on disk
    keeps its WAL + synchronous=NORMAL durability."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the demo makes its home
    demo = await open_demo()
    try:
        services = [demo.service, *([demo.openai_service] if demo.openai_service else [])]
        for service in services:
            conn = service.store.db.conn()
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await demo.close()
    kept = Store.open(tmp_path / "kept.sqlite3")
    try:
        assert kept.db.conn().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        kept.close()


def _rows(emulator: EmulatorHandle, sql: str) -> int:
    db: Any = emulator.server.state._db
    return int(emulator.call(lambda: db.execute(sql).fetchone()[0]))


async def test_a_demo_open_for_hours_holds_a_bounded_amount_in_its_emulators(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    """The demo's emulators run in the dashboard's process: an arrival older than the newest
    `keep` of its provider is retired once it ended and the dashboard downloaded its results
    (Anthropic: archived, OpenAI: its files expired), so the emulators hold the replies of a
    few arrivals however many came. The retired batches stay listed with their results in
    batchtop's store."""
    emulator, openai_emulator, services = _both_sides(emulator_factory, tmp_path)
    clock = emulator.manual_clock
    service, openai = services
    keep = 2
    try:
        life = DemoLife(
            service,
            emulator,
            clock,
            first_after_s=10,
            every_s=20,
            keep=keep,
            openai=openai,
            openai_emulator=openai_emulator,
        )
        arrived: list[str] = []
        for _ in range(8 * len(ARRIVALS)):  # 8 arrivals per provider, in turn
            clock.advance(10)
            batch_id = await life.step()
            if batch_id is not None:
                arrived.append(batch_id)
            for s in services:  # the dashboard: refresh, download what ended
                await s.refresh()
                await s.wait_background()
        clock.advance(3600)  # every arrival has ended
        for s in services:
            await s.refresh()
            await s.wait_background()
        if (batch_id := await life.step()) is not None:
            arrived.append(batch_id)
        anthropic_ids = [b for b in arrived if service.batch(b) is not None]
        openai_ids = [b for b in arrived if openai.batch(b) is not None]
        assert len(anthropic_ids) >= 3 * keep
        assert len(openai_ids) >= 3 * keep

        # the Anthropic emulator holds the requests of the newest `keep` (+ one just made)
        newest = anthropic_ids[-(keep + 1) :]
        bound = sum(service.batch(b).remote.request_counts.total for b in newest)
        assert _rows(emulator, "SELECT count(*) FROM requests") <= bound
        assert _rows(emulator, "SELECT count(DISTINCT batch_seq) FROM requests") <= keep + 1
        # the OpenAI emulator: the content of the newest arrivals' files (input, output,
        # error) only, and no request rows of an ended batch
        held_files = "SELECT count(*) FROM oai_files WHERE length(content) > 0"
        assert _rows(openai_emulator, held_files) <= 3 * (keep + 1)
        assert _rows(openai_emulator, "SELECT count(DISTINCT batch_seq) FROM oai_requests") <= 1

        # a retired batch is still listed, its results in batchtop's store
        for owner, ids in ((service, anthropic_ids), (openai, openai_ids)):
            listed = {v.id for v in owner.batches()}
            for batch_id in ids[: -(keep + 1)]:
                assert batch_id in listed
                view = owner.batch(batch_id)
                assert view.results_downloaded
                assert view.results_indexed == view.remote.request_counts.total
    finally:
        for s in services:
            await s.close()
            s.store.close()

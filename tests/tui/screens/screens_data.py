"""Deterministic data for the screen tests: ended batches with known results in a real store.

Results go through the real ingest path (`Store.ingest_results` on API-shaped JSONL), so the
screens are tested against the same index the app uses; only the network is skipped here
(the flow tests use the emulator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import data_factory
import orjson
from batchtop.core.config import Settings
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts, SubmitOutcome
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.importer import ImportScreen
from batchtop.tui.screens.results import ResultsScreen
from batchtop.tui.screens.retry import RetryScreen
from results_support import results_of
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

T0 = data_factory.T0
MODEL = data_factory.MODEL
HOSTILE = "[bold red]alert[/] [link=https://evil.example]click[/link] \x1b[31mred\x1b[0m done"


def succeeded(custom_id: str, text: str, *, tokens: tuple[int, int] = (16, 5)) -> dict[str, Any]:
    """A succeeded line with only input and output tokens in its usage."""
    return data_factory.succeeded(
        custom_id, text, input_tokens=tokens[0], output_tokens=tokens[1], full_usage=False
    )


def errored(custom_id: str, error_type: str, message: str) -> dict[str, Any]:
    return data_factory.errored(custom_id, error_type, message, full=False)


other = data_factory.ended


def standard_lines(n: int = 40) -> list[dict[str, Any]]:
    """n results: mostly succeeded, some errored (two types), expired and canceled."""
    lines: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        cid = f"req-{i:05d}"
        if i % 10 == 3:
            lines.append(errored(cid, "overloaded_error", "Overloaded"))
        elif i % 10 == 7:
            lines.append(errored(cid, "invalid_request_error", f"max_tokens: bad value {i}"))
        elif i % 20 == 9:
            lines.append(other(cid, "expired"))
        elif i % 20 == 19:
            lines.append(other(cid, "canceled"))
        else:
            words = "alpha" if i % 2 else "beta"
            text = (
                f"# Summary {i}\n\nThe **{words}** answer number {i}.\n\n- point one\n- point two"
            )
            lines.append(succeeded(cid, text, tokens=(100 + i, 20 + i % 7)))
    return lines


def add_ended_batch(
    store: Store,
    batch_id: str,
    lines: Iterable[dict[str, Any]],
    tmp: Path,
    *,
    inputs: bool = True,
) -> int:
    """Record an ended batch and index `lines` as its results; returns rows indexed.

    With `inputs`, the batch belongs to a job whose manifest holds each request's prompt
    ("Summarise article <id> ..."), as if batchtop had submitted it.
    """
    rows = list(lines)
    counts = RequestCounts(
        succeeded=sum(r["result"]["type"] == "succeeded" for r in rows),
        errored=sum(r["result"]["type"] == "errored" for r in rows),
        expired=sum(r["result"]["type"] == "expired" for r in rows),
        canceled=sum(r["result"]["type"] == "canceled" for r in rows),
    )
    remote = RemoteBatch(
        id=batch_id,
        processing_status=ProcessingStatus.ENDED,
        request_counts=counts,
        created_at=T0,
        expires_at=T0 + timedelta(hours=24),
        ended_at=T0 + timedelta(minutes=30),
        results_url=f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results",
    )
    store.upsert_remote([remote], T0 + timedelta(minutes=31))
    if inputs:
        job = store.create_job(f"job of {batch_id}", None, T0)
        manifest = []
        for r in rows:
            prompt = f"Summarise article {r['custom_id']} in three bullet points."
            params = {
                "model": MODEL,
                "max_tokens": 256,
                "messages": [{"role": "user", "content": prompt}],
            }
            manifest.append((r["custom_id"], prompt, orjson.dumps(params).decode()))
        store.add_manifest(job.id, 1, manifest)
        store.set_batch_meta(batch_id, job_id=job.id, job_part=1, model=MODEL)
    path = tmp / f"{batch_id}.jsonl"
    with path.open("wb") as fh:
        for r in rows:
            fh.write(orjson.dumps(r) + b"\n")
    n = results_of(store).ingest_results(batch_id, path)
    results_of(store).set_results_file(batch_id, path, downloaded=True)
    return n


CLIENT_TAG = "3f9a2c"


def offline_service(tmp: Path) -> BatchService:
    """A service on a fresh store that never reaches a network (nothing listens there)."""
    store = Store.open(tmp / "batchtop.sqlite3")
    store.set_meta(client_tag=CLIENT_TAG)  # numbered ids the same on every run (snapshots)
    return BatchService(
        store,
        Settings(),
        api_key="test-key",
        base_url="http://127.0.0.1:9",
        now=lambda: T0 + timedelta(hours=1),
    )


class ScreenHost(App[None]):
    """A bare app that opens one screen: the screens are tested on their own."""

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self._make_screen = make_screen
        self.dismissed: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        self.push_screen(self._make_screen(), callback=self.dismissed.append)


def screen_text(app: App[Any]) -> str:
    """The characters on screen now, one line per row (what a user would read)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def wait_for(pilot: Any, predicate: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Let the app run until `predicate()` holds (conditions, never fixed sleeps)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.01)


async def submit_confirmed(pilot: Any, app: ScreenHost) -> SubmitOutcome:
    """A form's submit (ctrl+s) answered yes in its confirmation: what the form gave back."""
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("y")
    await wait_for(pilot, lambda: bool(app.dismissed), limit_s=20)
    outcome = app.dismissed[0]
    assert isinstance(outcome, SubmitOutcome)
    return outcome


@asynccontextmanager
async def import_form(service: BatchService) -> AsyncIterator[tuple[ScreenHost, Any, ImportScreen]]:
    """The import screen on `service`, running at 160×48: (its host app, the pilot, it)."""
    app = ScreenHost(lambda: ImportScreen(service))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        yield app, pilot, screen


@asynccontextmanager
async def retry_dialog(
    service: BatchService, batch_id: str, title: str, size: tuple[int, int] = (160, 48)
) -> AsyncIterator[tuple[ScreenHost, Any]]:
    """The results viewer of `batch_id`, loaded, with its retry dialog (R) open: (its host
    app, the pilot)."""
    app = ScreenHost(lambda: ResultsScreen(service, batch_ids=[batch_id], title=title))
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        await wait_for(pilot, lambda: screen.loaded, limit_s=20)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RetryScreen))
        await pilot.pause()
        yield app, pilot


OPENAI_QUESTION = [{"role": "user", "content": "Tell me about the sea and its tides"}]


async def openai_cuts(
    service: BatchService, emulator: Any, budgets: Iterable[tuple[str, int]]
) -> str:
    """An ended OpenAI chat batch of `OPENAI_QUESTION` asked with each (custom_id,
    max_completion_tokens): a small budget is cut (finish_reason length). Its id."""
    requests = [
        {
            "custom_id": cid,
            "params": {
                "model": "gpt-4o-mini",
                "messages": OPENAI_QUESTION,
                "max_completion_tokens": b,
            },
        }
        for cid, b in budgets
    ]
    (batch_id,) = (await service.submit_requests(requests, name="cuts")).batch_ids
    emulator.advance(3600)
    await service.refresh()
    return batch_id

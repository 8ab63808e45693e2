"""The results viewer on a real store: counts, filters, search, detail, hostile text, paging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.models import ResultFilter, ResultType
from batchtop.core.service import BatchService
from batchtop.tui.screens.results import ResultsScreen
from batchtop.tui.widgets.result_detail import ResultDetail
from batchtop.tui.widgets.results_table import ResultsTable
from dashboard_support import type_at_once
from rich.text import Text
from screens_data import (
    HOSTILE,
    ScreenHost,
    add_ended_batch,
    offline_service,
    screen_text,
    standard_lines,
    succeeded,
    wait_for,
)
from textual.widgets import Input, Static

BATCH = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[BatchService]:
    svc = offline_service(tmp_path)
    add_ended_batch(svc.store, BATCH, standard_lines(40), tmp_path)
    yield svc
    svc.store.close()


async def open_results(pilot: Any) -> ResultsScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ResultsScreen)
    await wait_for(pilot, lambda: screen.loaded)
    await pilot.pause()
    return screen


def host(service: BatchService, ids: list[str] | None = None) -> ScreenHost:
    return ScreenHost(lambda: ResultsScreen(service, batch_ids=ids or [BATCH], title="Batch x"))


async def test_counts_per_status_and_first_rows(service: BatchService) -> None:
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        text = screen_text(pilot.app)
        counts = ("1 all 40", "2 succeeded 28", "3 errored 8", "4 expired 2", "5 canceled 2")
        for expected in counts:
            assert expected in text
        assert "req-00001" in text
        assert "overloaded_error: Overloaded" in text
        assert "rows 1–" in text
        assert "of 40" in text
        assert screen.table.total == 40
        first, last = screen.table.window
        assert last > first
        assert f"rows {first + 1}–{last + 1} of 40" in text  # the rows really on screen


async def test_status_filter_narrows(service: BatchService) -> None:
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.table.total == 8)
        rows = [screen.table.row_at(i) for i in range(8)]
        assert {r.type for r in rows if r} == {ResultType.ERRORED}
        detail = screen.query_one(ResultDetail)
        await wait_for(pilot, lambda: bool(detail.row and detail.row.custom_id == "req-00003"))
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "req-00001" not in text
        assert "req-00003" in text
        # error-type cycling narrows further, to one error type
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.table.total == 4)
        assert screen.filt.error_types == frozenset({"invalid_request_error"})
        await pilot.press("1")
        await wait_for(pilot, lambda: screen.table.total == 40)


async def test_search_narrows(service: BatchService) -> None:
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("slash", *"beta", "enter")
        await wait_for(pilot, lambda: screen.filt.search == "beta" and screen.table.total < 40)
        shown = [screen.table.row_at(i) for i in range(screen.table.total)]
        assert shown
        assert all(r is not None and "beta" in r.text for r in shown)
        expected = sum(
            1
            for line in standard_lines(40)
            if line["result"]["type"] == "succeeded"
            and "beta"
            in "".join(
                b["text"] for b in line["result"]["message"]["content"] if b["type"] == "text"
            )
        )
        assert screen.table.total == expected
        assert "search: beta" in screen_text(pilot.app)
        assert pilot.app.focused is screen.table
        # typing then esc: esc clears the search, as it clears the dashboard's filter
        await pilot.press("slash", "ctrl+u", *"alpha", "escape")
        assert pilot.app.focused is screen.table
        await wait_for(pilot, lambda: screen.filt.search == "" and screen.table.total == 40)
        assert isinstance(pilot.app.screen, ResultsScreen)


async def test_keys_typed_right_after_slash_reach_the_search(service: BatchService) -> None:
    """`/beta` queued at once: every letter in the box (`e` would open the export dialog);
    a `/` typed in the box is text."""
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await type_at_once(pilot, "slash", *"beta")
        search = screen.query_one("#results-search", Input)
        assert isinstance(pilot.app.screen, ResultsScreen)  # no export dialog
        assert (search.value, search.has_focus) == ("beta", True)
        await type_at_once(pilot, "slash")
        assert search.value == "beta/"
        await pilot.press("backspace", "enter")
        await wait_for(pilot, lambda: screen.filt.search == "beta" and screen.table.total < 40)
        assert pilot.app.focused is screen.table


async def test_broad_search_shows_its_first_page_then_the_counted_total(
    tmp_path: Path,
) -> None:
    """More hits than a page: the page comes first ("N+ (counting…)"), the exact total
    replaces it once counted, and every hit is reachable."""
    svc = offline_service(tmp_path)
    lines = standard_lines(320)
    add_ended_batch(svc.store, BATCH, lines, tmp_path)
    expected = sum(
        1
        for line in lines
        if line["result"]["type"] == "succeeded"
        and "Summary"
        in "".join(b["text"] for b in line["result"]["message"]["content"] if b["type"] == "text")
    )
    assert expected > 200  # more than the viewer's first page
    try:
        async with host(svc).run_test(size=(160, 48)) as pilot:
            screen = await open_results(pilot)
            await pilot.press("slash", *"Summary", "enter")
            await wait_for(pilot, lambda: screen.filt.search == "Summary")
            await wait_for(pilot, lambda: screen.table.total == expected)
            await wait_for(pilot, lambda: f"of {expected} · row 1" in screen_text(pilot.app))
            assert "counting" not in screen_text(pilot.app)
            last = screen.table.row_at(expected - 1)
            assert last is not None
            assert "Summary" in last.text
    finally:
        svc.store.close()


async def test_status_filter_pages_come_with_their_total(tmp_path: Path) -> None:
    """A status filter is counted from indexes with its page: one update, never "N+"."""
    svc = offline_service(tmp_path)
    add_ended_batch(svc.store, BATCH, standard_lines(320), tmp_path)
    try:
        async with host(svc).run_test(size=(160, 48)) as pilot:
            screen = await open_results(pilot)
            pages: list[Any] = []
            fetch = svc.results_page

            def results_page(*args: Any, **kwargs: Any) -> Any:
                page = fetch(*args, **kwargs)
                pages.append(page)
                return page

            svc.results_page = results_page
            for key, kind in (("2", ResultType.SUCCEEDED), ("3", ResultType.ERRORED)):
                await pilot.press(key)
                await wait_for(pilot, lambda kind=kind: screen.filt.types == {kind})
                want = screen.summary.by_type[kind] if screen.summary else -1
                await wait_for(pilot, lambda want=want: screen.table.total == want)
            assert len(pages) == 2
            assert all(page.counted for page in pages)
            assert pages[0].total > 50  # more than a page: it was counted, not inferred
            assert "counting" not in screen_text(pilot.app)
    finally:
        svc.store.close()


async def test_detail_shows_input_output_and_raw_json(service: BatchService) -> None:
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        detail = screen.query_one(ResultDetail)
        await wait_for(pilot, lambda: detail.row is not None)
        # The Markdown renders after the row is set: wait for it, not for a fixed time.
        await wait_for(pilot, lambda: "The alpha answer number 1." in screen_text(pilot.app))
        text = screen_text(pilot.app)
        assert "Summarise article req-00001 in three bullet points." in text
        assert "The alpha answer number 1." in text  # Markdown rendered: no ** left
        assert "**alpha**" not in text
        await pilot.press("t")
        await wait_for(pilot, lambda: '"custom_id": "req-00001"' in screen_text(pilot.app))
        assert screen.query_one("#detail-raw", Static).display
        raw = screen_text(pilot.app)
        assert '"custom_id": "req-00001"' in raw
        assert '"type": "succeeded"' in raw
        await pilot.press("t", "j")
        await wait_for(
            pilot, lambda: detail.row is not None and detail.row.custom_id != "req-00001"
        )


async def test_copy_output(service: BatchService) -> None:
    async with host(service).run_test(size=(160, 48)) as pilot:
        await open_results(pilot)
        await pilot.press("y")
        assert pilot.app.clipboard.startswith("# Summary 1")


async def test_hostile_text_is_shown_literally(tmp_path: Path) -> None:
    svc = offline_service(tmp_path)
    add_ended_batch(
        svc.store,
        BATCH,
        [succeeded("evil-1", HOSTILE), succeeded("evil-2", "fine")],
        tmp_path,
    )
    async with host(svc).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await wait_for(pilot, lambda: screen.query_one(ResultDetail).row is not None)
        await pilot.pause()
        text = screen_text(pilot.app)
        # the table line shows the markup literally
        assert "[bold red]alert[/] [link=https://evil.example]click[/link]" in text
        assert "\x1b" not in text
        # the ANSI codes shown as the CLI shows them, inert: nothing dropped
        assert "\\x1b[31mred\\x1b[0m done" in text
        await pilot.press("t")
        await pilot.pause()
        assert "\x1b" not in screen_text(pilot.app)
    svc.store.close()


async def test_paging_over_20000_rows(tmp_path: Path) -> None:
    svc = offline_service(tmp_path)
    add_ended_batch(svc.store, BATCH, standard_lines(20_000), tmp_path, inputs=False)
    async with host(svc).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        table = screen.query_one(ResultsTable)
        assert table.total == 20_000
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_row == 19_999
        text = screen_text(pilot.app)
        assert "req-20000" in text
        assert "of 20,000 · row 20,000" in text
        await pilot.press("pageup", "k")
        await pilot.pause()
        first, last = table.window
        assert first <= table.cursor_row <= last
        await pilot.press("g")
        await pilot.pause()
        assert table.cursor_row == 0
        assert "req-00001" in screen_text(pilot.app)
        # only the visible pages were ever fetched
        assert table.fetches <= 6
    svc.store.close()


async def test_selection_and_esc_back(service: BatchService) -> None:
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("space", "space")
        assert screen.table.selected == frozenset({"req-00001", "req-00002"})
        assert "2 selected" in screen_text(pilot.app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, ResultsScreen)
        assert app.dismissed == [None]


async def test_esc_clears_the_search_then_leaves(service: BatchService) -> None:
    """Issue 14.15: esc cleared the dashboard's filter but kept the results search, with no
    hint; now both clear, and the position line says so."""
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("slash", *"beta", "enter")
        await wait_for(pilot, lambda: screen.filt.search == "beta" and screen.table.total < 40)
        assert "search: beta (esc clears)" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.filt.search == "" and screen.table.total == 40)
        assert not screen.query_one("#results-search", Input).value
        assert isinstance(app.screen, ResultsScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.dismissed == [None]


async def test_search_matches_are_marked_in_rows_and_detail(service: BatchService) -> None:
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("slash", *"summary 2", "enter")
        await wait_for(pilot, lambda: screen.filt.search == "summary 2" and screen.table.total < 40)
        detail = screen.query_one(ResultDetail)
        await wait_for(pilot, lambda: detail.row is not None and detail.search == "summary 2")
        await pilot.pause()
        # the row: the match (in its own case) drawn in the match style
        marked = [
            seg.text
            for seg in screen.table.render_line(0)
            if seg.style is not None and seg.style.reverse
        ]
        assert "Summary 2" in marked
        matches = screen.query_one("#detail-matches", Static)
        assert matches.display
        content = matches.content
        assert isinstance(content, Text)
        assert "1 line matches" in content.plain
        assert any(
            content.plain[span.start : span.end] == "Summary 2" and "reverse" in str(span.style)
            for span in content.spans
        )
        # no search, no match list
        await pilot.press("escape")
        await wait_for(pilot, lambda: detail.search == "" and screen.table.total == 40)
        await wait_for(pilot, lambda: not screen.query_one("#detail-matches").display)


async def test_j_and_k_scroll_the_detail(service: BatchService) -> None:
    """Issue 14.15: in the detail pane (enter), j/k scroll it as they move the table."""
    async with host(service).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        detail = screen.query_one(ResultDetail)
        await wait_for(pilot, lambda: detail.row is not None)
        await pilot.press("enter")
        assert detail.has_focus
        await wait_for(pilot, lambda: detail.max_scroll_y > 0)
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: detail.scroll_y > 0)
        assert screen.table.cursor_row == 0  # the table did not move
        await pilot.press("k", "k")
        await wait_for(pilot, lambda: detail.scroll_y == 0)
        await pilot.press("G")
        await wait_for(pilot, lambda: detail.scroll_y == detail.max_scroll_y)


async def test_setting_the_filter_runs_its_query(service: BatchService) -> None:
    """The filter is reactive state: setting it queries and shows the matching rows."""
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        screen.filt = ResultFilter(types=frozenset({ResultType.ERRORED}))
        await wait_for(pilot, lambda: screen.table.total == 8)
        assert "1 all 40" in screen_text(pilot.app)


async def test_the_counts_line_keeps_the_cost_whole_at_80_columns(service: BatchService) -> None:
    """At 80 columns the counts line was cut before its cost: it drops the standard price
    and shortens the status names instead, keeping every count and its key."""
    from batchtop.tui.screens.results import TextLine

    async with host(service).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        counts = screen.query_one("#results-counts", TextLine)
        line = counts.render()
        assert screen.summary is not None
        assert screen.summary.cost_usd
        assert line.cell_len <= counts.content_region.width, line.plain
        assert "cost $" in line.plain or "cost <$" in line.plain or "cost ~" in line.plain
        for key in range(1, 6):
            assert f" {key} " in line.plain
        assert "40" in line.plain
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        line = screen.query_one("#results-counts", TextLine).render()
        assert "(standard " in line.plain
        assert "2 succeeded 28" in line.plain


async def test_raw_view_says_why_a_changed_results_file_gives_no_line(
    service: BatchService, tmp_path: Path
) -> None:
    """The rows point into the batch's results file: replaced by other bytes of the same
    size, the raw view says so in one line instead of showing nothing."""
    path = tmp_path / f"{BATCH}.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"', b"'"))
    async with host(service).run_test(size=(160, 48)) as pilot:
        screen = await open_results(pilot)
        detail = screen.query_one(ResultDetail)
        await wait_for(pilot, lambda: detail.row is not None)
        await pilot.press("t")
        raw = screen.query_one("#detail-raw", Static)
        await wait_for(pilot, lambda: raw.display and "changed since" in str(raw.render()))
        shown = str(raw.render())
        assert shown.startswith(f"The results file of {BATCH} changed since its results were")
        assert str(path) in shown
        assert "\n" not in shown
        assert detail.row is not None
        assert detail.row.custom_id == "req-00001"

"""The export dialog, opened from the results viewer: CSV content, scopes, overwrite, errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.models import ExportResult, ResultFilter
from batchtop.core.service import BatchService
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.export import ExportScreen, parquet_available
from batchtop.tui.screens.results import ResultsScreen
from screens_data import ScreenHost, add_ended_batch, offline_service, standard_lines, wait_for
from textual.widgets import Input, RadioButton

BATCH = "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[BatchService]:
    svc = offline_service(tmp_path)
    add_ended_batch(svc.store, BATCH, standard_lines(40), tmp_path)
    yield svc
    svc.store.close()


async def open_export(pilot: Any, keys: tuple[str, ...] = ()) -> ExportScreen:
    results = pilot.app.screen
    assert isinstance(results, ResultsScreen)
    await wait_for(pilot, lambda: results.loaded)
    for key in keys:
        await pilot.press(key)
        await pilot.pause()
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExportScreen))
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ExportScreen)
    return screen


async def run_export(pilot: Any, screen: ExportScreen, path: Path) -> None:
    screen.query_one("#export-path", Input).value = str(path)
    await pilot.press("ctrl+s")


def host(service: BatchService) -> ScreenHost:
    return ScreenHost(lambda: ResultsScreen(service, batch_ids=[BATCH], title="Batch"))


async def test_export_csv_of_the_current_filter(service: BatchService, tmp_path: Path) -> None:
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot, ("3",))  # errored only
        assert screen.scope == "filter"
        assert str(screen.query_one("#export-path", Input).value).endswith(".jsonl")
        await pilot.click("#export-format-csv")
        await pilot.pause()
        assert screen.fmt == "csv"
        assert screen.query_one("#export-path", Input).value.endswith(".csv")  # default follows
        out = tmp_path / "errored.csv"
        await run_export(pilot, screen, out)
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert isinstance(screen.result, ExportResult)
        assert screen.result.rows == 8
        with out.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 8
        assert {r["status"] for r in rows} == {"errored"}
        assert rows[0]["custom_id"] == "req-00003"
        messages = [n.message for n in app._notifications]
        assert any(str(out) in m for m in messages)


async def test_export_selected_rows_as_json(service: BatchService, tmp_path: Path) -> None:
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot, ("space", "space"))
        assert screen.scope == "selected"
        assert screen.export_filter() == ResultFilter(
            custom_ids=frozenset({"req-00001", "req-00002"})
        )
        await pilot.click("#export-format-json")
        out = tmp_path / "two.json"
        await run_export(pilot, screen, out)
        await wait_for(pilot, lambda: screen.result is not None)
        data = json.loads(out.read_text(encoding="utf-8"))
        assert sorted(data) == ["req-00001", "req-00002"]


async def test_typed_extension_picks_the_format(service: BatchService, tmp_path: Path) -> None:
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot)
        assert screen.fmt == "jsonl"
        path_input = screen.query_one("#export-path", Input)
        path_input.value = ""
        await pilot.click("#export-path")  # the dialog opens on the format
        await pilot.press(*str(tmp_path / "report.md"))
        await pilot.pause()
        assert screen.fmt == "markdown"
        assert screen.query_one("#export-format-markdown", RadioButton).value
        assert path_input.value == str(tmp_path / "report.md")  # the typed path is kept
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.result is not None)
        assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("#")


async def test_overwrite_asks_first(service: BatchService, tmp_path: Path) -> None:
    out = tmp_path / "exists.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot)
        await run_export(pilot, screen, out)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        assert out.read_text(encoding="utf-8") == "keep me\n"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.result is not None)
        assert len(out.read_text(encoding="utf-8").splitlines()) == 40


async def test_errors_are_shown_not_raised(service: BatchService, tmp_path: Path) -> None:
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot)
        await run_export(pilot, screen, tmp_path)  # a directory
        await pilot.pause()
        assert "is a directory" in str(screen.query_one("#export-error").render())
        blocker = tmp_path / "a-file"
        blocker.write_text("", encoding="utf-8")
        await run_export(pilot, screen, blocker / "out.jsonl")  # parent is a file
        error = screen.query_one("#export-error")
        await wait_for(pilot, lambda: "Export failed" in str(error.render()))
        assert app.screen is screen
        assert screen.result is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))


async def test_an_error_on_a_small_terminal_is_scrolled_into_view(
    service: BatchService, tmp_path: Path
) -> None:
    """At 80x24 the form scrolls and opens at its top (the format): a failed export's
    reason, at the form's foot, is brought into view, not left below it (ctrl+s seemed to
    do nothing)."""
    app = host(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_export(pilot)
        body = screen.query_one("#export-body")
        assert body.max_scroll_y > 0  # the form does not fit: it scrolls
        blocker = tmp_path / "a-file"
        blocker.write_text("", encoding="utf-8")
        await run_export(pilot, screen, blocker / "out.jsonl")  # its parent is a file
        error = screen.query_one("#export-error")
        await wait_for(pilot, lambda: "Export failed" in str(error.render()))
        await wait_for(pilot, lambda: body.region.contains_region(error.region))


async def test_a_device_is_written_to_without_asking_to_replace_it(
    service: BatchService,
) -> None:
    """/dev/null (a device, as a FIFO or a terminal) is written to, never replaced (core's
    `destination_kind`, as `batchtop results --out` does): no "already exists. Replace it?"."""
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot)
        await run_export(pilot, screen, Path("/dev/null"))
        await wait_for(
            pilot, lambda: screen.result is not None or isinstance(app.screen, ConfirmScreen)
        )
        assert not isinstance(app.screen, ConfirmScreen)
        assert screen.result is not None
        assert screen.result.rows == 40


async def test_parquet_choice_matches_pyarrow(service: BatchService) -> None:
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot)
        button = screen.query_one("#export-format-parquet", RadioButton)
        assert button.disabled is (not parquet_available())


async def test_opens_on_the_format_and_enter_does_not_export(
    service: BatchService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14.14: the destination was focused, so Enter wrote a file at once; the footer
    showed the results viewer's keys."""
    monkeypatch.chdir(tmp_path)
    app = host(service)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_export(pilot)
        assert app.focused is screen.query_one("#export-format")
        await pilot.press("down", "enter")  # moves to CSV and picks it
        await pilot.pause()
        assert app.screen is screen
        assert screen.fmt == "csv"
        assert screen.result is None  # nothing was written
        strips = app.screen._compositor.render_strips()
        footer = "".join(seg.text for seg in strips[-1])
        assert "Export" in footer
        assert "esc" in footer
        assert "Cancel" in footer
        assert "Search" not in footer  # the results viewer's keys are underneath, unseen


async def test_json_outputs_as_columns_with_the_checkbox(tmp_path: Path) -> None:
    from screens_data import succeeded

    svc = offline_service(tmp_path)
    lines = [
        succeeded(f"t-{i}", json.dumps({"category": f"c{i}", "urgent": i % 2 == 0}))
        for i in range(3)
    ]
    add_ended_batch(svc.store, BATCH, lines, tmp_path)
    app = host(svc)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_export(pilot)
            box = screen.query_one("#export-expand")
            assert box.disabled  # JSONL has no columns
            await pilot.click("#export-format-csv")
            await pilot.pause()
            assert not box.disabled
            await pilot.click("#export-expand")
            await pilot.pause()
            out = tmp_path / "t.csv"
            await run_export(pilot, screen, out)
            await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
            with out.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            assert [r["output.category"] for r in rows] == ["c0", "c1", "c2"]
            assert [r["output.urgent"] for r in rows] == ["true", "false", "true"]
    finally:
        svc.store.close()


@pytest.mark.parametrize("name", ["out.json", "out.md"])
async def test_a_changed_results_file_fails_the_export_in_one_line(
    service: BatchService, tmp_path: Path, name: str
) -> None:
    """JSON and Markdown (and Parquet) write each row's raw line, read from the batch's
    results file: replaced by other bytes, the dialog says why in one line and writes
    nothing. (A file gone or cut short has the viewer download the results again.)"""
    results_file = tmp_path / f"{BATCH}.jsonl"
    results_file.write_bytes(results_file.read_bytes().replace(b'"', b"'"))
    app = host(service)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_export(pilot)
        out = tmp_path / name
        await run_export(pilot, screen, out)
        error = screen.query_one("#export-error")
        await wait_for(pilot, lambda: "Export failed" in str(error.render()))
        shown = str(error.render())
        why = "changed since its results were indexed"
        assert shown.startswith(f"Export failed: The results file of {BATCH} {why}"), shown
        assert str(results_file) in shown
        assert "\n" not in shown
        assert not out.exists()
        assert app.screen is screen

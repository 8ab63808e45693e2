"""Import flow against the emulator: errors located by line, fix, analyse, submit, batch exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import SubmitOutcome, SubmitProgress
from batchtop.core.service import BatchService
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.importer import ImportScreen
from screens_data import (
    CLIENT_TAG,
    ScreenHost,
    import_form,
    offline_service,
    screen_text,
    submit_confirmed,
    wait_for,
)
from service_support import ServiceFactory
from textual.widgets import Button, Input, TextArea


def request(i: int, **params: Any) -> bytes:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"Summarise article {i}"}],
    }
    body.update(params)
    return orjson.dumps({"custom_id": f"article-{i:03d}", "params": body})


def write_bad(path: Path) -> None:
    lines = [
        request(1),
        request(2, max_tokens=0),
        b'{"custom_id": "article-003", "params": {"model": ',
        request(4, messages=[]),
        request(5),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def write_good(path: Path) -> None:
    path.write_bytes(b"\n".join(request(i) for i in range(1, 6)) + b"\n")


async def analyse(pilot: Any, screen: ImportScreen) -> None:
    previous = screen.report
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: screen.report is not previous and not screen.busy)
    await pilot.pause()


async def test_import_errors_fix_and_submit(live_service: BatchService, tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    write_bad(path)
    async with import_form(live_service) as (app, pilot, screen):
        await pilot.click("#import-path")
        screen.query_one("#import-path").value = str(path)  # type: ignore[attr-defined]
        await analyse(pilot, screen)
        report = screen.report
        assert report is not None
        error_lines = sorted({i.line for i in report.errors})
        assert error_lines == [2, 3, 4]
        text = screen_text(app)
        for line in (2, 3, 4):
            assert f"articles.jsonl:{line}" in text
        assert screen.query_one("#import-submit", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to confirm: errors remain

        write_good(path)
        await analyse(pilot, screen)
        assert screen.report is not None
        assert screen.report.ok
        assert screen.report.request_count == 5
        text = screen_text(app)
        assert "No problems found." in text
        assert "article-001" in text  # the preview
        assert "you save" in text
        assert not screen.query_one("#import-submit", Button).disabled

        outcome = await submit_confirmed(pilot, app)
        assert len(outcome.batch_ids) == 1
        assert outcome.batch_ids[0] in {b.id for b in live_service.batches()}


async def test_changing_the_form_makes_the_report_stale(
    live_service: BatchService, tmp_path: Path
) -> None:
    path = tmp_path / "articles.jsonl"
    write_good(path)
    async with import_form(live_service) as (app, pilot, screen):
        screen.query_one("#import-path").value = str(path)  # type: ignore[attr-defined]
        await analyse(pilot, screen)
        assert screen.can_submit
        await pilot.click("#import-max-tokens")
        await pilot.press("5")
        await pilot.pause()
        assert not screen.can_submit
        assert "analyse again" in screen_text(app)
        await analyse(pilot, screen)
        assert screen.can_submit
        await pilot.press("escape")
        await pilot.pause()
        assert app.dismissed == [None]


async def test_csv_with_template_system_and_id_field(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,name,topic\nu1,Ann,[bold]cats[/]\nu2,Bob,dogs\n", encoding="utf-8")
    service = offline_service(tmp_path)  # analysing sends nothing
    async with import_form(service) as (app, pilot, screen):
        screen.query_one("#import-path", Input).value = str(path)
        screen.query_one("#import-template", TextArea).text = "A haiku about {topic} for {name}."
        screen.query_one("#import-id-field", Input).value = "id"
        screen.query_one("#import-system", Input).value = "Be poetic."
        await analyse(pilot, screen)
        report = screen.report
        assert report is not None
        assert report.ok
        assert report.format == "csv"
        first = report.preview[0]
        assert first["custom_id"] == "u1"
        assert first["params"]["system"] == "Be poetic."
        assert first["params"]["messages"][0]["content"] == "A haiku about [bold]cats[/] for Ann."
        assert "[bold]cats[/]" in screen_text(app)  # the preview shows the markup literally
        assert screen.can_submit
    service.store.close()


async def test_path_completion_and_file_browser(tmp_path: Path) -> None:
    (tmp_path / "requests-2026.jsonl").write_bytes(request(1) + b"\n")
    (tmp_path / "notes").mkdir()
    service = offline_service(tmp_path)
    async with import_form(service) as (app, pilot, screen):
        path_input = screen.query_one("#import-path", Input)
        path_input.focus()
        path_input.value = str(tmp_path / "req")
        path_input.cursor_position = len(path_input.value)
        await wait_for(pilot, lambda: path_input._suggestion.endswith("requests-2026.jsonl"))
        await pilot.press("tab")
        assert path_input.value == str(tmp_path / "requests-2026.jsonl")
        await pilot.press("ctrl+o")  # the browser opens beside the path, rooted at its folder
        await wait_for(pilot, lambda: bool(screen.query("#import-tree")))
        tree = screen.query_one("#import-tree")
        assert tree.has_class("-active")
        assert Path(str(tree.path)) == tmp_path  # type: ignore[attr-defined]
        await pilot.press("escape")  # closes the browser, not the screen
        await pilot.pause()
        assert app.screen is screen
        assert not tree.has_class("-active")
    service.store.close()


async def test_report_quotes_hostile_file_content_literally(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    bad_id = orjson.dumps(
        {
            "custom_id": "[bold red]x[/] \x1b[31mred",
            "params": {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": []},
        }
    )
    path.write_bytes(bad_id + b"\n" + request(2) + b"\n")
    service = offline_service(tmp_path)
    async with import_form(service) as (app, pilot, screen):
        screen.query_one("#import-path", Input).value = str(path)
        await analyse(pilot, screen)
        assert screen.report is not None
        assert [i.line for i in screen.report.errors][:1] == [1]
        text = screen_text(app)
        assert "hostile.jsonl:1" in text
        assert "\x1b" not in text
        # the importer quotes the bad id; the report shows it as typed, markup and all
        assert any("[bold red]" in i.message for i in screen.report.errors)
        assert "[bold red]x[/] \\x1b[31mred" in text  # the escape shown, not dropped
    service.store.close()


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (0, "0 valid requests"),
        (1, "1 valid request "),
        (2, "2 valid requests"),
        (1200, "1,200 valid requests"),
    ],
)
def test_report_head_counts_in_words(count: int, words: str) -> None:
    import io

    from batchtop.core.models import ImportReport
    from batchtop.tui.widgets.validation_report import summary_renderable
    from rich.console import Console

    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(
        summary_renderable(ImportReport(path="in.jsonl", format="jsonl", request_count=count))
    )
    assert words in console.export_text() + " "


async def test_an_import_with_errors_can_submit_its_valid_requests(
    live_service: BatchService, tmp_path: Path
) -> None:
    path = tmp_path / "articles.jsonl"
    write_bad(path)  # lines 2, 3 and 4 are invalid; 1 and 5 are fine
    async with import_form(live_service) as (app, pilot, screen):
        screen.query_one("#import-path").value = str(path)  # type: ignore[attr-defined]
        await analyse(pilot, screen)
        assert screen.query_one("#import-submit", Button).disabled
        valid_only = screen.query_one("#import-submit-valid", Button)
        assert not valid_only.disabled
        assert str(valid_only.label) == "Submit 2 valid"
        assert "valid ones alone (ctrl+b): 2 valid requests will be sent" in screen_text(app)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "3 with errors are left out" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(app.dismissed), limit_s=20)
        outcome = app.dismissed[0]
        assert isinstance(outcome, SubmitOutcome)
        (bid,) = outcome.batch_ids
        view = next(b for b in live_service.batches() if b.id == bid)
        assert view.remote.request_counts.total == 2


async def test_busy_is_reactive_state(tmp_path: Path) -> None:
    """While busy, analyse is disabled and the progress bar shows; both follow `busy`."""
    service = offline_service(tmp_path)
    async with import_form(service) as (_app, pilot, screen):
        analyse_button = screen.query_one("#import-analyse", Button)
        progress = screen.query_one("#import-progress")
        screen.busy = True
        await pilot.pause()
        assert analyse_button.disabled
        assert progress.has_class("-active")
        screen.busy = False
        await pilot.pause()
        assert not analyse_button.disabled
        assert not progress.has_class("-active")
    service.store.close()


async def test_ctrl_t_measures_the_input_tokens_and_the_estimate_says_so(
    live_service: Any, tmp_path: Path
) -> None:
    path = tmp_path / "articles.jsonl"
    write_good(path)
    async with import_form(live_service) as (app, pilot, screen):
        screen.query_one("#import-path").value = str(path)  # type: ignore[attr-defined]
        await analyse(pilot, screen)
        assert "input tokens estimated from characters" in screen_text(app)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "measured: count_tokens on all 5" in screen_text(app))
        assert screen.report is not None
        assert screen.report.estimate is not None
        assert screen.report.estimate.exact
        assert not screen.busy


async def test_the_job_betas_typed_in_the_form_are_sent_and_recorded(
    live_service: BatchService, emulator: Any, tmp_path: Path
) -> None:
    path = tmp_path / "articles.jsonl"
    write_good(path)
    async with import_form(live_service) as (app, pilot, screen):
        screen.query_one("#import-path", Input).value = str(path)
        screen.query_one("#import-betas", Input).value = "files-api-2025-04-14, pdfs-2024-09-25"
        await analyse(pilot, screen)
        outcome = await submit_confirmed(pilot, app)
        (bid,) = outcome.batch_ids
        assert emulator.betas(bid) == ("files-api-2025-04-14", "pdfs-2024-09-25")
        view = live_service.batch(bid)
        assert view is not None
        assert view.betas == ("files-api-2025-04-14", "pdfs-2024-09-25")


async def test_the_id_field_says_how_requests_are_numbered_here(tmp_path: Path) -> None:
    service = offline_service(tmp_path)
    app = ScreenHost(lambda: ImportScreen(service))
    async with app.run_test(size=(160, 48)):
        field = app.screen.query_one("#import-id-field", Input)
        assert field.placeholder == f"e.g. id — otherwise row-{CLIENT_TAG}-000001, …"
    service.store.close()


async def test_an_estimate_on_a_model_without_a_price_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("one\ntwo\n")
    service = offline_service(tmp_path)
    async with import_form(service) as (app, pilot, screen):
        screen.query_one("#import-path", Input).value = str(path)
        screen.query_one("#import-model", Input).value = "claude-fable-9"
        await analyse(pilot, screen)
        text = screen_text(app)
        assert "Cost estimate unknown" in text
        assert "no price for: claude-fable-9" in text
        assert "$0.0000" not in text
    service.store.close()


@pytest.mark.parametrize(
    ("errors", "words"), [(1, "1 error — fix it "), (2, "2 errors — fix them ")]
)
def test_report_head_agrees_with_its_error_count(errors: int, words: str) -> None:
    import io

    from batchtop.core.models import ImportIssue, ImportReport
    from batchtop.tui.widgets.validation_report import summary_renderable
    from rich.console import Console

    issues = [ImportIssue("error", "bad line", "in.jsonl", line=n) for n in range(1, errors + 1)]
    report = ImportReport(path="in.jsonl", format="jsonl", request_count=3, issues=issues)
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(summary_renderable(report))
    assert words in console.export_text()


async def test_a_file_for_the_other_provider_says_what_to_do_in_the_tui(tmp_path: Path) -> None:
    """OpenAI's request lines given to an Anthropic import: the report says how to import
    them in the dashboard (show OpenAI alone, `P`), not the command line's flag."""
    path = tmp_path / "openai.jsonl"
    line = {
        "custom_id": "r-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    }
    path.write_bytes(orjson.dumps(line) + b"\n")
    service = offline_service(tmp_path)
    async with import_form(service) as (app, pilot, screen):
        screen.query_one("#import-path", Input).value = str(path)
        await analyse(pilot, screen)
        assert screen.report is not None
        (error,) = screen.report.errors
        assert error.for_provider == "openai"
        text = screen_text(app)
        assert "This file holds OpenAI Batch API requests" in text
        assert "show OpenAI alone on the dashboard (P)" in text
        assert "--provider" not in text
    service.store.close()


async def test_a_part_whose_create_went_unanswered_is_said_not_submitted(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A two-part import whose second create the server holds past the client's timeout:
    part 1 is created, part 2 is left unresolved (its batch may still appear, it is not sent
    again), and the form says so, naming the part, instead of only "Submitted 1 batch"."""
    service = make_service(max_requests_per_batch=3, request_timeout_s=2.0)
    service.auto_download = False
    path = tmp_path / "articles.jsonl"
    write_good(path)  # 5 requests: parts of 3 and 2
    async with import_form(service) as (app, pilot, screen):
        screen.query_one("#import-path", Input).value = str(path)
        await analyse(pilot, screen)
        shown = screen._on_submit

        def hold_the_next_create(progress: SubmitProgress) -> None:
            if progress.batch_id is not None:  # part 1 created: part 2's create is held
                emulator.set_faults(create_latency_s=3600)
            shown(progress)

        screen._on_submit = hold_the_next_create  # type: ignore[method-assign]
        try:
            outcome = await submit_confirmed(pilot, app)
        finally:
            emulator.set_faults(create_latency_s=0)
            emulator.call(emulator.server.release_slow_creates)
        assert len(outcome.batch_ids) == 1
        assert (outcome.failed_parts, outcome.unresolved_parts) == ((), (2,))
        (said,) = [n for n in app._notifications if n.title == "1 part not submitted"]
        assert said.timeout >= 15  # long enough to read what it says (gone after 5 s before)
        assert "part 2:" in str(said.message)
        assert "so the part is not sent again" in str(said.message)

"""Pilot tests of the dashboard against the emulator (see conftest for the workspace)."""

from __future__ import annotations

import io
from typing import Any

from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ProcessingStatus
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.dashboard import DashboardScreen
from batchtop.tui.screens.label import LabelScreen
from batchtop.tui.screens.retry import RetryScreen
from batchtop.tui.screens.rows import JOB_PREFIX
from batchtop.tui.widgets.batches_table import BatchesTable
from dashboard_support import AppFactory, Workspace, type_at_once, until
from data_factory import request
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

SIZE = (160, 48)


def table_of(app: BatchtopApp) -> BatchesTable:
    return app.dashboard.table


def cell(app: BatchtopApp, key: str, column: str) -> str:
    return table_of(app).get_cell(key, column).plain


def messages(app: BatchtopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def select(pilot: Pilot[Any], app: BatchtopApp, key: str) -> None:
    table = table_of(app)
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()
    assert table.selected_key == key


def _has_option(options: OptionList, text: str) -> bool:
    return any(
        text in str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


def plain(widget: Any, width: int = 150) -> str:
    """The text a Static shows (its content rendered without styles)."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def settle(pilot: Pilot[Any], app: BatchtopApp) -> None:
    """Let workers finish and their messages land (never a sleep)."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def test_shows_store_before_any_network(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    calls = service.api_calls
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert set(table_of(app).keys) == {
            workspace.done,
            workspace.errors,
            workspace.running,
            workspace.hostile,
        }
        assert cell(app, workspace.running, "succeeded") == "300"
        assert cell(app, workspace.running, "status") == "in progress"
        assert cell(app, workspace.done, "status") == "ended"
        assert cell(app, workspace.errors, "errored") == "4"
    assert service.api_calls == calls


async def test_refresh_updates_counters_in_place(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        await select(pilot, app, workspace.running)
        order = table.keys
        label = table.get_cell(workspace.done, "label")
        counts = table.get_cell(workspace.running, "succeeded")
        emulator.clock.advance(2)
        await service.refresh()
        await settle(pilot, app)
        assert cell(app, workspace.running, "succeeded") == "500"
        assert cell(app, workspace.running, "processing") == "500"
        assert table.get_cell(workspace.running, "succeeded") is not counts
        # an unchanged batch keeps its cells (the same objects): its line is not rebuilt
        assert table.get_cell(workspace.done, "label") is label
        assert table.keys == order
        assert table.selected_key == workspace.running
        assert "last 12:01:05" in str(app.dashboard.status.render())


async def test_status_views_filter_rows(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("2")
        assert set(table_of(app).keys) == {workspace.running}
        await pilot.press("3")
        assert set(table_of(app).keys) == {workspace.done, workspace.errors, workspace.hostile}
        await pilot.press("4")
        assert set(table_of(app).keys) == {workspace.errors}
        await pilot.press("5")
        keys = table_of(app).keys
        jobs = [k for k in keys if k.startswith(JOB_PREFIX)]
        assert len(jobs) == 4
        # every job row is followed by its batch
        assert keys[keys.index(jobs[0]) + 1] in {
            workspace.done,
            workspace.errors,
            workspace.running,
            workspace.hostile,
        }
        await pilot.press("1")
        assert len(table_of(app).keys) == 4


async def test_slash_filters_and_escape_clears(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        assert box.display
        assert box.has_focus
        await pilot.press(*"EVAL")
        assert table_of(app).keys == [workspace.running]
        await pilot.press("enter")
        assert table_of(app).has_focus
        await pilot.press("escape")
        assert not box.display
        assert len(table_of(app).keys) == 4
        # ids match too
        await pilot.press("slash", *workspace.done[-6:])
        assert table_of(app).keys == [workspace.done]


async def test_keys_typed_right_after_slash_reach_the_filter(
    make_app: AppFactory, workspace: Workspace
) -> None:
    """`/` then letters queued at once: the letters land in the box (not on the table's
    bindings), and a `/` typed in the box is text."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_at_once(pilot, "slash", *"EVAL")
        box = app.screen.query_one("#filter", Input)
        assert (box.value, box.has_focus) == ("EVAL", True)
        assert await until(pilot, lambda: table_of(app).keys == [workspace.running])
        await type_at_once(pilot, "slash")
        assert box.value == "EVAL/"


async def test_sort_cycles_and_inverts(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s")  # created -> label, ascending
        assert app.dashboard.sort_by == "label"
        labels = [cell(app, k, "label") for k in table_of(app).keys]
        assert labels == sorted(labels, key=str.casefold)
        assert table_of(app).header_label("label") == "Label ▲"
        await pilot.press("S")
        assert [cell(app, k, "label") for k in table_of(app).keys] == labels[::-1]


async def test_cursor_keys(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        await pilot.press("G")
        assert table.cursor_row == 3
        await pilot.press("k")
        assert table.cursor_row == 2
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("j")
        assert table.cursor_row == 1


async def test_cancel_asks_then_cancels(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.running)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # no: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("c")
        await pilot.press("q")  # q in a question answers no; it does not quit the app
        await pilot.pause()
        assert app.is_running
        assert isinstance(app.screen, DashboardScreen)
        running = service.batch(workspace.running)
        assert running is not None
        assert running.remote.is_active
        assert running.remote.processing_status is ProcessingStatus.IN_PROGRESS
        await pilot.press("c")
        await pilot.press("y")
        await settle(pilot, app)
        batch = service.batch(workspace.running)
        assert batch is not None
        assert batch.remote.cancel_initiated_at is not None
        assert cell(app, workspace.running, "status") in ("canceling", "canceled")
        assert any("Cancel requested" in m for m in messages(app))


async def test_cancel_of_ended_batch_explains(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.done)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert any("already ended" in m for m in messages(app))


async def test_delete_only_when_ended(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.running)
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert any("only ended batches can be deleted" in m for m in messages(app))
        await select(pilot, app, workspace.done)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, app)
        assert workspace.done not in table_of(app).keys
        gone = service.batch(workspace.done)
        assert gone is None or gone.deleted


async def open_label(pilot: Pilot[Any], app: BatchtopApp, batch_id: str) -> Input:
    """Select the batch, press l: the label dialog's input box."""
    await pilot.pause()
    await select(pilot, app, batch_id)
    await pilot.press("l")
    assert isinstance(app.screen, LabelScreen)
    return app.screen.query_one(Input)


async def test_label_edit_persists(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        box = await open_label(pilot, app, workspace.done)
        assert box.value == "nightly summaries"
        box.value = ""
        await pilot.press(*"weekly digest", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        batch = service.batch(workspace.done)
        assert batch is not None
        assert batch.label == "weekly digest"
        assert cell(app, workspace.done, "label") == "weekly digest"


async def test_label_saved_unchanged_stays_exactly_as_it_was(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    """A label kept with a newline (written by an older batchtop, which did not refuse one) is
    shown on one line; enter without an edit keeps it as it was (it is not replaced by what
    the one-line box shows)."""
    service.store.set_label(workspace.done, "line one\nline two")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "\n" not in (await open_label(pilot, app, workspace.done)).value
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        batch = service.batch(workspace.done)
        assert batch is not None
        assert batch.label == "line one\nline two"
        assert not [n.title for n in app._notifications if n.severity == "error"]


async def test_copy_id(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.errors)
        await pilot.press("y")
        assert app.clipboard == workspace.errors
        assert any(workspace.errors in m for m in messages(app))


async def test_batch_ending_toasts(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        emulator.clock.advance(60)
        await service.refresh()
        await settle(pilot, app)
        assert cell(app, workspace.running, "status") == "ended"
        assert cell(app, workspace.running, "succeeded") == "1,000"
        ended = [n for n in app._notifications if n.title == "Batch ended"]
        assert len(ended) == 1
        assert "eval run" in str(ended[0].message)


async def test_help_lists_real_bindings(make_app: AppFactory, workspace: Workspace) -> None:
    from batchtop.tui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        out = plain(app.screen.query_one("#help-table"))
        assert "Cancel the selected batch" in out
        assert "copy_id" in out
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_palette_finds_cancel(make_app: AppFactory, workspace: Workspace) -> None:
    from textual.command import CommandPalette

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.running)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"batch: cancel")
        options = app.screen.query_one(OptionList)
        # The palette searches in a worker with a debounce: wait for the hit, bounded.
        assert await until(pilot, lambda: _has_option(options, "batch: cancel"))
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))


async def test_keymap_override(
    service: BatchService, emulator: EmulatorHandle, workspace: Workspace
) -> None:
    from batchtop.core.config import Settings

    settings = Settings(notify_bell=False, keymap={"cancel": "x", "view_active": "A"})
    app = BatchtopApp(service, settings, poll=False, now=emulator.clock.now)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("A")
        assert table_of(app).keys == [workspace.running]
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)


async def test_hostile_label_renders_literally(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # markup literal, escape codes shown as the CLI shows them (nothing dropped)
        assert cell(app, workspace.hostile, "label") == "[bold red]x[/] \\x1b[31mred\\x1b[0m"
        await select(pilot, app, workspace.hostile)
        await pilot.press("y")  # notification text with brackets must not break markup
        await pilot.pause()
        assert app.is_running


async def test_a_label_with_a_line_break_shows_it(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    """A label stored with a line break and a tab (by an older batchtop, another client's
    metadata) is shown as it is, not as another label ("a b c")."""
    service.store.set_label(workspace.done, "a\nb\tc")
    shown = "a\\x0ab\\x09c"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert cell(app, workspace.done, "label") == shown
        await select(pilot, app, workspace.done)
        assert await until(pilot, lambda: shown in plain(app.screen.query_one("#detail-head")))
        await pilot.press("c")  # it has ended: the notification names it by its label
        assert await until(pilot, lambda: any(shown in m for m in messages(app)))


async def test_a_job_name_with_a_line_break_shows_it(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    """A job is named after its file by default, and a file name may hold a line break:
    the name is shown as it is (as a label is), in its batch's Label cell, the job's row
    and the detail panel, never folded into another name."""
    outcome = await service.submit_requests([request("j-1", "hi")], name="a\nb\tc")
    (batch_id,) = outcome.batch_ids
    shown = "a\\x0ab\\x09c"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert await until(pilot, lambda: batch_id in table_of(app).keys)
        assert cell(app, batch_id, "label") == shown
        await select(pilot, app, batch_id)
        assert await until(pilot, lambda: shown in plain(app.screen.query_one("#detail-head")))
        await pilot.press("5")  # jobs
        job_key = next(k for k in table_of(app).keys if k.startswith(JOB_PREFIX))
        await select(pilot, app, job_key)
        assert any(shown in c.plain for c in table_of(app)._cells_of(job_key))


async def test_theme_from_settings(
    service: BatchService, emulator: EmulatorHandle, workspace: Workspace
) -> None:
    from batchtop.core.config import Settings

    app = BatchtopApp(service, Settings(theme="nord"), poll=False, now=emulator.clock.now)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "nord"


async def test_pause_shows_in_status_bar(make_app: AppFactory, service: BatchService) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        assert service.paused
        assert "PAUSED" in str(app.dashboard.status.render())
        await pilot.press("p")
        assert not service.paused
        assert "PAUSED" not in str(app.dashboard.status.render())


async def test_detail_panel_follows_selection(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.running)
        text = plain(app.screen.query_one("#detail-head"))
        assert workspace.running in text
        assert "1,000 total" in text  # numbers grouped as everywhere else
        await pilot.press("d")
        assert not app.screen.query_one("#detail").display


async def test_detail_panel_shows_the_betas_a_batch_was_created_with(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    from dashboard_support import request

    outcome = await service.submit_requests(
        [request("beta-1")], label="with betas", betas=["files-api-2025-04-14"]
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, outcome.batch_ids[0])
        assert "betas    files-api-2025-04-14" in plain(app.screen.query_one("#detail-cost"))
        await select(pilot, app, workspace.done)  # created without: no line
        assert "betas" not in plain(app.screen.query_one("#detail-cost"))


async def test_detail_panel_times_move_with_the_clock(
    make_app: AppFactory, workspace: Workspace, emulator: EmulatorHandle
) -> None:
    """An ended batch never changes, but its "… ago" in the detail panel still moves on."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.done)
        before = plain(app.screen.query_one("#detail-head"))
        emulator.clock.advance(3 * 3600)
        app.dashboard._tick()
        await pilot.pause()
        after = plain(app.screen.query_one("#detail-head"))
        assert workspace.done in after
        assert after != before
        assert "3h" in after.split("created", 1)[1].splitlines()[0]


async def test_retry_failed_submits_a_new_batch(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.running)
        await pilot.press("R")  # still running: explained, nothing asked
        assert isinstance(app.screen, DashboardScreen)
        await select(pilot, app, workspace.errors)
        await pilot.press("R")
        assert await until(pilot, lambda: isinstance(app.screen, RetryScreen))
        assert "Resend 4 requests (4 errored) of classify tickets" in dialog_text(app)
        await pilot.press("y")
        await settle(pilot, app)
        children = [b for b in service.batches() if b.parent_batch_id == workspace.errors]
        assert len(children) == 1
        assert children[0].remote.request_counts.total == 4
        assert children[0].id in table_of(app).keys
        assert any(m.startswith("Resent 4 requests as ") for m in messages(app))


def dialog_text(app: BatchtopApp) -> str:
    return plain(app.screen.query_one("#retry-question"))


async def hopeless_mix(service: BatchService, emulator: EmulatorHandle) -> str:
    """An ended batch: 2 overloaded (a resend can fix), 2 invalid, 1 not found (it cannot)."""
    from batchtop.core.emulator import Rule
    from data_factory import request

    emulator.set_rules(
        [
            Rule(pattern="^busy-", outcome="errored", error_type="overloaded_error"),
            Rule(pattern="^bad-", outcome="errored", error_type="invalid_request_error"),
            Rule(pattern="^gone-", outcome="errored", error_type="not_found_error"),
        ]
    )
    ids = ["busy-1", "busy-2", "bad-1", "bad-2", "gone-1", "ok-1"]
    outcome = await service.submit_requests([request(i) for i in ids], label="mixed errors")
    emulator.set_rules([])
    emulator.clock.advance(3600)
    await service.refresh()
    return outcome.batch_ids[0]


async def test_retry_announces_the_number_it_sends_and_offers_the_hopeless_ones(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    batch_id = await hopeless_mix(service, emulator)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, batch_id)
        await pilot.press("R")
        assert await until(pilot, lambda: isinstance(app.screen, RetryScreen), tries=400)
        text = dialog_text(app)
        assert "Resend 2 requests (2 errored) of mixed errors" in text
        assert "Left out: 3 requests that would fail the same way" in text
        assert "2 invalid_request_error, 1 not_found_error" in text
        await pilot.press("y")
        await settle(pilot, app)
        [child] = [b for b in service.batches() if b.parent_batch_id == batch_id]
        assert child.remote.request_counts.total == 2
        assert any(m.startswith("Resent 2 requests as ") for m in messages(app))

        # Asked for, the hopeless ones go too: the checkbox (i) and the count follow.
        await pilot.press("R")
        assert await until(pilot, lambda: isinstance(app.screen, RetryScreen), tries=400)
        await pilot.press("i")
        assert await until(
            pilot, lambda: "Resend 5 requests (5 errored) of mixed" in dialog_text(app)
        )
        await pilot.press("y")
        await settle(pilot, app)
        children = [b for b in service.batches() if b.parent_batch_id == batch_id]
        assert sorted(b.remote.request_counts.total for b in children) == [2, 5]
        assert any(m.startswith("Resent 5 requests as ") for m in messages(app))


async def test_retry_offers_refusals_and_max_tokens_cuts_with_a_new_max_tokens(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    """A batch where nothing failed but 2 requests were refused and 1 was cut at max_tokens:
    the dialog offers both, counts what the options send, and sends exactly that."""
    from batchtop.core.emulator import Rule
    from dashboard_support import request

    emulator.set_rules(
        [
            Rule(pattern="^refused-", stop_reason="refusal"),
            Rule(pattern="^cut-", stop_reason="max_tokens"),
        ]
    )
    ids = ["refused-1", "refused-2", "cut-1", "ok-1"]
    outcome = await service.submit_requests([request(i) for i in ids], label="stops")
    emulator.set_rules([])
    emulator.clock.advance(3600)
    await service.refresh()
    batch_id = outcome.batch_ids[0]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, batch_id)
        await pilot.press("R")
        assert await until(
            pilot, lambda: isinstance(app.screen, RetryScreen) or bool(messages(app)), tries=400
        )
        assert isinstance(app.screen, RetryScreen), messages(app)
        assert "Nothing to retry: stops has no failed requests." in dialog_text(app)
        await pilot.press("r")
        assert await until(pilot, lambda: "Resend 2 requests (2 refusals) of" in dialog_text(app))
        await pilot.press("m")  # the new max_tokens is asked for: typed in its field
        assert await until(pilot, lambda: "Type the new max_tokens" in dialog_text(app))
        await pilot.press("3", "2")  # not above the cut's own 64: left out, and said so
        assert await until(pilot, lambda: "already at max_tokens 32" in dialog_text(app))
        await pilot.press("0", "0")
        expected = "Resend 3 requests (2 refusals, 1 max_tokens cut with max_tokens 3,200) of"
        assert await until(pilot, lambda: expected in dialog_text(app))
        app.screen.query_one("#yes").focus()
        await pilot.press("enter")
        await settle(pilot, app)
        [child] = [b for b in service.batches() if b.parent_batch_id == batch_id]
        assert child.remote.request_counts.total == 3
        assert any(m.startswith("Resent 3 requests as ") for m in messages(app))


async def test_enter_opens_results_and_escape_returns(
    make_app: AppFactory, workspace: Workspace
) -> None:
    from batchtop.tui.screens.results import ResultsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.done)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        assert app.screen.batch_ids == [workspace.done]
        app.pop_screen()
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert table_of(app).selected_key == workspace.done


async def test_job_row_opens_results_of_all_its_batches(
    make_app: AppFactory, workspace: Workspace
) -> None:
    from batchtop.tui.screens.results import ResultsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("5")
        job_key = next(k for k in table_of(app).keys if k.startswith(JOB_PREFIX))
        await select(pilot, app, job_key)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        assert len(app.screen.batch_ids) == 1


async def test_export_compose_import_open_their_screens(
    make_app: AppFactory, workspace: Workspace
) -> None:
    from batchtop.tui.screens.compose import ComposeScreen
    from batchtop.tui.screens.export import ExportScreen
    from batchtop.tui.screens.importer import ImportScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(pilot, app, workspace.done)
        for key, screen_type in (("e", ExportScreen), ("n", ComposeScreen), ("i", ImportScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen_type), key
            if isinstance(app.screen, ExportScreen):
                assert app.screen.batch_ids == [workspace.done]
            app.pop_screen()
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)


async def test_theme_change_recolours_cells(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = table_of(app).get_cell(workspace.done, "status").style
        app.theme = "nord"
        await pilot.pause()
        after = table_of(app).get_cell(workspace.done, "status").style
        assert str(after) == str(app.current_theme.success)
        assert after != before


async def test_open_key_can_be_remapped(
    service: BatchService, emulator: EmulatorHandle, workspace: Workspace
) -> None:
    from batchtop.core.config import Settings
    from batchtop.tui.screens.results import ResultsScreen

    settings = Settings(notify_bell=False, keymap={"open": "o"})
    app = BatchtopApp(service, settings, poll=False, now=emulator.clock.now)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)


async def test_view_sort_and_filter_are_reactive(
    make_app: AppFactory, workspace: Workspace
) -> None:
    """Setting the dashboard's state re-renders the table (no refresh method to call)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        dashboard.view = "errors"
        assert table_of(app).keys == [workspace.errors]
        dashboard.view = "all"
        dashboard.sort = ("label", False)
        labels = [cell(app, k, "label") for k in table_of(app).keys]
        assert labels == sorted(labels, key=str.casefold)
        assert table_of(app).header_label("label") == "Label ▲"
        dashboard.filter_text = "EVAL"
        assert table_of(app).keys == [workspace.running]


def test_batch_actions_is_a_mixin_not_a_base_screen() -> None:
    """The actions are mixed into the dashboard; they are not a screen it extends."""
    from batchtop.tui.screens.batch_actions import BatchActions
    from textual.screen import Screen

    assert not issubclass(BatchActions, Screen)
    assert DashboardScreen.__mro__[1:3] == (BatchActions, Screen)


async def test_the_cursor_stays_on_top_until_moved_then_follows_its_batch(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    """Batches that arrive above (newest first) leave an untouched cursor on the first row;
    once the user moved it, it stays on the batch they chose."""

    async def arrive(name: str) -> str:
        emulator.clock.advance(1)  # newer than every batch shown
        sent = await service.submit_requests([request(f"{name}-1")], name=name)
        await service.refresh()
        return sent.batch_ids[0]

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        assert table.cursor_row == 0
        newer = await arrive("first-arrival")
        assert await until(pilot, lambda: table.keys[:1] == [newer])
        assert (table.cursor_row, table.selected_key) == (0, newer)
        await pilot.press("j")
        chosen = table.selected_key
        assert chosen is not None
        assert chosen != newer
        newest = await arrive("second-arrival")
        assert await until(pilot, lambda: table.keys[:1] == [newest])
        assert table.selected_key == chosen
        assert table.cursor_row == 2

"""Every key batchtop binds, in one module: a table per screen or widget (APP_KEYS,
DASHBOARD_KEYS, RESULTS_KEYS, ...); screens and widgets only say `bindings(THEIR_KEYS)`.

Each binding has an `id` (the action id users remap in `config.toml`, e.g.
`keymap = {quit = "q,ctrl+q"}`), a short description for the footer, a longer help text for
the help screen, and a command-palette title. The footer, the help screen, the command
palette and the keymap all read this table, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    key: str
    action: str
    description: str
    help: str
    palette: str = ""  # "group: name" in the command palette; "" = not listed
    show: bool = True
    key_display: str | None = None
    # Handled as the app receives the key, before the keys queued behind it are routed: for
    # a key that moves the focus into a text box, so what is typed right after it lands there.
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            key_display=self.key_display,
            tooltip=self.help,
            id=self.id or None,  # "": a widget's own navigation, not remapped
            priority=self.priority,
        )


APP_KEYS: tuple[Key, ...] = (
    Key(
        "pause",
        "p",
        "toggle_pause",
        "Pause",
        "Pause or resume automatic refresh",
        "app: pause / resume refresh",
    ),
    Key("refresh", "r", "refresh_now", "Refresh", "Refresh now", "app: refresh now"),
    # not in our palette commands: Textual lists its own "Quit"
    Key("quit", "q", "quit", "Quit", "Leave batchtop (batches keep running remotely)"),
    Key("help", "question_mark", "help", "Help", "Show every key of this screen", "app: help"),
)

DASHBOARD_KEYS: tuple[Key, ...] = (
    Key(
        "open",
        "enter",
        "open_results",
        "Results",
        "Open the results of the selected batch or job",
        "batch: open results",
    ),
    Key("view_all", "1", "view('all')", "All", "Show every batch", "view: all", show=False),
    Key(
        "view_active",
        "2",
        "view('active')",
        "Active",
        "Show batches still running",
        "view: active",
        show=False,
    ),
    Key(
        "view_ended", "3", "view('ended')", "Ended", "Show ended batches", "view: ended", show=False
    ),
    Key(
        "view_errors",
        "4",
        "view('errors')",
        "Errors",
        "Show batches with errored or expired requests",
        "view: with errors",
        show=False,
    ),
    Key(
        "view_jobs",
        "5",
        "view('jobs')",
        "Jobs",
        "Group batches by job with aggregate progress",
        "view: jobs",
        show=False,
    ),
    Key(
        "filter",
        "slash",
        "filter",
        "Filter",
        "Filter by label, id or provider:openai (esc clears)",
        "view: filter",
        priority=True,
    ),
    Key(
        "provider",
        "P",
        "provider",
        "Provider",
        "Show one provider's batches, the next, then all",
        "view: next provider",
        show=False,
    ),
    Key("sort", "s", "sort", "Sort", "Cycle the sort column", "view: cycle sort column"),
    Key(
        "sort_invert",
        "S",
        "sort_invert",
        "Invert",
        "Invert the sort order",
        "view: invert sort order",
        show=False,
    ),
    Key(
        "detail",
        "d",
        "toggle_detail",
        "Detail",
        "Show or hide the detail panel",
        "view: toggle detail panel",
        show=False,
    ),
    Key(
        "statistics",
        "v",
        "statistics",
        "Stats",
        "Charts: outcomes, tokens, cost and progress",
        "batch: statistics",
        show=False,
    ),
    Key("compose", "n", "compose", "New", "Compose a batch by hand", "batch: compose new"),
    Key(
        "import", "i", "import_file", "Import", "Import a file as a batch job", "batch: import file"
    ),
    Key(
        "cancel", "c", "cancel", "Cancel", "Cancel the selected batch (asks first)", "batch: cancel"
    ),
    Key(
        "delete",
        "D",
        "delete",
        "Delete",
        "Delete the selected ended batch (asks first)",
        "batch: delete",
        show=False,
    ),
    Key(
        "retry",
        "R",
        "retry",
        "Retry",
        "Resubmit failed and expired requests as a new batch",
        "batch: retry failed",
        show=False,
    ),
    Key(
        "resume",
        "u",
        "resume_job",
        "Resume",
        "Send the missing parts of a partly submitted job",
        "job: resume a partly submitted job",
        show=False,
    ),
    Key(
        "abandon",
        "A",
        "abandon_parts",
        "Abandon",
        "Close a job's unresolved parts as not sent",
        "job: abandon unresolved parts",
        show=False,
    ),
    Key(
        "export",
        "e",
        "export",
        "Export",
        "Export the selected batch's results",
        "batch: export results",
        show=False,
    ),
    Key("label", "l", "label", "Label", "Edit the local label", "batch: edit label", show=False),
    Key(
        "copy_id",
        "y",
        "copy_id",
        "Copy id",
        "Copy the batch id to the clipboard",
        "batch: copy id",
        show=False,
    ),
    Key("cursor_down", "j", "cursor_down", "Down", "Move down", show=False),
    Key("cursor_up", "k", "cursor_up", "Up", "Move up", show=False),
    Key("cursor_top", "g", "cursor_top", "Top", "Go to the first row", show=False),
    Key("cursor_bottom", "G", "cursor_bottom", "Bottom", "Go to the last row", show=False),
    Key("back", "escape", "back", "Back", "", show=False),
)


RESULT_DETAIL_KEYS: tuple[Key, ...] = (
    Key("results.detail_down", "j", "scroll_down", "Down", "Scroll the detail down", show=False),
    Key("results.detail_up", "k", "scroll_up", "Up", "Scroll the detail up", show=False),
    Key("results.detail_top", "g", "scroll_home", "Top", "Scroll to the top", show=False),
    Key("results.detail_end", "G", "scroll_end", "End", "Scroll to the end", show=False),
    Key(
        "results.detail_thinking",
        "T",
        "toggle_thinking",
        "Thinking",
        "Show or hide the model's thinking",
        show=False,
    ),
)


RESULTS_KEYS: tuple[Key, ...] = (
    Key(
        id="results.back",
        key="escape",
        action="back",
        description="Back",
        help="Back to the dashboard (or leave the search box / detail pane)",
    ),
    Key(
        id="results.search",
        key="slash",
        action="search",
        description="Search",
        help="Full-text search over outputs and inputs (Enter applies, esc leaves)",
        priority=True,
    ),
    Key(
        id="results.view_all",
        key="1",
        action="status('all')",
        description="All",
        help="Show every result (clears the status and error-type filters)",
        show=False,
    ),
    Key(
        id="results.view_succeeded",
        key="2",
        action="status('succeeded')",
        description="Succeeded",
        help="Show succeeded results only",
        show=False,
    ),
    Key(
        id="results.view_errored",
        key="3",
        action="status('errored')",
        description="Errored",
        help="Show errored results only",
        show=False,
    ),
    Key(
        id="results.view_expired",
        key="4",
        action="status('expired')",
        description="Expired",
        help="Show expired results only",
        show=False,
    ),
    Key(
        id="results.view_canceled",
        key="5",
        action="status('canceled')",
        description="Canceled",
        help="Show canceled results only",
        show=False,
    ),
    Key(
        id="results.error_type",
        key="x",
        action="cycle_error_type",
        description="Error type",
        help="Cycle the error-type filter through the error types present",
    ),
    Key(
        id="results.stop_reason",
        key="o",
        action="cycle_stop_reason",
        description="Stop reason",
        help="Cycle the stop-reason filter (refusal, max_tokens, tool_use, ...)",
    ),
    Key(
        id="results.raw",
        key="t",
        action="toggle_raw",
        description="Raw JSON",
        help="Toggle the raw JSON result line in the detail pane",
    ),
    Key(
        id="results.copy",
        key="y",
        action="copy",
        description="Copy output",
        help="Copy the highlighted output (or error message) to the clipboard",
    ),
    Key(
        id="results.export",
        key="e",
        action="export",
        description="Export",
        help="Export results (all, the current filter or the selected rows)",
    ),
    Key(
        id="results.statistics",
        key="v",
        action="statistics",
        description="Stats",
        help="Charts of these results: outcomes, tokens, cost, progress",
        show=False,
    ),
    Key(
        id="results.retry",
        key="R",
        action="retry",
        description="Retry failed",
        help="Resubmit the errored/expired/canceled requests as a new batch (asks first)",
    ),
    Key(
        id="results.focus_detail",
        key="enter",
        action="focus_detail",
        description="Detail",
        help="Move focus to the detail pane to scroll it",
        show=False,
    ),
)
"""The results viewer."""


RESULTS_TABLE_KEYS: tuple[Key, ...] = (
    Key(
        id="results.cursor_down",
        key="j,down",
        action="cursor_down",
        description="Down",
        help="Next result",
        show=False,
    ),
    Key(
        id="results.cursor_up",
        key="k,up",
        action="cursor_up",
        description="Up",
        help="Previous result",
        show=False,
    ),
    Key(
        id="results.page_down",
        key="pagedown,ctrl+f",
        action="page_down",
        description="Page down",
        help="One screen down",
        show=False,
    ),
    Key(
        id="results.page_up",
        key="pageup,ctrl+b",
        action="page_up",
        description="Page up",
        help="One screen up",
        show=False,
    ),
    Key(
        id="results.first",
        key="g,home",
        action="first",
        description="First row",
        help="First result",
        show=False,
    ),
    Key(
        id="results.last",
        key="G,end",
        action="last",
        description="Last row",
        help="Last result (works at 100,000 rows)",
        show=False,
    ),
    Key(
        id="results.select",
        key="space",
        action="toggle_select",
        description="Select",
        help="Select or unselect the highlighted row (for export)",
    ),
)
"""The results table (when it has the focus)."""


BATCHES_TABLE_KEYS: tuple[Key, ...] = (
    Key(id="", key="up", action="cursor_up", description="Cursor up", help="", show=False),
    Key(id="", key="down", action="cursor_down", description="Cursor down", help="", show=False),
    Key(id="", key="pageup", action="page_up", description="Page up", help="", show=False),
    Key(id="", key="pagedown", action="page_down", description="Page down", help="", show=False),
    Key(id="", key="home,ctrl+home", action="first", description="First row", help="", show=False),
    Key(id="", key="end,ctrl+end", action="last", description="Last row", help="", show=False),
    Key(id="", key="left", action="scroll_left", description="Scroll left", help="", show=False),
    Key(id="", key="right", action="scroll_right", description="Scroll right", help="", show=False),
)
"""The batches table's own navigation (no ids: not remapped, listed after ours in help)."""


EXPORT_KEYS: tuple[Key, ...] = (
    Key(
        id="export.cancel",
        key="escape",
        action="cancel",
        description="Cancel",
        help="Close without exporting",
    ),
    Key(
        id="export.run",
        key="ctrl+s",
        action="export",
        description="Export",
        help="Write the file (asks before overwriting)",
    ),
)
"""The export dialog."""


CONFIRM_KEYS: tuple[Key, ...] = (
    Key(id="confirm.no", key="escape,n,q", action="answer(False)", description="No", help=""),
    Key(id="confirm.yes", key="y", action="answer(True)", description="Yes", help=""),
)
"""Yes/no questions. q answers no here: quitting the app from inside a question would surprise."""


HELP_KEYS: tuple[Key, ...] = (
    Key(
        id="help.close", key="escape,q,question_mark", action="close", description="Close", help=""
    ),
)
"""The help screen."""


LABEL_KEYS: tuple[Key, ...] = (
    Key(id="label.cancel", key="escape", action="cancel", description="Cancel", help=""),
)
"""The label dialog."""


COMPOSE_KEYS: tuple[Key, ...] = (
    Key(
        id="compose.back",
        key="escape",
        action="back",
        description="Back",
        help="Back to the dashboard (nothing is sent)",
    ),
    Key(
        id="compose.add",
        key="ctrl+n",
        action="add_request",
        description="Add request",
        help="Add another request",
        priority=True,
    ),
    Key(
        id="compose.remove",
        key="ctrl+t",
        action="remove_request",
        description="Remove request",
        help="Remove the focused request",
        priority=True,
    ),
    Key(
        id="compose.submit",
        key="ctrl+s",
        action="submit",
        description="Submit",
        help="Submit the requests as a new batch (asks first, shows the cost)",
        priority=True,
    ),
)
"""The compose form (ctrl keys are priority: they act while a text box has the focus)."""


IMPORT_KEYS: tuple[Key, ...] = (
    Key(
        id="import.back",
        key="escape",
        action="back",
        description="Back",
        help="Back to the dashboard (nothing is sent)",
    ),
    Key(
        id="import.analyse",
        key="ctrl+r",
        action="analyse",
        description="Analyse",
        help="Read, validate, split and estimate the file (nothing is sent)",
        priority=True,
    ),
    Key(
        id="import.submit",
        key="ctrl+s",
        action="submit",
        description="Submit",
        help="Submit the analysed file as a job (asks first, shows the cost)",
        priority=True,
    ),
    Key(
        id="import.submit_valid",
        key="ctrl+b",
        action="submit_valid",
        description="Submit valid only",
        help="Submit the valid requests of a file with errors, leaving the invalid out"
        " (asks first, with the counts)",
        priority=True,
    ),
    Key(
        id="import.count_tokens",
        key="ctrl+t",
        action="count_tokens",
        description="Count tokens",
        help="Measure the input tokens of 20 analysed requests with the API's count_tokens"
        " (esc stops it)",
        priority=True,
    ),
    Key(
        id="import.browse",
        key="ctrl+o",
        action="toggle_browser",
        description="Browse files",
        help="Show or hide a file browser",
        priority=True,
    ),
)
"""The import form."""


PATH_INPUT_KEYS: tuple[Key, ...] = (
    Key(
        id="path_input.complete",
        key="tab",
        action="complete",
        description="Complete path",
        help="Complete the file name",
        show=False,
    ),
)
"""A path box (import, export): tab accepts the suggested completion."""


RETRY_KEYS: tuple[Key, ...] = (
    Key(id="retry.no", key="escape,n,q", action="answer(False)", description="No", help=""),
    Key(id="retry.yes", key="y", action="answer(True)", description="Retry", help=""),
    Key(
        id="retry.include",
        key="i",
        action="toggle_box('#retry-include')",
        description="Include all",
        help="",
    ),
    Key(
        id="retry.refusals",
        key="r",
        action="toggle_box('#retry-refusals')",
        description="Refusals",
        help="",
    ),
    Key(
        id="retry.cuts",
        key="m",
        action="toggle_box('#retry-cuts')",
        description="Cuts",
        help="",
    ),
)
"""The retry question (q answers no, as in every question)."""


STATISTICS_KEYS: tuple[Key, ...] = (
    Key(id="statistics.back", key="escape", action="back", description="Back", help="Back"),
    Key(
        id="statistics.export_chart",
        key="c",
        action="export_chart",
        description="Chart CSV",
        help="Write the focused chart's numbers as CSV (to the export directory)",
    ),
    Key(
        id="statistics.save_svg",
        key="s",
        action="save_svg",
        description="Save SVG",
        help="Save the whole statistics view as SVG (to the export directory)",
    ),
    Key(
        id="statistics.open_request",
        key="enter",
        action="open_request",
        description="Open",
        help="Open the highlighted request in the results viewer",
    ),
    Key(
        id="statistics.next",
        key="tab",
        action="app.focus_next",
        description="Next",
        help="",
        show=False,
    ),
)
"""The statistics view."""


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    return [k.binding() for k in keys]

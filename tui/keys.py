"""Every key batchtop binds, in one table.

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
            id=self.id,
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
        "Filter by label or id (esc clears)",
        "view: filter",
        priority=True,
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
)


RESULT_DETAIL_KEYS: tuple[Key, ...] = (
    Key("results.detail_down", "j", "scroll_down", "Down", "Scroll the detail down", show=False),
    Key("results.detail_up", "k", "scroll_up", "Up", "Scroll the detail up", show=False),
    Key("results.detail_top", "g", "scroll_home", "Top", "Scroll to the top", show=False),
    Key("results.detail_end", "G", "scroll_end", "End", "Scroll to the end", show=False),
)


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    return [k.binding() for k in keys]

"""The export dialog: format, scope and destination, then `BatchService.export` in a worker.

The dialog only collects choices; the core writes the file (atomically). Errors are shown in
the dialog, never raised; success closes it with a toast naming the written file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, get_args

from batchtop.core.errors import BatchtopError
from batchtop.core.models import ExportFormat, ExportResult, ResultFilter
from batchtop.tui.keys import EXPORT_KEYS, bindings
from batchtop.tui.safe_text import clean, safe_text
from batchtop.tui.screens.worker_errors import report_worker_error
from batchtop.tui.widgets.key_footer import KeyFooter
from batchtop.tui.words import quantity
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    ProgressBar,
    RadioButton,
    RadioSet,
    Static,
)
from textual.worker import Worker

if TYPE_CHECKING:
    from batchtop.core.service import BatchService

#: formats with columns: their export can turn JSON outputs into columns of their own
EXPANDABLE = ("csv", "parquet")

FORMAT_LABELS: dict[ExportFormat, str] = {
    "jsonl": "JSONL (raw result lines)",
    "csv": "CSV (one row per result)",
    "json": "JSON ({custom_id: text})",
    "markdown": "Markdown report",
    "parquet": "Parquet",
}
SCOPES = ("all", "filter", "selected")
# rows around the scrolling form: the key bar, the dialog's border, the buttons and margins
_AROUND = 1 + 2 + 5


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def default_path(service: BatchService, batch_ids: Sequence[str], fmt: ExportFormat) -> Path:
    """The core's default destination for this batch (or job) and format."""
    from batchtop.core.export import default_export_path

    owner = batch_ids[0] if batch_ids else "results"
    if len(batch_ids) > 1:
        view = service.batch(batch_ids[0])
        if view is not None and view.job_id:
            owner = view.job_id
    return Path(default_export_path(owner, fmt))


class ExportProgress(Message):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ExportProgress)


class ExportScreen(ModalScreen[ExportResult | None]):
    """Dismisses with the `ExportResult` once written, or None when cancelled."""

    BINDING_GROUP_TITLE = "Export"
    HELP_TITLE = "Export"
    BINDINGS: ClassVar[list[BindingType]] = bindings(EXPORT_KEYS)

    DEFAULT_CSS = """
    ExportScreen {
        align: center middle;
        & > #export-dialog {
            width: 84;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $primary;
            background: $panel;
            padding: 0 2;
        }
        /* the form scrolls when the terminal is short (max-height set on resize); the
           buttons stay under it */
        & #export-body { height: auto; scrollbar-size-vertical: 1; }
        & #export-title { text-style: bold; margin: 1 0; }
        & .export-label { color: $text-muted; margin-top: 1; }
        & RadioSet { width: 100%; }
        & #export-path { width: 100%; }
        & #export-expand { margin-top: 1; }
        & #export-hint { color: $text-muted; }
        & #export-error { color: $error; height: auto; }
        & #export-progress { margin-top: 1; display: none; }
        & #export-progress.-active { display: block; }
        & #export-buttons { height: auto; margin: 1 0; align-horizontal: right; }
        & #export-buttons Button { margin-left: 2; }
    }
    """

    def __init__(
        self,
        service: BatchService,
        batch_ids: Sequence[str] = (),
        filt: ResultFilter = ResultFilter(),  # noqa: B008 - frozen, shared safely
        selected: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        self.service = service
        self.batch_ids = list(batch_ids)
        self.filt = filt
        self.selected = frozenset(selected)
        self.fmt: ExportFormat = "jsonl"
        self.scope = "selected" if selected else "filter" if filt != ResultFilter() else "all"
        self._auto_path = ""
        self.result: ExportResult | None = None
        self._total = 0

    def compose(self) -> ComposeResult:
        has_pyarrow = parquet_available()
        with Vertical(id="export-dialog"):
            with VerticalScroll(id="export-body"):
                yield Static("Export results", id="export-title")
                yield Static("Format", classes="export-label")
                with RadioSet(id="export-format"):
                    for fmt in get_args(ExportFormat):
                        label = FORMAT_LABELS[fmt]
                        disabled = fmt == "parquet" and not has_pyarrow
                        if disabled:
                            label += " — needs pyarrow (pip install 'batchtop[parquet]')"
                        yield RadioButton(
                            Text(label),
                            value=fmt == self.fmt,
                            disabled=disabled,
                            id=f"export-format-{fmt}",
                        )
                yield Static("Scope", classes="export-label")
                with RadioSet(id="export-scope"):
                    yield RadioButton(
                        Text("All results"), value=self.scope == "all", id="export-scope-all"
                    )
                    yield RadioButton(
                        Text(self._filter_label()),
                        value=self.scope == "filter",
                        disabled=self.filt == ResultFilter(),
                        id="export-scope-filter",
                    )
                    yield RadioButton(
                        Text(f"Selected rows ({len(self.selected):,})"),
                        value=self.scope == "selected",
                        disabled=not self.selected,
                        id="export-scope-selected",
                    )
                yield Checkbox(
                    "JSON outputs as columns, one per key (CSV, Parquet)",
                    value=False,
                    disabled=self.fmt not in EXPANDABLE,
                    id="export-expand",
                    compact=True,
                )
                yield Static("Destination", classes="export-label")
                yield Input(id="export-path")
                yield Static("", id="export-hint")
                yield ProgressBar(total=None, show_eta=False, id="export-progress")
                yield Static("", id="export-error")
            with Horizontal(id="export-buttons"):
                yield Button("Cancel", id="export-cancel")
                yield Button("Export (ctrl+s)", variant="primary", id="export-run")
        yield KeyFooter()  # this dialog's keys, not those of the screen underneath

    def _filter_label(self) -> str:
        if self.filt == ResultFilter():
            return "Current filter (no filter is active)"
        parts: list[str] = []
        if self.filt.types:
            parts.append("/".join(sorted(t.value for t in self.filt.types)))
        if self.filt.error_types:
            parts.append("/".join(sorted(self.filt.error_types)))
        if self.filt.search:
            parts.append(f"search {self.filt.search!r}")
        return "Current filter: " + clean(", ".join(parts), keep_newlines=False)

    def on_resize(self, event: events.Resize) -> None:
        """The form gets what the screen has left after the key bar, the dialog's border
        and the buttons: at 80×24 it scrolls, the path and the buttons stay on screen."""
        self.query_one("#export-body").styles.max_height = max(event.size.height - _AROUND, 4)

    def on_mount(self) -> None:
        self._set_default_path()
        # The format first: Enter there picks a format. Enter in the destination box exports,
        # so focusing it first wrote a file at once for anyone who pressed Enter to begin.
        self.query_one("#export-format", RadioSet).focus()

    def _set_default_path(self) -> None:
        path_input = self.query_one("#export-path", Input)
        try:
            path = str(default_path(self.service, self.batch_ids, self.fmt))
        except BatchtopError as exc:
            self._error(str(exc))
            return
        if not path_input.value or path_input.value == self._auto_path:
            path_input.value = path
            path_input.cursor_position = len(path)
        self._auto_path = path

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        button_id = event.pressed.id or ""
        fmt = button_id.removeprefix("export-format-")
        if fmt in FORMAT_LABELS:
            self.fmt = fmt
            self._set_default_path()
            self.query_one("#export-expand", Checkbox).disabled = fmt not in EXPANDABLE

    @on(Input.Changed, "#export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        """Typing `….csv` picks CSV: the file name is the format people think in."""
        from batchtop.core.export import format_for_path

        fmt = format_for_path(event.value.strip())
        if fmt is None or fmt == self.fmt or event.value == self._auto_path:
            return
        button = self.query_one(f"#export-format-{fmt}", RadioButton)
        if not button.disabled:
            button.value = True

    @on(RadioSet.Changed, "#export-scope")
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        self.scope = (event.pressed.id or "").removeprefix("export-scope-")

    def export_filter(self) -> ResultFilter:
        if self.scope == "selected":
            return ResultFilter(custom_ids=self.selected)
        if self.scope == "filter":
            return self.filt
        return ResultFilter()

    def _error(self, message: str) -> None:
        error = self.query_one("#export-error", Static)
        error.update(safe_text(message))
        # At the form's foot: on a small terminal the form scrolls and the reason would be
        # below what is shown (ctrl+s would seem to do nothing).
        self.call_after_refresh(error.scroll_visible, animate=False)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "export")
        self.dismiss(None)

    @on(Button.Pressed, "#export-run")
    @on(Input.Submitted, "#export-path")
    def action_export(self) -> None:
        self.run_export()

    @work(group="export", exclusive=True, exit_on_error=False)
    async def run_export(self) -> None:
        from batchtop.core.export import destination_kind
        from batchtop.tui.screens.confirm import ConfirmScreen

        self._error("")
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self._error("Choose a destination file.")
            return
        path = Path(raw).expanduser()  # noqa: ASYNC240 - no I/O, string work
        if path.is_dir():
            self._error(f"{path} is a directory: add a file name.")
            return
        if destination_kind(path) == "file":  # a device or FIFO is written to, not replaced
            body = Text(f"{clean(str(path))} already exists. Replace it?")
            if not await self.app.push_screen_wait(
                ConfirmScreen("Overwrite file?", body, yes="Overwrite")
            ):
                return
        filt = self.export_filter()
        bar = self.query_one("#export-progress", ProgressBar)
        bar.add_class("-active")
        try:
            self._total = self.service.results_page(self.batch_ids, filt, 0, 1).total
        except BatchtopError:
            self._total = 0
        bar.update(total=self._total or None, progress=0)
        self.query_one("#export-run", Button).disabled = True
        try:
            expand = self.query_one("#export-expand", Checkbox)
            result = await self.service.export(
                self.batch_ids,
                self.fmt,
                path,
                filt,
                progress=self._on_progress,
                expand_json=expand.value and not expand.disabled,
            )
        except (BatchtopError, OSError) as exc:
            self._error(f"Export failed: {exc}")
            bar.remove_class("-active")
            self.query_one("#export-run", Button).disabled = False
            return
        self.result = result
        self.app.notify(
            f"{quantity(result.rows, 'result')} written to {escape(clean(str(result.path)))}",
            title="Export finished",
        )
        self.dismiss(result)

    def _on_progress(self, rows: int, *_: object) -> None:
        self.post_message(ExportProgress(rows))  # called from the export thread

    def on_export_progress(self, message: ExportProgress) -> None:
        self.query_one("#export-progress", ProgressBar).update(progress=message.rows)
        self.query_one("#export-hint", Static).update(
            Text(f"{message.rows:,} of {quantity(self._total, 'row')} written…", style="dim")
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if report_worker_error(self, event) and event.worker.group == "export":
            self._error(f"Export failed: {event.worker.error}")
            self.query_one("#export-progress", ProgressBar).remove_class("-active")
            self.query_one("#export-run", Button).disabled = False

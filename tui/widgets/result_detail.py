"""The detail pane of the results viewer: one result's input, output and raw JSON.

The output is Markdown (that is what models write), passed to the Markdown widget as data
after control characters are removed; everything else is shown through `safe_text`, and the
raw line through `Syntax`, neither of which reads markup.
"""

from __future__ import annotations

import json
from typing import ClassVar

from batchtop.core.models import ResultRow, ResultType
from batchtop.core.result_blocks import ResultContent, parse_content
from batchtop.tui.format import gap
from batchtop.tui.keys import RESULT_DETAIL_KEYS, bindings
from batchtop.tui.safe_text import clean, safe_text
from batchtop.tui.widgets.results_table import STATUS_STYLES
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Markdown, Static

MAX_MARKDOWN_CHARS = 20_000
"""Longer outputs are cut in the rendered view (exports keep everything). Laying out text
costs time on the event loop: 60,000 characters without spaces (CJK, say) froze the UI
for about a second, so the preview stays well below that."""
MAX_WIDE_MARKDOWN_CHARS = 6_000
"""For CJK-heavy text (3+ bytes a character) laying out costs about five times as much."""
MAX_RAW_CHARS = 20_000
"""The raw view is cut too: highlighting a 1 MB result line took several seconds."""


def markdown_limit(text: str) -> int:
    """How many characters of `text` the rendered view shows (see the constants)."""
    sample = text[:MAX_MARKDOWN_CHARS]
    if len(sample.encode()) > 2 * len(sample):
        return MAX_WIDE_MARKDOWN_CHARS
    return MAX_MARKDOWN_CHARS


def pretty_json(raw: str) -> str:
    """Indent a JSON line for reading; control characters come out as \\u escapes."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return raw


def meta_text(row: ResultRow) -> Text:
    text = Text(end="")
    text.append(clean(row.custom_id, keep_newlines=False), style="bold")
    gap(text)
    text.append(row.type.value, style=STATUS_STYLES.get(row.type, ""))
    if row.stop_reason or row.type is ResultType.SUCCEEDED:  # an embedding has none: —
        gap(text)
        text.append(f"stop: {clean(row.stop_reason or '—', keep_newlines=False)}", style="dim")
    if row.model:
        gap(text)
        text.append(clean(row.model, keep_newlines=False), style="dim")
    gap(text)
    text.append(f"tokens in {row.input_tokens:,} / out {row.output_tokens:,}", style="dim")
    text.append(f"\nbatch {clean(row.batch_id, keep_newlines=False)}", style="dim")
    return text


MAX_MATCH_LINES = 5
MATCH_LINE_CHARS = 160
MATCH_STYLE = "bold reverse"


def highlighted(text: Text, needle: str) -> Text:
    """`text` with every case-insensitive occurrence of `needle` marked (a copy)."""
    if needle:
        text = text.copy()
        text.highlight_words([needle], MATCH_STYLE, case_sensitive=False)
    return text


def matching_lines(text: str, needle: str) -> tuple[list[str], int]:
    """Up to MAX_MATCH_LINES lines of `text` that contain `needle` (each around its first
    match, at most MATCH_LINE_CHARS long), and how many lines match in all."""
    folded = needle.casefold()
    found: list[str] = []
    count = 0
    for line in text.splitlines():
        at = line.casefold().find(folded)
        if at < 0:
            continue
        count += 1
        if len(found) < MAX_MATCH_LINES:
            start = max(at - MATCH_LINE_CHARS // 3, 0)
            cut = line[start : start + MATCH_LINE_CHARS]
            found.append(
                ("…" if start else "") + cut + ("…" if start + len(cut) < len(line) else "")
            )
    return found, count


def blocks_text(content: ResultContent, show_thinking: bool) -> Text:
    """Everything but the answer's text, as lines (all outside text made safe)."""
    out = Text(end="")

    def line(label: str, style: str = "bold") -> None:
        if out.plain:
            out.append("\n")
        out.append(label, style=style)

    only_text = all(b.kind == "text" for b in content.blocks)
    for block in content.blocks:
        if block.kind == "thinking":
            if show_thinking:
                line("▾ thinking", "bold dim")
                out.append("\n")
                out.append_text(safe_text(block.text or "(not shown: display omitted)", "dim"))
            else:
                size = f"{len(block.text):,} characters" if block.text else "omitted"
                line(f"▸ thinking ({size}) · T to show", "dim")
        elif block.kind == "redacted_thinking":
            line("▸ redacted thinking (encrypted by the API)", "dim")
        elif block.kind in ("tool_use", "server_tool_use"):
            kind = "server tool" if block.kind == "server_tool_use" else "tool call"
            line(f"{kind}: ")
            out.append_text(safe_text(block.name or "", "bold", one_line=True))
            out.append("\n")
            out.append_text(safe_text(block.input_json or "{}"))
        elif block.kind.endswith("_tool_result"):
            line("results:", "bold")
            if block.text:
                out.append("\n")
                out.append_text(safe_text(block.text, "dim"))
        elif block.kind == "text" and block.citations:
            line("citations:", "bold")
            for i, c in enumerate(block.citations, start=1):
                out.append(f"\n[{i}] ")
                out.append_text(safe_text(f"{c.title} — {c.source}", one_line=True))
                if c.cited_text:
                    out.append("\n    ")
                    out.append_text(safe_text(f"“{c.cited_text}”", "italic", one_line=True))
        elif block.kind != "text":
            line(f"{block.kind} block", "dim")
    if content.refusal:
        line("refused: ", "bold red")
        out.append_text(safe_text(content.refusal, one_line=True))
    if only_text and not content.refusal:
        return Text(end="")
    return out


class ResultDetail(VerticalScroll, can_focus=True):
    """Input + output of the highlighted result; `raw` switches to the raw result line.

    With a search, its matches are marked in the input, and the output's matching lines are
    listed (marked) above the rendered output: Markdown is drawn by its own widgets."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(RESULT_DETAIL_KEYS)

    DEFAULT_CSS = """
    ResultDetail {
        height: 1fr;
        border-top: solid $primary 50%;
        padding: 0 1;
        & .detail-heading { color: $text-muted; text-style: bold; margin-top: 1; }
        & #detail-output { margin: 0; padding: 0; background: transparent; }
        & #detail-error { color: $error; }
        & #detail-blocks { margin-bottom: 1; }
        & #detail-matches { color: $text; margin-bottom: 1; }
        & .-hidden { display: none; }
    }
    """

    raw: reactive[bool] = reactive(False, init=False)
    show_thinking: reactive[bool] = reactive(False, init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.row: ResultRow | None = None
        self.raw_line: str | None = None
        self.raw_error: str | None = None  # why the raw line could not be read (one line)
        self.output_markdown = ""  # what the Markdown widget was given (tests read it)
        self.search = ""
        self.content: ResultContent | None = None
        self._has_blocks = False

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-meta")
        yield Static("Input", classes="detail-heading", id="detail-input-heading")
        yield Static("", id="detail-input")
        yield Static("Output", classes="detail-heading", id="detail-output-heading")
        yield Static("", id="detail-matches", classes="-hidden")
        yield Static("", id="detail-error", classes="-hidden")
        yield Static("", id="detail-blocks", classes="-hidden")
        yield Markdown("", id="detail-output", open_links=False)
        yield Static("", id="detail-raw", classes="-hidden")

    def show(
        self,
        row: ResultRow | None,
        raw_line: str | None = None,
        search: str = "",
        raw_error: str | None = None,
    ) -> None:
        """`raw_error`: why `raw_line` is missing (its results file gone or changed), said by
        the raw view in its place."""
        self.row = row
        self.raw_line = raw_line
        self.raw_error = raw_error
        self.search = search
        meta = self.query_one("#detail-meta", Static)
        inp = self.query_one("#detail-input", Static)
        err = self.query_one("#detail-error", Static)
        out = self.query_one("#detail-output", Markdown)
        matches = self.query_one("#detail-matches", Static)
        matches.set_class(True, "-hidden")
        succeeded = row is not None and row.type is ResultType.SUCCEEDED
        self.content = parse_content(raw_line) if succeeded else None
        self._show_blocks()
        if row is None:
            meta.update(Text("No result here.", style="dim"))
            inp.update("")
            err.set_class(True, "-hidden")
            self.output_markdown = ""
            out.update("")
            self._show_raw()
            return
        meta.update(meta_text(row))
        if row.input_text is None:
            inp.update(
                Text("(not known: batchtop has no manifest for this batch)", style="dim italic")
            )
        else:
            inp.update(highlighted(safe_text(row.input_text), search))
        if row.type is ResultType.SUCCEEDED:
            err.set_class(True, "-hidden")
        else:
            label = row.error_type or row.type.value
            message = row.error_message or {
                ResultType.EXPIRED: "The batch expired before this request was processed.",
                ResultType.CANCELED: "The batch was canceled before this request was processed.",
            }.get(row.type, "")
            err.update(safe_text(f"{label}: {message}" if message else label, "bold"))
            err.set_class(False, "-hidden")
        text = clean(row.text)
        texts = [b.text for b in self.content.blocks if b.kind == "text"] if self.content else []
        if self.content is not None and len(texts) != len(self.content.blocks):
            text = clean("\n\n".join(texts))  # the other blocks are drawn above
        if search:
            self._show_matches(text, search)
        limit = markdown_limit(text)
        if len(text) > limit:
            text = text[:limit] + "\n\n*(cut here; export the result to read all)*"
        self.output_markdown = text
        out.update(text)
        self._show_raw()
        self.scroll_home(animate=False)

    def _show_matches(self, text: str, search: str) -> None:
        lines, count = matching_lines(text, search)
        if not count:
            return
        out = Text(end="")
        out.append(f"{count:,} {'line matches' if count == 1 else 'lines match'} ", style="dim")
        out.append_text(safe_text(search, "italic", one_line=True))
        for line in lines:
            out.append("\n")
            out.append_text(highlighted(safe_text(line, one_line=True), search))
        matches = self.query_one("#detail-matches", Static)
        matches.update(out)
        matches.set_class(self.raw, "-hidden")

    def watch_raw(self) -> None:
        self._show_raw()

    def watch_show_thinking(self) -> None:
        self._show_blocks()

    def action_toggle_thinking(self) -> None:
        self.show_thinking = not self.show_thinking

    def _show_blocks(self) -> None:
        """Thinking (collapsed unless `t`), tool calls with their input, search results,
        citations and a refusal's reason, in the order the model wrote them."""
        widget = self.query_one("#detail-blocks", Static)
        content = self.content
        out = blocks_text(content, self.show_thinking) if content is not None else None
        self._has_blocks = out is not None and bool(out.plain)
        if out is None or not out.plain:
            widget.update("")
            widget.set_class(True, "-hidden")
            return
        widget.update(out)
        widget.set_class(self.raw, "-hidden")

    def _show_raw(self) -> None:
        raw = self.query_one("#detail-raw", Static)
        for widget_id in (
            "#detail-input-heading",
            "#detail-input",
            "#detail-output-heading",
            "#detail-output",
        ):
            self.query_one(widget_id).set_class(self.raw, "-hidden")
        self.query_one("#detail-blocks").set_class(self.raw or not self._has_blocks, "-hidden")
        if self.raw:
            self.query_one("#detail-matches").set_class(True, "-hidden")
        elif self.search and self.row is not None:
            self.query_one("#detail-matches").set_class(
                not matching_lines(clean(self.row.text), self.search)[1], "-hidden"
            )
        if self.raw and self.row is not None and self.row.type is not ResultType.SUCCEEDED:
            self.query_one("#detail-error").set_class(True, "-hidden")
        elif self.row is not None and self.row.type is not ResultType.SUCCEEDED:
            self.query_one("#detail-error").set_class(False, "-hidden")
        raw.set_class(not self.raw, "-hidden")
        if self.raw and self.raw_line is None and self.raw_error is not None:
            raw.update(Text(clean(self.raw_error, keep_newlines=False), style="bold red"))
        elif self.raw:
            source = clean(pretty_json(self.raw_line)) if self.raw_line else "(no raw line)"
            if len(source) > MAX_RAW_CHARS:
                more = len(source) - MAX_RAW_CHARS
                source = (
                    f"{source[:MAX_RAW_CHARS]}\n… ({more:,} more characters: export to read all)"
                )
            raw.update(Syntax(source, "json", word_wrap=True, theme="ansi_dark"))

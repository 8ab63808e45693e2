"""The import report: issues located by file:line:col, the split plan and the cost estimate.

Issues quote the user's file, so every string goes through `safe_text`/`clean`: a line of
CSV that looks like markup is shown as it is.
"""

from __future__ import annotations

import os
from dataclasses import replace

from batchtop.core.models import (
    CostEstimate,
    ImportIssue,
    ImportReport,
    SplitPart,
    provider_name,
)
from batchtop.tui.format import money, size
from batchtop.tui.safe_text import clean
from batchtop.tui.words import quantity, them
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

MAX_ISSUES_SHOWN = 500


def issue_words(issue: ImportIssue) -> str:
    """An issue's words in the TUI: a file of the other provider's requests says how to
    import it here (a new batch goes to the provider the dashboard shows alone)."""
    if issue.for_provider is None:
        return issue.message
    name = provider_name(issue.for_provider)
    return (
        f"{issue.message.rstrip('.')}: show {name} alone on the dashboard (P)"
        " and import it from there."
    )


def issue_line(issue: ImportIssue) -> Text:
    style = "red" if issue.severity == "error" else "yellow"
    line = Text(end="")
    line.append("error  " if issue.severity == "error" else "warning ", style=f"bold {style}")
    # the file name is enough here: the report's header names the full path
    where = replace(issue, path=os.path.basename(issue.path) or issue.path).location()
    line.append(clean(where, keep_newlines=False), style="bold")
    line.append("  ")
    line.append(clean(issue_words(issue), keep_newlines=False), style=style)
    return line


def issues_text(issues: list[ImportIssue]) -> Text:
    if not issues:
        return Text("No problems found.", style="green")
    errors = [i for i in issues if i.severity == "error"]
    ordered = errors + [i for i in issues if i.severity != "error"]
    text = Text(end="")
    for n, issue in enumerate(ordered[:MAX_ISSUES_SHOWN]):
        if n:
            text.append("\n")
        text.append_text(issue_line(issue))
    if len(ordered) > MAX_ISSUES_SHOWN:
        text.append(f"\n… and {len(ordered) - MAX_ISSUES_SHOWN:,} more", style="dim")
    return text


def _output(estimate: CostEstimate) -> str:
    """The output tokens the figure counts (`≤1,200 output tokens`), or that it is not
    bounded."""
    if estimate.output_unbounded:
        return estimate.output_words
    return f"≤{estimate.max_output_tokens:,} output tokens"


def estimate_text(estimate: CostEstimate | None) -> Text:
    if estimate is None:
        return Text("Cost: unknown", style="dim")
    text = Text(end="")
    text.append("Cost estimate ", style="bold")
    if estimate.unpriced:  # never $0.0000 for a model without a price
        text.append("unknown", style="bold yellow")
        text.append(
            f"  ·  {clean(estimate.unpriced_words, keep_newlines=False)}\n"
            f"  {'' if estimate.exact else '~'}{estimate.input_tokens:,} input tokens,"
            f" {_output(estimate)}",
            style="yellow",
        )
        return text
    if estimate.unbounded_requests:  # the figure is not the whole cost: said in colour
        text.append(f"({estimate.covers})\n", style="bold yellow")
    else:
        text.append(f"({estimate.covers})\n", style="dim")
    text.append(f"  batch {money(estimate.batch_usd)}", style="bold green")
    text.append(f"  ·  standard {money(estimate.standard_usd)}")
    saving = estimate.savings_usd
    pct = f" ({saving / estimate.standard_usd:.0%})" if estimate.standard_usd else ""
    text.append(f"  ·  you save {money(saving)}{pct}\n", style="green")
    tokens = (
        f"{'' if estimate.exact else '~'}{estimate.input_tokens:,} input tokens,"
        f" {_output(estimate)}"
    )
    if estimate.input_only_standard_usd:
        text.append(
            f"  input only: batch {money(estimate.input_only_batch_usd)}"
            f" · standard {money(estimate.input_only_standard_usd)}  ·  {tokens}",
            style="dim",
        )
    else:
        text.append(f"  {tokens}", style="dim")
    text.append(f"\n  input tokens {estimate.input_basis}", style="dim")
    if estimate.unknown_models:
        text.append(
            "\n  " + clean(estimate.unpriced_words, keep_newlines=False),
            style="yellow",
        )
    return text


def parts_table(parts: list[SplitPart]) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold dim")
    table.add_column("part", justify="right")
    table.add_column("requests", justify="right")
    table.add_column("size", justify="right")
    table.add_column("input lines", justify="right")
    for part in parts:
        table.add_row(
            str(part.index),
            f"{part.request_count:,}",
            size(part.byte_size),
            f"{part.first_line:,}–{part.last_line:,}",
        )
    return table


def summary_renderable(report: ImportReport) -> RenderableType:
    head = Text(end="")
    head.append(clean(report.path, keep_newlines=False), style="bold")
    head.append(f"  ·  {report.format}  ·  {quantity(report.request_count, 'valid request')}")
    head.append(f"  ·  {size(report.byte_size)}")
    n_err, n_warn = len(report.errors), len(report.issues) - len(report.errors)
    head.append("\n")
    if n_err:
        head.append(quantity(n_err, "error"), style="bold red")
        head.append(f" — fix {them(n_err)} and analyse again to submit", style="red")
        if report.can_submit_valid:
            head.append("\nor submit the valid ones alone (ctrl+b): ", style="yellow")
            head.append(report.valid_only_summary, style="yellow")
    else:
        head.append("ready to submit" if report.ok else "nothing to submit", style="bold green")
    if n_warn:
        head.append(f"  ·  {quantity(n_warn, 'warning')}", style="yellow")
    for note in report.notes:
        head.append("\nnote: ", style="dim")
        head.append(clean(note, keep_newlines=False))
    if report.models:
        head.append("\nmodels: ", style="dim")
        head.append(
            clean(", ".join(f"{m} ×{c:,}" for m, c in report.models.items()), keep_newlines=False)
        )
    plan = Text(
        f"Split plan: {quantity(len(report.parts), 'batch', 'batches')}",
        style="bold",
    )
    parts: list[RenderableType] = [head, Text(""), plan]
    if report.parts:
        parts.append(parts_table(report.parts))
    estimate = estimate_text(report.estimate)
    estimate.end = "\n"  # the last line of a Group is dropped when it has no end
    parts += [Text(""), estimate]
    return Group(*parts)


def preview_renderable(report: ImportReport, limit: int = 2) -> RenderableType:
    import json

    if not report.preview:
        return Text("(no valid request to preview)", style="dim")
    body = "\n".join(
        json.dumps(req, indent=2, ensure_ascii=False) for req in report.preview[:limit]
    )
    return Syntax(clean(body), "json", word_wrap=True, theme="ansi_dark")

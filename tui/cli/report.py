"""An import report (validation issues, split plan, cost estimate) as text and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchtop.tui.cli.render import clean
from batchtop.tui.format import money, size
from batchtop.tui.words import quantity
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from batchtop.core.models import ImportIssue, ImportReport
    from rich.console import Console

MAX_ISSUES_SHOWN = 50


def issue_message(issue: ImportIssue) -> str:
    """An issue's words on the command line: a file of the other provider's requests says
    the flag that imports it."""
    if issue.for_provider is None:
        return issue.message
    return f"{issue.message.rstrip('.')}: submit it with --provider {issue.for_provider}."


def report_dict(report: ImportReport) -> dict[str, Any]:
    est = report.estimate
    return {
        "path": report.path,
        "format": report.format,
        "requests": report.request_count,
        "bytes": report.byte_size,
        "ok": report.ok,
        "invalid_requests": report.invalid_requests,
        "can_submit_valid": report.can_submit_valid,
        "notes": list(report.notes),
        "models": report.models,
        "issues": [
            {
                "severity": i.severity,
                "message": issue_message(i),
                "path": i.path,
                "line": i.line,
                "column": i.column,
                "field": i.field,
                "location": i.location(),
                "for_provider": i.for_provider,
            }
            for i in report.issues
        ],
        "parts": [
            {
                "index": p.index,
                "requests": p.request_count,
                "bytes": p.byte_size,
                "first_line": p.first_line,
                "last_line": p.last_line,
            }
            for p in report.parts
        ],
        "estimate": None
        if est is None
        else {
            "input_tokens": est.input_tokens,
            "max_output_tokens": est.max_output_tokens,
            "batch_usd": est.batch_usd,
            "standard_usd": est.standard_usd,
            "savings_usd": est.savings_usd,
            "unknown_models": list(est.unknown_models),
            "input_tokens_measured": est.measured_requests,
            "input_tokens_exact": est.exact,
            "input_basis": est.input_basis,
        },
    }


def print_report(console: Console, report: ImportReport) -> None:
    errors = len(report.errors)
    warnings = len(report.issues) - errors
    head = Text()
    head.append(clean(report.path), "bold")
    head.append(f"  ({report.format}, {quantity(report.request_count, 'request')}, ")
    head.append(f"{size(report.byte_size)})")
    console.print(head)
    for issue in report.issues[:MAX_ISSUES_SHOWN]:
        line = Text()
        line.append(f"{issue.severity}: ", "bold red" if issue.severity == "error" else "yellow")
        line.append(clean(issue.location()))
        line.append(": ")
        line.append(clean(issue_message(issue)))
        console.print(line)
    if len(report.issues) > MAX_ISSUES_SHOWN:
        console.print(f"... and {len(report.issues) - MAX_ISSUES_SHOWN:,} more issues")
    if errors or warnings:
        console.print(
            Text(
                f"{quantity(errors, 'error')}, {quantity(warnings, 'warning')}",
                "red" if errors else "yellow",
            )
        )
    for note in report.notes:
        console.print(Text("note: " + clean(note)))
    if report.models:
        models = ", ".join(f"{clean(m)} ×{n:,}" for m, n in report.models.items())
        console.print(Text("models: " + models))
    if report.parts:
        table = Table(title="split plan", header_style="bold")
        for col in ("part", "requests", "size", "lines"):
            table.add_column(col, justify="right")
        for p in report.parts:
            table.add_row(
                str(p.index),
                f"{p.request_count:,}",
                size(p.byte_size),
                f"{p.first_line:,}–{p.last_line:,}",
            )
        console.print(table)
    est = report.estimate
    if est is not None and est.unpriced:
        line = Text()
        line.append("estimated cost: ", "bold")
        line.append("unknown", "yellow")
        line.append(
            f" ({clean(est.unpriced_words)}); {est.input_tokens:,} input tokens, {est.output_words}"
        )
        console.print(line)
        console.print(Text(f"  input tokens {est.input_basis}", style="dim"))
    elif est is not None:
        line = Text()
        line.append("estimated cost: ", "bold")

        def usd(value: float) -> str:
            return money(value, approx=True)

        line.append(f"{usd(est.batch_usd)} at batch price (standard {usd(est.standard_usd)},")
        line.append(f" saving {usd(est.savings_usd)}); ")
        line.append(f"{est.input_tokens:,} input tokens, {est.output_words}")
        console.print(line)
        console.print(Text(f"  input tokens {est.input_basis}", style="dim"))
        if est.unbounded_requests:  # never a figure that reads as the whole cost
            console.print(Text(f"  {est.covers}", style="yellow"))
        elif est.input_only_batch_usd:
            console.print(f"  ({est.covers}; input alone costs {usd(est.input_only_batch_usd)})")
        if est.unknown_models:
            console.print(
                Text(f"  {clean(est.unpriced_words)} (their requests are not in the figure)")
            )

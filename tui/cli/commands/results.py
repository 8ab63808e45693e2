"""`batchtop results ID` (alias `export`): download if needed, then export the results.

Data to stdout, messages to stderr: with `--out -`, or with no `--out` when stdout is not a
terminal (`batchtop results ID > r.jsonl`), the export streams to stdout; on a terminal,
control characters in it are made visible and Parquet is refused. Otherwise it goes to a
file (`--out FILE`, `--out DIR/`, or the default name in the current directory), which is
never replaced without a yes on the terminal or `--force`."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchtop.core.errors import Conflict, UserError
from batchtop.core.export import destination_kind, format_for_path
from batchtop.core.models import ExportFormat, ResultFilter, ResultType
from batchtop.tui.cli import progress
from batchtop.tui.cli.render import clean, console, print_json, txt
from batchtop.tui.cli.session import ask, can_ask, resolve, routed
from batchtop.tui.cli.terminal import is_terminal, stdout_sink
from batchtop.tui.words import quantity

if TYPE_CHECKING:
    from batchtop.core.service import BatchService
    from rich.console import Console


def _filter(ns: argparse.Namespace) -> ResultFilter:
    types = frozenset(ResultType(s) for s in (getattr(ns, "status", None) or []))
    return ResultFilter(types=types, search=getattr(ns, "search", None) or "")


async def ensure_results(service: BatchService, ids: list[str], out: Console) -> None:
    """Download the results of exactly these batches if they are not here yet."""
    for bid in ids:
        view = service.batch(bid)
        if (
            view is not None
            and view.results_downloaded
            and view.results_indexed
            and service.results_on_disk(bid)  # else its results file went: download again
        ):
            continue
        service.require_key(bid)  # the store's state may be stale: only the API can say
        if view is not None and view.remote.is_active and service.has_api_key:
            await service.refresh()
            view = service.batch(bid)
        if view is not None and view.remote.is_active:
            raise Conflict(f"Batch {bid} has not ended yet: its results come when it ends.")
        with progress.task(f"Downloading the results of {bid}", unit=" bytes") as advance:
            outcome = await service.download_results(bid, advance, waiting_note(out))
        # another batchtop process downloaded them while this one waited: not this one
        out.print(txt(outcome.note or f"downloaded {quantity(outcome.rows, 'result')} of {bid}"))
    for bid in ids:  # an adopted batch whose results do not look like its part's: said loudly
        warning = await service.adopted_results_warning(bid)
        if warning is not None:
            out.print(txt(f"warning: {warning}", "bold red"))


def waiting_note(out: Console) -> Callable[[str], None]:
    """Shows the note core gives when another batchtop process is downloading a batch."""

    def note(text: str) -> None:
        out.print(txt(text))

    return note


def _may_replace(path: Path, force: bool) -> bool:
    """An existing file is replaced with --force, or after a yes on the terminal."""
    if force or destination_kind(path) != "file":
        return True
    if not can_ask():
        raise UserError(f"{path} already exists: pass --force to replace it.")
    return ask(f"{clean(str(path))} already exists. Replace it?")


def _destination(service: BatchService, ids: list[str], fmt: ExportFormat, out: str | None) -> Path:
    if out is not None and out.endswith(("/", "\\")):
        try:
            Path(out).expanduser().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"Cannot create the directory {out}: {exc.strerror}.") from exc
    return service.export_path(ids, fmt, out)


def _names_stdout(out: str) -> bool:
    """`--out` names this process's standard output, a terminal or a pipe (/dev/stdout,
    /proc/self/fd/1, the terminal's own device): written as `-` is. Written to directly, a
    terminal ran the escape sequences of the results (a title set, the screen cleared), and
    a reader that left (`| head -1`) was an error."""
    try:
        st = os.stat(os.path.expanduser(out))
        return not stat.S_ISREG(st.st_mode) and os.path.samestat(st, os.fstat(1))
    except OSError:
        return False


@routed("id")
async def cmd_results(service: BatchService, ns: argparse.Namespace) -> int:
    to_stdout = (
        ns.out == "-"
        or (ns.out is None and not is_terminal(sys.stdout))
        or (ns.out is not None and _names_stdout(ns.out))
    )
    named = None if to_stdout or ns.out is None else ns.out
    fmt: ExportFormat = ns.format or (format_for_path(named) if named else None) or "jsonl"
    if ns.expand_json and fmt not in ("csv", "parquet"):
        raise UserError("--expand-json makes columns: use it with CSV or Parquet.")
    ids = await resolve(service, ns.id)
    messages = console(stderr=True)
    if to_stdout:
        if fmt == "parquet" and is_terminal(sys.stdout):
            raise UserError(
                "Parquet is binary and is not written to a terminal:"
                " use --out FILE, or redirect the output (> results.parquet)."
            )
        await ensure_results(service, ids, messages)
        return await _to_stdout(service, ns, ids, fmt, messages)
    path = _destination(service, ids, fmt, ns.out)
    if not _may_replace(path, ns.force):
        messages.print("nothing was written")
        return 1
    await ensure_results(service, ids, messages)
    with progress.task(f"Exporting to {clean(str(path))}", unit=" results") as advance:
        result = await service.export(
            ids, fmt, path, _filter(ns), advance, expand_json=ns.expand_json
        )
    if ns.json:
        print_json({"path": str(result.path), "format": result.format, "rows": result.rows})
    else:
        messages.print(f"wrote {quantity(result.rows, 'result')} to {clean(str(result.path))}")
    return 0


async def _to_stdout(
    service: BatchService,
    ns: argparse.Namespace,
    ids: list[str],
    fmt: ExportFormat,
    messages: Console,
) -> int:
    sink, shown = stdout_sink(fmt)
    enabled = progress.wanted(data_on_stdout=True)
    with progress.task("Exporting", unit=" results", enabled=enabled) as advance:
        result = await service.export(
            ids, fmt, None, _filter(ns), advance, to=sink, expand_json=ns.expand_json
        )
    if shown is not None:
        shown.finish()
    sys.stdout.flush()
    summary: dict[str, Any] = {"path": "-", "format": result.format, "rows": result.rows}
    if ns.json:  # stdout carries the data: the summary goes with the messages
        sys.stderr.write(json.dumps(summary) + "\n")
    elif is_terminal(sys.stderr) and not is_terminal(sys.stdout):
        messages.print(f"wrote {quantity(result.rows, 'result')} to stdout")
    return 0

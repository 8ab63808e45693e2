"""`batchtop results ID` (alias `export`): download if needed, then export the results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from batchtop.core.errors import Conflict
from batchtop.core.models import ResultFilter, ResultType
from batchtop.tui.cli.render import clean, console, print_json
from batchtop.tui.cli.session import resolve
from batchtop.tui.words import quantity

if TYPE_CHECKING:
    from batchtop.core.service import BatchService
    from rich.console import Console


def _filter(ns: argparse.Namespace) -> ResultFilter:
    types = frozenset(ResultType(s) for s in (getattr(ns, "status", None) or []))
    return ResultFilter(types=types, search=getattr(ns, "search", None) or "")


async def _ensure_results(service: BatchService, ids: list[str], out: Console) -> None:
    for bid in ids:
        view = service.batch(bid)
        if view is not None and view.results_downloaded and view.results_indexed:
            continue
        if view is not None and view.remote.is_active and service.has_api_key:
            await service.refresh()
            view = service.batch(bid)
        if view is not None and view.remote.is_active:
            raise Conflict(f"Batch {bid} has not ended yet: its results come when it ends.")
        rows = await service.download_results(bid)
        out.print(f"downloaded {quantity(rows, 'result')} of {bid}")


async def cmd_results(service: BatchService, ns: argparse.Namespace) -> int:
    from batchtop.core.export import format_for_path

    ids = await resolve(service, ns.id)
    await _ensure_results(service, ids, console(stderr=True))
    out = Path(ns.out) if ns.out and ns.out != "-" else None
    fmt = ns.format or (format_for_path(out) if out else None) or "jsonl"
    if ns.out == "-":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"out.{fmt}"
            await service.export(ids, fmt, target, _filter(ns))
            sys.stdout.buffer.write(target.read_bytes())
            sys.stdout.flush()
        return 0
    result = await service.export(ids, fmt, out, _filter(ns))
    if ns.json:
        print_json({"path": str(result.path), "format": result.format, "rows": result.rows})
    else:
        console().print(f"wrote {quantity(result.rows, 'result')} to {clean(str(result.path))}")
    return 0

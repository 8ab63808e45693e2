"""Command-line front end: `batchtop` and its subcommands.

A second front end on `BatchService` (the TUI is the first), for scripts and CI. Exit codes:
0 ok, 1 a user-facing error (one line on stderr, never a traceback), 2 a usage error,
130 interrupted. `--json` prints machine-readable output. With no subcommand, the Textual
dashboard starts. Heavy imports (Rich, the service, the SDK) happen inside commands so
`--version` and `--help` stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchtop.core import package_version
from batchtop.tui.words import quantity

if TYPE_CHECKING:
    from batchtop.core.models import BatchView, ImportReport
    from batchtop.core.service import BatchService
    from rich.console import Console

EXPORT_FORMATS = ("jsonl", "csv", "json", "markdown", "parquet")
IMPORT_FORMATS = ("jsonl", "json", "records-jsonl", "csv", "txt")
RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")


# --- output helpers ----------------------------------------------------------------------


def _console(stderr: bool = False) -> Console:
    """A Console that never interprets markup or emoji codes and strips control characters
    from plain strings: everything printed may carry text from files or the API."""
    from batchtop.tui.safe_text import clean
    from rich.console import Console

    class SafeConsole(Console):
        def print(self, *objects: Any, **kwargs: Any) -> None:
            super().print(
                *(clean(o) if isinstance(o, str) else o for o in objects),
                **kwargs,
            )

    stream = sys.stderr if stderr else sys.stdout
    # piped output (scripts, CI) gets a wide table instead of an 80-column squeeze
    width = None if stream.isatty() else 200
    return SafeConsole(
        stderr=stderr,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=width,
    )


def _clean(text: str | None, *, one_line: bool = True, limit: int = 0) -> str:
    from batchtop.tui.safe_text import clean

    value = clean(text or "", keep_newlines=not one_line)
    if limit and len(value) > limit:
        value = value[: max(limit - 1, 0)] + "…"
    return value


def _txt(text: str | None, style: str = "", *, limit: int = 0) -> Any:
    from batchtop.tui.safe_text import safe_text

    return safe_text(text, style, one_line=True, limit=limit)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _batch_dict(view: BatchView) -> dict[str, Any]:
    r = view.remote
    c = r.request_counts
    return {
        "id": r.id,
        "processing_status": r.processing_status.value,
        "request_counts": {
            "processing": c.processing,
            "succeeded": c.succeeded,
            "errored": c.errored,
            "canceled": c.canceled,
            "expired": c.expired,
        },
        "created_at": _iso(r.created_at),
        "expires_at": _iso(r.expires_at),
        "ended_at": _iso(r.ended_at),
        "label": view.label,
        "job_id": view.job_id,
        "job_part": view.job_part,
        "parent_batch_id": view.parent_batch_id,
        "model": view.model,
        "results_downloaded": view.results_downloaded,
        "results_indexed": view.results_indexed,
        "estimated_cost_usd": view.estimated_cost_usd,
        "actual_cost_usd": view.actual_cost_usd,
        "deleted": view.deleted,
    }


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


STATUS_STYLE = {"in_progress": "yellow", "canceling": "magenta", "ended": "green"}


def _bar(fraction: float, width: int = 12) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled) + f" {fraction * 100:3.0f}%"


def _batches_table(
    views: Sequence[BatchView], title: str | None = None, service: BatchService | None = None
) -> Any:
    """A table of batches; with `service`, progress (by count, and by time vs 24 h) and ETA."""
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(title=title, header_style="bold", expand=False)
    columns = [
        ("id", "left"),
        ("status", "left"),
        ("total", "right"),
        ("done", "right"),
        ("ok", "right"),
        ("err", "right"),
        ("cancel", "right"),
        ("exp", "right"),
        ("age", "right"),
        ("label", "left"),
        ("cost", "right"),
    ]
    if service is not None:
        columns[4:4] = [("progress", "left"), ("24h window", "left"), ("eta", "right")]
    for col, justify in columns:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for v in views:
        r = v.remote
        c = r.request_counts
        status = r.processing_status.value
        cells: list[Any] = [
            _txt(r.id),
            _txt(status + (" (deleted)" if v.deleted else ""), STATUS_STYLE.get(status, "")),
            f"{c.total:,}",
            f"{c.done:,}",
        ]
        if service is not None:
            by_count, by_time = service.progress(v.id)
            eta = service.eta(v.id)
            cells += [
                _bar(by_count),
                _bar(by_time, 8),
                eta.astimezone().strftime("%H:%M:%S") if eta is not None else "-",
            ]
        cells += [
            f"{c.succeeded:,}",
            _txt(f"{c.errored:,}", "red" if c.errored else ""),
            f"{c.canceled:,}",
            _txt(f"{c.expired:,}", "red" if c.expired else ""),
            _age(now, r.created_at),
            _txt(v.label or "", limit=30),
            _usd(v.actual_cost_usd if v.actual_cost_usd is not None else v.estimated_cost_usd),
        ]
        table.add_row(*cells)
    return table


# --- service plumbing ----------------------------------------------------------------------


async def _open_service() -> BatchService:
    from batchtop.core.service import BatchService

    return await BatchService.open()


def _run(
    fn: Callable[[BatchService, argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """Adapt an async command to a sync handler that opens and closes the service."""

    def handler(ns: argparse.Namespace) -> int:
        async def main() -> int:
            service = await _open_service()
            try:
                return await fn(service, ns)
            finally:
                await service.close()

        return asyncio.run(main())

    return handler


async def _refresh_quietly(service: BatchService, console: Console) -> bool:
    """Refresh if a key is set; on failure say so on stderr and keep the cached state."""
    from batchtop.core.errors import ApiError

    if not service.has_api_key:
        return False
    try:
        await service.refresh()
    except ApiError as err:
        if err.kind in ("auth", "invalid"):
            raise  # a bad key or a refused call will not fix itself: say so and fail
        console.print(_txt(f"warning: showing cached state: {err}", "yellow"))
        return False
    return True


async def _resolve(service: BatchService, ident: str) -> list[str]:
    """Batch or job id → batch ids, refreshing once if it is unknown locally."""
    from batchtop.core.errors import NotFound

    try:
        return service.resolve_ids(ident)
    except NotFound:
        if not service.has_api_key:
            raise
    await service.refresh()
    try:
        return service.resolve_ids(ident)
    except NotFound:
        if ident.startswith("job_"):
            raise
    # a batch beyond the list window (older than the newest 1,000 batches)
    view = await service.fetch_batch(ident)
    return [view.id]


# --- commands --------------------------------------------------------------------------------


def _options(ns: argparse.Namespace) -> Any:
    from batchtop.core.models import ImportOptions

    return ImportOptions(
        format=ns.format,
        template=ns.template,
        model=ns.model,
        max_tokens=ns.max_tokens,
        system=ns.system,
        id_field=ns.id_field,
    )


def _report_dict(report: ImportReport) -> dict[str, Any]:
    est = report.estimate
    return {
        "path": report.path,
        "format": report.format,
        "requests": report.request_count,
        "bytes": report.byte_size,
        "ok": report.ok,
        "models": report.models,
        "issues": [
            {
                "severity": i.severity,
                "message": i.message,
                "path": i.path,
                "line": i.line,
                "column": i.column,
                "field": i.field,
                "location": i.location(),
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
        },
    }


MAX_ISSUES_SHOWN = 50


def _print_report(console: Console, report: ImportReport) -> None:
    from rich.table import Table
    from rich.text import Text

    errors = len(report.errors)
    warnings = len(report.issues) - errors
    head = Text()
    head.append(_clean(report.path), "bold")
    head.append(f"  ({report.format}, {quantity(report.request_count, 'request')}, ")
    head.append(f"{report.byte_size / 1e6:,.1f} MB)")
    console.print(head)
    for issue in report.issues[:MAX_ISSUES_SHOWN]:
        line = Text()
        line.append(f"{issue.severity}: ", "bold red" if issue.severity == "error" else "yellow")
        line.append(_clean(issue.location()))
        line.append(": ")
        line.append(_clean(issue.message))
        console.print(line)
    if len(report.issues) > MAX_ISSUES_SHOWN:
        console.print(f"... and {len(report.issues) - MAX_ISSUES_SHOWN:,} more issues")
    if errors or warnings:
        console.print(
            Text(f"{errors:,} error(s), {warnings:,} warning(s)", "red" if errors else "yellow")
        )
    if report.models:
        models = ", ".join(f"{_clean(m)} ×{n:,}" for m, n in report.models.items())
        console.print(Text("models: " + models))
    if report.parts:
        table = Table(title="split plan", header_style="bold")
        for col in ("part", "requests", "size", "lines"):
            table.add_column(col, justify="right")
        for p in report.parts:
            table.add_row(
                str(p.index),
                f"{p.request_count:,}",
                f"{p.byte_size / 1e6:,.2f} MB",
                f"{p.first_line}-{p.last_line}",
            )
        console.print(table)
    est = report.estimate
    if est is not None:
        line = Text()
        line.append("estimated cost: ", "bold")
        line.append(f"{_usd(est.batch_usd)} at batch price (standard {_usd(est.standard_usd)},")
        line.append(f" saving {_usd(est.savings_usd)}); ")
        line.append(f"{est.input_tokens:,} input tokens, up to {est.max_output_tokens:,} output")
        console.print(line)
        if est.input_only_batch_usd:
            console.print(
                f"  (upper bound: every request writing max_tokens; input alone costs "
                f"{_usd(est.input_only_batch_usd)})"
            )
        if est.unknown_models:
            console.print(
                Text("  no price known for: " + ", ".join(_clean(m) for m in est.unknown_models))
            )


def _input_file(name: str) -> Path:
    from batchtop.core.errors import UserError

    path = Path(name)
    if not path.exists():
        raise UserError(f"No such file: {path}.")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not an input file.")
    return path


async def cmd_submit(service: BatchService, ns: argparse.Namespace) -> int:

    path = _input_file(ns.file)
    console = _console(stderr=ns.json)
    if console.is_terminal:
        with console.status(f"Analysing {_clean(str(path))} …"):
            report = await service.analyse(path, _options(ns))
    else:
        report = await service.analyse(path, _options(ns))
    try:
        return await _submit_report(service, ns, report, path, console)
    finally:
        service.discard_import(report)  # no-op when already removed after a full submit


async def _submit_report(
    service: BatchService,
    ns: argparse.Namespace,
    report: ImportReport,
    path: Path,
    console: Console,
) -> int:
    from batchtop.core.errors import UserError

    data: dict[str, Any] = {}
    if ns.json:
        data = _report_dict(report)
    else:
        _print_report(console, report)
    if report.errors:
        if ns.json:
            data["submitted"] = False
            _print_json(data)
        n = len(report.errors)
        raise UserError(f"{quantity(n, 'error')} in {path}: nothing was submitted.")
    if not report.ok:
        raise UserError(f"{path} holds no requests: nothing was submitted.")
    if ns.dry_run:
        if ns.json:
            data["submitted"] = False
            _print_json(data)
        else:
            console.print("dry run: nothing was submitted.")
        return 0
    if console.is_terminal and len(report.parts) > 0:
        with console.status(f"Submitting {len(report.parts)} batch(es) …"):
            outcome = await service.submit(report, name=ns.name, label=ns.label)
    else:
        outcome = await service.submit(report, name=ns.name, label=ns.label)
    if ns.json:
        data.update(
            submitted=True,
            job_id=outcome.job_id,
            batch_ids=list(outcome.batch_ids),
            failed_parts=list(outcome.failed_parts),
            errors=list(outcome.errors),
        )
        _print_json(data)
    else:
        for bid in outcome.batch_ids:
            console.print(f"submitted {bid}")
        console.print(f"job {outcome.job_id}: {len(outcome.batch_ids)} batch(es)")
        for err in outcome.errors:
            console.print(_txt(err, "red"))
        if outcome.batch_ids:
            console.print("next: batchtop watch   then   batchtop results <id> --format json")
    if outcome.failed_parts:
        raise UserError(
            f"{len(outcome.failed_parts)} part(s) of job {outcome.job_id} were not submitted."
        )
    return 0


async def cmd_ls(service: BatchService, ns: argparse.Namespace) -> int:
    if not ns.offline:
        await _refresh_quietly(service, _console(stderr=True))
    views = service.batches("active" if ns.active else "all")
    if ns.json:
        _print_json([_batch_dict(v) for v in views])
        return 0
    console = _console()
    if not views:
        console.print("no batches" + (" in progress" if ns.active else ""))
        return 0
    console.print(_batches_table(views))
    return 0


async def cmd_watch(service: BatchService, ns: argparse.Namespace) -> int:
    from batchtop.core.errors import ApiError, BatchtopError
    from rich.live import Live

    console = _console()
    await service.refresh()
    if ns.target:
        ids = await _resolve(service, ns.target)
    else:
        # everything in progress, plus batchtop's own batches whose results are not here yet
        ids = [
            v.id
            for v in service.batches()
            if v.remote.is_active
            or (v.job_id is not None and not v.results_downloaded and not v.deleted)
        ]
        if not ids:
            console.print("nothing in progress")
            return 0
    interval = ns.interval if ns.interval is not None else service.settings.refresh_interval_s

    def views() -> list[BatchView]:
        return [v for v in (service.batch(i) for i in ids) if v is not None]

    def render() -> Any:
        return _batches_table(views(), title="batchtop watch (Ctrl-C to stop)", service=service)

    failures = 0
    with Live(render(), console=console, auto_refresh=False, transient=False) as live:
        while any(v.remote.is_active and not v.deleted for v in views()):
            await asyncio.sleep(interval)
            try:
                await service.refresh()
                failures = 0
            except ApiError as err:
                if err.kind == "auth":
                    raise
                failures += 1
                await asyncio.sleep(min(60.0, interval * 2**failures))
            live.update(render(), refresh=True)
        live.update(render(), refresh=True)
    if not console.is_terminal:
        console.line()
    await service.wait_background()
    failed = False
    for view in views():
        if view.remote.results_url is None or view.deleted:
            continue
        if not view.results_downloaded:
            try:
                await service.download_results(view.id)
            except BatchtopError as err:
                console.print(_txt(f"results of {view.id}: {err}", "red"))
                failed = True
                continue
        done = service.batch(view.id) or view
        console.print(
            f"{done.id} ended: {quantity(done.results_indexed, 'result')} downloaded"
            f" (batchtop results {done.id} --format json)"
        )
    return 1 if failed else 0


def _filter(ns: argparse.Namespace) -> Any:
    from batchtop.core.models import ResultFilter, ResultType

    types = frozenset(ResultType(s) for s in (getattr(ns, "status", None) or []))
    return ResultFilter(types=types, search=getattr(ns, "search", None) or "")


async def _ensure_results(service: BatchService, ids: list[str], console: Console) -> None:
    from batchtop.core.errors import Conflict

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
        console.print(f"downloaded {quantity(rows, 'result')} of {bid}")


async def cmd_results(service: BatchService, ns: argparse.Namespace) -> int:
    from batchtop.core.export import format_for_path

    err_console = _console(stderr=True)
    ids = await _resolve(service, ns.id)
    await _ensure_results(service, ids, err_console)
    out = Path(ns.out) if ns.out and ns.out != "-" else None
    fmt = ns.format or (format_for_path(out) if out else None) or "jsonl"
    if ns.out == "-":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"out.{fmt}"
            result = await service.export(ids, fmt, target, _filter(ns))
            sys.stdout.buffer.write(target.read_bytes())
            sys.stdout.flush()
        return 0
    result = await service.export(ids, fmt, out, _filter(ns))
    if ns.json:
        _print_json({"path": str(result.path), "format": result.format, "rows": result.rows})
    else:
        _console().print(f"wrote {quantity(result.rows, 'result')} to {_clean(str(result.path))}")
    return 0


async def cmd_retry(service: BatchService, ns: argparse.Namespace) -> int:
    ids = await _resolve(service, ns.id)
    if len(ids) != 1:
        from batchtop.core.errors import UserError

        raise UserError("retry takes one batch id (a job holds several batches).")
    outcome = await service.retry_failed(ids[0], include_invalid=ns.include_invalid)
    if ns.json:
        _print_json({"job_id": outcome.job_id, "batch_ids": list(outcome.batch_ids)})
    else:
        for bid in outcome.batch_ids:
            _console().print(f"submitted {bid} (retry of {ids[0]})")
    return 0


def _confirm(ns: argparse.Namespace, question: str) -> bool:
    from batchtop.core.errors import UserError

    if ns.yes:
        return True
    if not sys.stdin.isatty():
        raise UserError(f"{question} Re-run with --yes to confirm without a prompt.")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


async def cmd_cancel(service: BatchService, ns: argparse.Namespace) -> int:
    if not _confirm(ns, f"Cancel batch {ns.id}?"):
        _console(stderr=True).print("not canceled")
        return 1
    view = await service.cancel(ns.id)
    if ns.json:
        _print_json(_batch_dict(view))
    else:
        _console().print(f"{view.id}: {view.remote.processing_status.value}")
    return 0


async def cmd_delete(service: BatchService, ns: argparse.Namespace) -> int:
    if not _confirm(ns, f"Delete batch {ns.id} from the API?"):
        _console(stderr=True).print("not deleted")
        return 1
    await service.delete(ns.id)
    if ns.json:
        _print_json({"id": ns.id, "deleted": True})
    else:
        _console().print(f"deleted {ns.id} (its local results stay browsable)")
    return 0


async def cmd_label(service: BatchService, ns: argparse.Namespace) -> int:
    from batchtop.core.errors import NotFound

    if service.batch(ns.id) is None:
        if not service.has_api_key:
            raise NotFound(f"No batch {ns.id} is known locally.")
        await service.refresh()
    service.set_label(ns.id, ns.text)
    _console().print(f"{ns.id}: label {'cleared' if not ns.text.strip() else 'set'}")
    return 0


async def cmd_reconcile(service: BatchService, ns: argparse.Namespace) -> int:
    resolved = await service.reconcile()
    if ns.json:
        _print_json(
            [
                {"job_id": i.job_id, "part": i.part, "state": i.state.value, "batch_id": i.batch_id}
                for i in resolved
            ]
        )
        return 0
    console = _console()
    if not resolved:
        console.print("nothing to reconcile")
    for i in resolved:
        console.print(f"job {i.job_id} part {i.part}: {i.state.value} {i.batch_id or ''}".rstrip())
    return 0


def cmd_locate(ns: argparse.Namespace) -> int:
    from batchtop.core import paths
    from batchtop.core.store import default_path

    places = {
        "config": str(paths.config_file()),
        "data": str(paths.data_dir()),
        "store": str(default_path()),
        "results": str(paths.results_dir()),
        "imports": str(paths.imports_dir()),
    }
    if ns.json:
        _print_json(places)
    else:
        for key, value in places.items():
            sys.stdout.write(f"{key:8} {value}\n")
    return 0


def cmd_emulator(ns: argparse.Namespace) -> int:
    from batchtop.core import emulator

    return int(emulator.run_from_args(ns))


def cmd_tui(ns: argparse.Namespace) -> int:
    import gc
    import importlib

    # Importing Textual and batchtop and building the first screen allocate a lot and free
    # nothing, yet the cyclic GC keeps walking it all (~14 ms of a ~260 ms start). It is
    # off until the dashboard's first frame, which freezes what exists and turns it back on.
    gc.disable()
    try:
        try:
            run_app = importlib.import_module("batchtop.tui.app").run_app
        except (ImportError, AttributeError):
            sys.stdout.write(
                "The dashboard is not available in this build. Try `batchtop --demo` once"
                " it is,\n`batchtop emulator` for a local API, or `batchtop --help` for the"
                " commands.\n"
            )
            return 0
        result = run_app(demo=bool(ns.demo))
        return int(result or 0)
    finally:
        gc.enable()


# --- parser ----------------------------------------------------------------------------------


class _Version(argparse.Action):
    """`--version`, reading the installed version only when asked (see package_version)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        sys.stdout.write(f"batchtop {package_version()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchtop",
        description="A terminal dashboard and command line for the Anthropic Message Batches API."
        " With no command, opens the dashboard.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument(
        "--demo", action="store_true", help="open the dashboard against a built-in emulator"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("submit", "validate, split, estimate and submit an input file", _run(cmd_submit))
    p.add_argument("file", help="JSONL (native batch), JSON/JSONL records, CSV or TXT")
    p.add_argument("--format", choices=IMPORT_FORMATS, help="input format (default: guess)")
    p.add_argument("--template", help='prompt template with {field} placeholders, e.g. "{content}"')
    p.add_argument("--model", help="model for requests that do not name one")
    p.add_argument("--max-tokens", type=int, help="max_tokens for requests that do not set it")
    p.add_argument("--system", help="system prompt for every request")
    p.add_argument("--id-field", help="record field to derive custom_id from")
    p.add_argument("--name", help="job name (default: the file name)")
    p.add_argument("--label", help="local label for the batches")
    p.add_argument("--dry-run", action="store_true", help="report and estimate only")
    json_flag(p)

    p = add("ls", "list batches (refreshes first when a key is set)", _run(cmd_ls))
    p.add_argument("--active", action="store_true", help="only batches still in progress")
    p.add_argument("--offline", action="store_true", help="show the local store, no API call")
    json_flag(p)

    p = add("watch", "live progress until the batches end, then download results", _run(cmd_watch))
    p.add_argument("target", nargs="?", help="batch or job id (default: everything active)")
    p.add_argument("--interval", type=float, help="seconds between refreshes")

    for name, help_text in (
        ("results", "download (if needed) and export a batch's or job's results"),
        ("export", "export results with filters (alias of results)"),
    ):
        p = add(name, help_text, _run(cmd_results))
        p.add_argument("id", help="batch or job id")
        p.add_argument(
            "--format",
            choices=EXPORT_FORMATS,
            help="jsonl (raw lines), csv, json ({custom_id: text}), markdown, parquet"
            " (default: from --out's extension, else jsonl)",
        )
        p.add_argument("--out", help="output file ('-' for stdout; default: current directory)")
        p.add_argument(
            "--status", action="append", choices=RESULT_TYPES, help="only these outcomes"
        )
        p.add_argument("--search", help="full-text filter over inputs and outputs")
        json_flag(p)

    p = add("retry", "resubmit a batch's errored/expired/canceled requests", _run(cmd_retry))
    p.add_argument("id")
    p.add_argument(
        "--include-invalid", action="store_true", help="also resend invalid_request_error rows"
    )
    json_flag(p)

    p = add("cancel", "cancel a batch in progress", _run(cmd_cancel))
    p.add_argument("id")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    json_flag(p)

    p = add("delete", "delete an ended batch from the API", _run(cmd_delete))
    p.add_argument("id")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    json_flag(p)

    p = add("label", "set (or clear with '') a batch's local label", _run(cmd_label))
    p.add_argument("id")
    p.add_argument("text")

    p = add("reconcile", "resolve submissions left open by a crash or timeout", _run(cmd_reconcile))
    json_flag(p)

    p = add("locate", "print where config and data live", cmd_locate)
    json_flag(p)

    p = add("emulator", "serve a local Message Batches API emulator", cmd_emulator)
    try:
        from batchtop.core import emulator

        emulator.add_arguments(p)
    except (ImportError, AttributeError):
        pass
    return parser


def _fail(message: str) -> int:
    from batchtop.tui.safe_text import clean

    sys.stderr.write(f"batchtop: error: {clean(message, keep_newlines=False)}\n")
    sys.stderr.flush()
    return 1


def _setup_logging() -> None:
    """Library warnings stay quiet on the command line unless BATCHTOP_DEBUG is set.

    asyncio's too: Ctrl-C while a thread call is in flight can make it log "Exception in
    callback … Traceback" through logging's last-resort handler after the run was stopped."""
    import logging

    if os.environ.get("BATCHTOP_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(levelname)s: %(message)s")
        return
    for name in ("batchtop", "asyncio"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
            logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    parser = build_parser() if _needs_full_parser(argv) else _version_parser()
    ns = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(ns, "handler", None)
    from batchtop.core.errors import BatchtopError

    try:
        if handler is None:
            return cmd_tui(ns)
        return handler(ns)
    except BatchtopError as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last resort: a one-line message, never a traceback
        if os.environ.get("BATCHTOP_DEBUG"):
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (set BATCHTOP_DEBUG=1 for details)")


def _needs_full_parser(argv: list[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return args != ["--version"]


def _version_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchtop")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    return parser


if __name__ == "__main__":
    sys.exit(main())

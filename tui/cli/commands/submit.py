"""`batchtop submit FILE`: validate, split, estimate, then submit as one job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchtop.core.errors import UserError
from batchtop.core.models import ImportOptions, checked_label
from batchtop.tui.cli import progress
from batchtop.tui.cli.render import clean, console, print_json, txt
from batchtop.tui.cli.report import issue_message, print_report, report_dict
from batchtop.tui.cli.session import ask, can_ask
from batchtop.tui.format import money
from batchtop.tui.words import quantity

if TYPE_CHECKING:
    from batchtop.core.models import ImportReport, SubmitOutcome
    from batchtop.core.service import BatchService
    from rich.console import Console


def _options(ns: argparse.Namespace) -> ImportOptions:
    return ImportOptions(
        format=ns.format,
        template=ns.template,
        model=ns.model,
        max_tokens=ns.max_tokens,
        system=ns.system,
        id_field=ns.id_field,
        endpoint=getattr(ns, "endpoint", None),
    )


def _say(message: str) -> None:
    """A one-line note on stderr (e.g. waiting for a pipe's writer)."""
    sys.stderr.write(f"batchtop: {clean(message, one_line=True)}\n")
    sys.stderr.flush()


def _input_file(name: str) -> Path:
    path = Path(name)
    if not path.exists():
        raise UserError(f"No such file: {path}.")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not an input file.")
    return path


async def cmd_submit(service: BatchService, ns: argparse.Namespace) -> int:
    service.betas(ns.beta or ())  # a malformed --beta is said before the file is read
    checked_label(ns.label)  # so is a label a batch cannot have
    path = _input_file(ns.file)
    problem = await service.input_problem(path)
    if problem is not None:  # a device, /proc/self/mem, no permission: one line, no report
        raise UserError(f"{path}: {problem.rstrip('.')}; nothing was submitted.")
    out = console(stderr=ns.json)
    with progress.task(f"Analysing {clean(str(path))}", unit=" bytes") as advance:
        report = await service.analyse(
            path, _options(ns), lambda done, _total: advance(done), on_wait=_say
        )
    only = report.errors[0] if len(report.errors) == 1 and not report.request_count else None
    if only is not None and only.line is None and not ns.json:
        # the file as a whole could not be read (an I/O error half-way, /proc/self/mem): one
        # line says it, not a report of 0 requests in a guessed format
        service.discard_import(report)
        raise UserError(f"{path}: {issue_message(only).rstrip('.')}; nothing was submitted.")
    try:
        if ns.count_tokens is not None and report.estimate is not None:
            await _measure(service, ns, report)
        return await _submit_report(service, ns, report, path, out)
    except asyncio.CancelledError:  # Ctrl-C: a create in flight may have made its batch
        note = service.interrupted_note()
        if note is not None:
            sys.stderr.write(f"batchtop: warning: {note}\n")
        raise
    finally:
        service.discard_import(report)  # no-op when already removed after a full submit


async def _measure(service: BatchService, ns: argparse.Namespace, report: ImportReport) -> None:
    """Input tokens measured on a sample (`--count-tokens N`); a failure leaves the estimate
    as it was and says why."""
    from batchtop.core.errors import BatchtopError

    if ns.count_tokens < 1:
        raise UserError("--count-tokens takes a number of requests of 1 or more.")
    sample = min(ns.count_tokens, report.request_count)
    with progress.task("Counting input tokens", total=sample, unit=" requests") as advance:
        try:
            await service.measure_input_tokens(
                report,
                sample=ns.count_tokens,
                progress=lambda done, _total: advance(done),
                betas=ns.beta or (),
            )
        except BatchtopError as err:
            notes = console(stderr=True)
            notes.print(txt(f"count_tokens failed, input tokens stay estimated: {err}", "yellow"))


async def _submit_report(
    service: BatchService,
    ns: argparse.Namespace,
    report: ImportReport,
    path: Path,
    out: Console,
) -> int:
    data: dict[str, Any] = {}
    if ns.json:
        data = report_dict(report)
    else:
        print_report(out, report)
    skipping = bool(report.errors) and ns.skip_invalid and report.can_submit_valid
    if report.errors and not skipping:
        if ns.json:
            data["submitted"] = False
            print_json(data)
        n = len(report.errors)
        hint = ""
        if report.can_submit_valid:
            hint = (
                f" (--skip-invalid sends its {quantity(report.request_count, 'valid request')}"
                " alone)"
            )
        raise UserError(f"{quantity(n, 'error')} in {path}: nothing was submitted{hint}.")
    if not report.request_count:
        raise UserError(f"{path} holds no requests: nothing was submitted.")
    if skipping:
        data["left_out"] = report.invalid_requests
        err_console = console(stderr=True)
        err_console.print(txt(f"--skip-invalid: {report.valid_only_summary}", "yellow"))
    if ns.dry_run:
        if ns.json:
            data["submitted"] = False
            print_json(data)
        else:
            out.print("dry run: nothing was submitted.")
        return 0
    if not _cost_confirmed(service, ns, report):
        console(stderr=True).print("nothing was submitted")
        return 1
    outcome = await _send(service, ns, report, out, skipping)
    if ns.json:
        data.update(
            submitted=True,
            job_id=outcome.job_id,
            batch_ids=list(outcome.batch_ids),
            failed_parts=list(outcome.failed_parts),
            errors=list(outcome.errors),
            resumed=bool(outcome.resumed_parts),
            resumed_parts=list(outcome.resumed_parts),
            unresolved_parts=list(outcome.unresolved_parts),
            betas=list(outcome.betas),
        )
        print_json(data)
    else:
        if outcome.resumed_parts:
            n = len(outcome.resumed_parts)
            done = ("part " if n == 1 else "parts ") + ", ".join(map(str, outcome.resumed_parts))
            out.print(
                txt(
                    f"resumed job {outcome.job_id}: {done} {'was' if n == 1 else 'were'}"
                    " already created; only the others were sent",
                    "yellow",
                )
            )
        for bid in outcome.batch_ids:
            out.print(f"submitted {bid}")
        out.print(f"job {outcome.job_id}: {quantity(len(outcome.batch_ids), 'batch', 'batches')}")
        if outcome.betas:
            out.print(f"anthropic-beta: {clean(', '.join(outcome.betas))}", highlight=False)
        for err in outcome.errors:
            out.print(txt(err, "red"))
        if outcome.batch_ids:
            out.print("next: batchtop watch   then   batchtop results <id> --format json")
    not_sent = sorted({*outcome.failed_parts, *outcome.unresolved_parts})
    if not_sent:  # the exit status says whether every part is known to be created
        raise UserError(
            f"{quantity(len(not_sent), 'part')} of job {outcome.job_id} "
            f"{'was' if len(not_sent) == 1 else 'were'} not submitted"
            + (" (see above: unresolved, not sent twice)." if outcome.unresolved_parts else ".")
        )
    return 0


async def _send(
    service: BatchService, ns: argparse.Namespace, report: ImportReport, out: Any, skipping: bool
) -> SubmitOutcome:
    """Submit (or resume); requests already submitted in full are sent again only with
    --force or a yes on the terminal (they would be billed twice)."""
    from batchtop.core.errors import Conflict

    force = bool(ns.force)
    while True:
        try:
            if out.is_terminal and len(report.parts) > 0:
                with out.status(f"Submitting {quantity(len(report.parts), 'batch', 'batches')} …"):
                    return await service.submit(
                        report,
                        name=ns.name,
                        label=ns.label,
                        skip_invalid=skipping,
                        force=force,
                        betas=ns.beta or (),
                    )
            return await service.submit(
                report,
                name=ns.name,
                label=ns.label,
                skip_invalid=skipping,
                force=force,
                betas=ns.beta or (),
            )
        except Conflict as err:
            if force or ns.json or not sys.stdin.isatty() or "--force" not in str(err):
                raise
            out.print(txt(str(err), "yellow"))
            question = "Submit them again and pay twice? [y/N] "
            answer = (await asyncio.to_thread(input, question)).strip().lower()
            if answer not in ("y", "yes"):
                raise UserError("Nothing was submitted.") from None
            force = True


def _cost_confirmed(service: BatchService, ns: argparse.Namespace, report: ImportReport) -> bool:
    """A job whose estimated cost is above `confirm_submit_above_usd` goes out with --yes or
    after a yes on the terminal; without a terminal it is refused, saying how to go on."""
    est = report.estimate
    limit = service.settings.confirm_submit_above_usd
    cost = None if ns.yes or est is None else est.above_limit(limit)
    if cost is None:
        return True
    if not can_ask():
        raise UserError(
            f"The estimated cost ({cost}) is above {money(limit)} (confirm_submit_above_usd):"
            " nothing was submitted; re-run with --yes to submit it."
        )
    return ask(f"Submit {quantity(report.request_count, 'request')} for about {cost}?")

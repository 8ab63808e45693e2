"""`batchtop reconcile`: resolve submissions left open by a crash or a timeout, report what
could not be proven ours, and the jobs whose parts were not all created."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from batchtop.core.models import IntentState
from batchtop.tui.cli.render import console, print_json, txt

if TYPE_CHECKING:
    from batchtop.core.models import JobProgress, OrphanFile, SubmitIntent
    from batchtop.core.service import BatchService


def _intent_dict(i: SubmitIntent) -> dict[str, Any]:
    return {
        "job_id": i.job_id,
        "part": i.part,
        "state": "unknown" if i.unknown else i.state.value,
        "batch_id": i.batch_id,
        "unknown": i.unknown,
        "candidates": list(i.candidates),
        "message": i.error,
    }


def _job_dict(p: JobProgress) -> dict[str, Any]:
    return {
        "job_id": p.job.id,
        "state": "partly submitted",
        "name": p.job.name,
        "source": p.job.source,
        "parts": p.part_count,
        "created_parts": list(p.created),
        "open_parts": list(p.open),
        "missing_parts": list(p.missing),
        "open_settles_by": p.settles_by.isoformat() if p.settles_by else None,
    }


def _parts(parts: tuple[int, ...]) -> str:
    """`part 2` or `parts 1, 3`."""
    return ("part " if len(parts) == 1 else "parts ") + ", ".join(str(p) for p in parts)


def _orphan_state(f: OrphanFile, deleted: bool) -> str:
    if deleted:
        return "deleted"
    return "too recent to delete" if f.too_recent else "orphaned file"


def _orphan_dict(f: OrphanFile, deleted: bool) -> dict[str, Any]:
    return {
        "file_id": f.id,
        "state": _orphan_state(f, deleted),
        "filename": f.filename,
        "bytes": f.bytes,
        "created_at": f.created_at.isoformat(),
    }


async def cmd_reconcile(service: BatchService, ns: argparse.Namespace) -> int:
    reported = await service.reconcile()
    partial = service.partial_jobs()
    orphans = await service.orphan_files()
    delete = bool(getattr(ns, "delete_orphans", False)) and bool(orphans)
    deleted = {f.id for f in await service.delete_orphan_files(orphans)} if delete else set()
    # like submit: a part whose create is still unresolved (unknown, or pending until it
    # settles) is not done; a script must not take this run for the end of it
    unresolved = any(i.state is IntentState.PENDING for i in reported) or any(
        p.open for p in partial
    )
    code = 1 if unresolved else 0
    if ns.json:
        print_json(
            [_intent_dict(i) for i in reported]
            + [_job_dict(p) for p in partial]
            + [_orphan_dict(f, f.id in deleted) for f in orphans]
        )
        return code
    out = console()
    if not reported and not partial and not orphans:
        out.print("nothing to reconcile")
    for f in orphans:
        if f.id in deleted:
            what = "deleted"
        elif f.too_recent:
            what = (
                f"uploaded at {f.created_at:%H:%M} UTC, used by no batch yet: too recent to delete"
                " (another client may be about to create its batch; orphan_min_age_s)"
            )
        else:
            what = "uploaded but used by no batch (reconcile --delete-orphans deletes it)"
        out.print(txt(f"file {f.id} ({f.filename}, {f.bytes:,} bytes): {what}", "yellow"))
    for i in reported:
        where = f"job {i.job_id} part {i.part}"
        if i.unknown:
            out.print(
                txt(
                    f"{where}: unknown: not adopted: check {', '.join(i.candidates)} (not proven"
                    " to be this part's; run reconcile again once they have ended)",
                    "yellow",
                )
            )
        else:
            out.print(f"{where}: {i.state.value} {i.batch_id or ''}".rstrip())
    for p in partial:
        created = (
            f"{_parts(p.created)} of {p.part_count} created"
            if p.created
            else (f"none of its {p.part_count} parts created")
        )
        rest = []
        if p.missing:
            rest.append(f"{_parts(p.missing)} not sent")
        if p.open:
            settles = p.settles_by
            when = f" until {settles.strftime('%H:%M UTC')}" if settles is not None else ""
            rest.append(
                f"{_parts(p.open)} unresolved (a batch may still appear{when}: reconcile"
                " adopts it then, or closes the part after that so a submit sends it)"
            )
        how = f"batchtop submit {p.job.source}" if p.job.source else "batchtop submit <file>"
        out.print(
            txt(
                f"job {p.job.id} ({p.job.name}): partly submitted: {created}; {'; '.join(rest)}"
                f" — `{how}` sends only the missing parts",
                "yellow",
            )
        )
    if unresolved:
        err = console(stderr=True)
        err.print(txt("some parts are still unresolved: run reconcile again later", "yellow"))
    return code

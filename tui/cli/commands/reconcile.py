"""`batchtop reconcile`: resolve submissions left open by a crash or a timeout, report what
could not be proven ours, and the jobs whose parts were not all created.

Without `--provider` it reconciles every provider whose key is set (core's
`covered_providers`): each line then names its provider, each `--json` entry has `provider`,
and a provider whose API fails is one error line while the others are reconciled."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from batchtop.core.errors import BatchtopError, UserError
from batchtop.core.models import ABANDON_HINT, IntentState, SubmitNotice, provider_name
from batchtop.tui.cli.render import clean, console, print_json, txt
from batchtop.tui.cli.session import routed
from batchtop.tui.safe_text import literal_line
from batchtop.tui.words import numbered

if TYPE_CHECKING:
    from batchtop.core.fleet import Fleet
    from batchtop.core.models import JobProgress, OrphanFile, SubmitIntent
    from batchtop.core.service import BatchService
    from rich.console import Console


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


@dataclass
class _Found:
    """What reconcile found on one provider."""

    service: BatchService
    reported: list[SubmitIntent]
    partial: list[JobProgress]
    orphans: list[OrphanFile]
    deleted: set[str] = field(default_factory=set)

    @property
    def unresolved(self) -> bool:
        # like submit: a part whose create is still unresolved (unknown, or pending until it
        # settles) is not done; a script must not take this run for the end of it
        return any(i.state is IntentState.PENDING for i in self.reported) or any(
            p.open for p in self.partial
        )

    def entries(self) -> list[dict[str, Any]]:
        provider = {"provider": self.service.provider}
        return [
            *(_intent_dict(i) | provider for i in self.reported),
            *(_job_dict(p) | provider for p in self.partial),
            *(_orphan_dict(f, f.id in self.deleted) | provider for f in self.orphans),
        ]


async def _reconcile(service: BatchService, ns: argparse.Namespace, adopt: str | None) -> _Found:
    abandon = bool(getattr(ns, "abandon", False))
    found = _Found(
        service, await service.reconcile(abandon=abandon, adopt=adopt), service.partial_jobs(), []
    )
    found.orphans = await service.orphan_files()
    if getattr(ns, "delete_orphans", False) and found.orphans:
        found.deleted = {f.id for f in await service.delete_orphan_files(found.orphans)}
    return found


@routed(fleet=True)
async def cmd_reconcile(fleet: Fleet, ns: argparse.Namespace) -> int:
    founds: list[_Found] = []
    failed = False
    adopt: str | None = getattr(ns, "adopt", None)
    if adopt is not None:  # as typed or pasted: spaces and a line end around it are no part
        adopt = adopt.strip()
        if not adopt:
            raise UserError(
                "--adopt takes the id of the batch `batchtop reconcile` named as a part's"
                " look-alike."
            )
    adopter = None  # the service one of whose parts has that look-alike (else the first: it says)
    if adopt is not None:
        held = [s for s in fleet.services if await s.holds_lookalike(adopt)]
        adopter = held[0] if held else fleet.services[0]
    for service in fleet.services:
        try:
            founds.append(await _reconcile(service, ns, adopt if service is adopter else None))
        except BatchtopError as err:
            if not fleet.mixed:
                raise
            failed = True  # said below; the other providers are reconciled all the same
            message = f"{provider_name(service.provider)}: {err}"
            sys.stderr.write(f"batchtop: error: {clean(message)}\n")
    unresolved = any(f.unresolved for f in founds)
    code = 1 if unresolved or failed else 0
    if ns.json:
        print_json([entry for found in founds for entry in found.entries()])
        return code
    out = console()
    if not any(f.reported or f.partial or f.orphans for f in founds):
        console(stderr=True).print("nothing to reconcile")  # a message: nothing on stdout
    deleting = bool(getattr(ns, "delete_orphans", False))
    for found in founds:
        _print(found, out, named=fleet.mixed, deleting=deleting)
    if unresolved:
        console(stderr=True).print(
            txt("some parts are still unresolved: run reconcile again later", "yellow")
        )
    return code


def _orphan_words(f: OrphanFile, found: _Found, deleting: bool) -> str:
    """What an uploaded file no batch uses is: batchtop's own upload (its name carries the
    job and part), left by a submit stopped between its upload and its create."""
    job, _, rest = (f.submission_id or "").partition("/")
    part = rest.partition("/")[0]
    own = f"batchtop's upload for job {job} part {part}" if part else "batchtop's upload"
    if f.id in found.deleted:
        return f"{own}: deleted"
    left = f"{own}, uploaded at {f.created_at:%H:%M} UTC and used by no batch"
    if not f.too_recent:
        return (
            f"{left}: a submit was interrupted before it created the batch;"
            " `batchtop reconcile --delete-orphans` deletes it"
        )
    kept_until = f.created_at + timedelta(seconds=found.service.settings.orphan_min_age_s)
    spared = " (too recent to delete)" if deleting else ""
    return (
        f"{left} yet{spared}: a submit interrupted before it created the batch left it, unless that"
        f" submit is still running; `batchtop reconcile --delete-orphans` deletes it from"
        f" {kept_until:%H:%M} UTC (orphan_min_age_s)"
    )


def _print(found: _Found, out: Console, *, named: bool, deleting: bool) -> None:
    service = found.service
    whose = f"{provider_name(service.provider)}: " if named else ""
    # a job of another provider than the setting's is resumed by naming it
    flag = (
        "" if service.provider == service.settings.provider else f" --provider {service.provider}"
    )
    for f in found.orphans:
        what = _orphan_words(f, found, deleting)
        out.print(txt(f"{whose}file {f.id} ({f.filename}, {f.bytes:,} bytes): {what}", "yellow"))
    for i in found.reported:
        where = f"{whose}job {i.job_id} part {i.part}"
        if i.adoptable:
            out.print(txt(f"{where}: {i.error}", "yellow"))
        elif i.unknown:
            out.print(
                txt(
                    f"{where}: unknown: not adopted: check {', '.join(i.candidates)} (not proven"
                    " to be this part's; run reconcile again once they have ended)",
                    "yellow",
                )
            )
        elif i.state is IntentState.FAILED:  # core's words: "…: not sent: …, a submit sends it"
            out.print(txt(whose + SubmitNotice(i).text))
        else:
            out.print(f"{where}: {i.state.value} {i.batch_id or ''}".rstrip())
    for p in found.partial:
        created = p.created_text
        rest = []
        if p.missing:
            rest.append(f"{numbered('part', p.missing)} not sent")
        if p.open:
            settles = p.settles_by
            when = f" until {settles.strftime('%H:%M UTC')}" if settles is not None else ""
            rest.append(
                f"{numbered('part', p.open)} unresolved (a batch may still appear{when}: reconcile"
                f" adopts it then, or closes the part after that so a submit sends it;"
                f" {ABANDON_HINT})"
            )
        source = p.job.source or "<file>"
        how = f"batchtop submit{flag} {source}"
        out.print(
            txt(
                f"{whose}job {p.job.id} ({literal_line(p.job.name)}): partly submitted: {created};"
                f" {'; '.join(rest)} — `{how}` sends only the missing parts",
                "yellow",
            )
        )

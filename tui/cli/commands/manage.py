"""`batchtop cancel`, `delete` and `label`: acting on one batch, or on every batch of a job.

Given a job id, cancel and delete act on those of its batches the action applies to (core's
`refusal` says which), after a confirmation naming how many; the others are said and left
as they are. What they did is a message (stderr); only `--json` writes to stdout, for a
script to read."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Literal

from batchtop.core.errors import Conflict, NotFound
from batchtop.core.models import JOB_ID_PREFIX
from batchtop.tui.cli.render import batch_dict, console, print_json, txt
from batchtop.tui.cli.session import check_id, confirm, resolve, routed
from batchtop.tui.words import quantity

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


async def _job_targets(
    service: BatchService, job_id: str, action: Literal["cancel", "delete"]
) -> list[str]:
    """The batches of a job the action applies to; the others are said on stderr. None
    applies: the first refusal, as an error."""
    ids = await resolve(service, job_id)
    todo: list[str] = []
    refused: list[str] = []
    for bid in ids:
        reason = service.refusal(action, bid, await service.current(bid))
        if reason is None:
            todo.append(bid)
        else:
            refused.append(reason)
    if not ids:
        raise NotFound(f"Job {job_id} has no batch.")
    if not todo:
        if len(refused) == 1:
            raise Conflict(refused[0])
        past = "canceled" if action == "cancel" else "deleted"
        raise Conflict(
            f"None of the {len(ids)} batches of job {job_id} can be {past}: {refused[0]}"
        )
    messages = console(stderr=True)
    for reason in refused:
        messages.print(txt(f"left as it is: {reason}", "yellow"))
    return todo


async def _confirmed_targets(
    service: BatchService,
    ns: argparse.Namespace,
    action: Literal["cancel", "delete"],
    question: str,
) -> list[str] | None:
    """The batches `ns.id` names that the action applies to, once confirmed (None: the user
    said no, which is said on stderr). Refusals and a missing key are said before asking;
    `question` has a `{}` for what is acted on ("batch X" or "N batches of job J")."""
    ns.id = check_id(ns.id, service)
    service.require_key(ns.id)  # before anything is asked
    if ns.id.startswith(JOB_ID_PREFIX):
        ids = await _job_targets(service, ns.id, action)
        what = f"{quantity(len(ids), 'batch', 'batches')} of job {ns.id}"
    else:
        refused = service.refusal(action, ns.id, await service.current(ns.id))
        if refused is not None:  # said before anything is asked
            raise Conflict(refused)
        ids, what = [ns.id], f"batch {ns.id}"
    if not confirm(ns, question.format(what)):
        console(stderr=True).print("not canceled" if action == "cancel" else "not deleted")
        return None
    return ids


@routed("id")
async def cmd_cancel(service: BatchService, ns: argparse.Namespace) -> int:
    ids = await _confirmed_targets(service, ns, "cancel", "Cancel {}?")
    if ids is None:
        return 1
    done: list[dict[str, Any]] = []
    for bid in ids:
        view = await service.cancel(bid)
        done.append(batch_dict(view))
        if not ns.json:
            console(stderr=True).print(f"{view.id}: {view.remote.processing_status.value}")
    if ns.json:
        print_json(done if len(ids) > 1 or ns.id != ids[0] else done[0])
    return 0


@routed("id")
async def cmd_delete(service: BatchService, ns: argparse.Namespace) -> int:
    ids = await _confirmed_targets(service, ns, "delete", "Delete {} from the API?")
    if ids is None:
        return 1
    for bid in ids:
        await service.delete(bid)
        if not ns.json:
            console(stderr=True).print(f"deleted {bid} (its local results stay browsable)")
    if ns.json:
        rows = [{"id": bid, "deleted": True} for bid in ids]
        print_json(rows if ns.id != ids[0] else rows[0])
    return 0


@routed("id")
async def cmd_label(service: BatchService, ns: argparse.Namespace) -> int:
    ns.id = check_id(ns.id, service)
    if ns.id.startswith(JOB_ID_PREFIX):
        ids = await resolve(service, ns.id)
    else:
        if service.batch(ns.id) is None:
            if not service.has_api_key:
                raise NotFound(f"No batch {ns.id} is known locally.")
            await service.refresh()
        ids = [ns.id]
    for bid in ids:
        service.set_label(bid, ns.text)
    what = "cleared" if not ns.text.strip() else "set"
    if ns.id == ids[0]:
        console(stderr=True).print(f"{ns.id}: label {what}")
    else:
        console(stderr=True).print(
            f"{ns.id}: label {what} on {quantity(len(ids), 'batch', 'batches')}"
        )
    return 0

"""`batchtop retry ID`: resubmit a batch's failed requests as a new batch."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batchtop.core.errors import UserError
from batchtop.tui.cli.render import console, print_json
from batchtop.tui.cli.session import resolve

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


async def cmd_retry(service: BatchService, ns: argparse.Namespace) -> int:
    ids = await resolve(service, ns.id)
    if len(ids) != 1:
        raise UserError("retry takes one batch id (a job holds several batches).")
    outcome = await service.retry_failed(ids[0], include_invalid=ns.include_invalid)
    if ns.json:
        print_json({"job_id": outcome.job_id, "batch_ids": list(outcome.batch_ids)})
    else:
        for bid in outcome.batch_ids:
            console().print(f"submitted {bid} (retry of {ids[0]})")
    return 0

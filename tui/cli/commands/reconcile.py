"""`batchtop reconcile`: resolve submissions left open by a crash or a timeout."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batchtop.tui.cli.render import console, print_json

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


async def cmd_reconcile(service: BatchService, ns: argparse.Namespace) -> int:
    resolved = await service.reconcile()
    if ns.json:
        print_json(
            [
                {"job_id": i.job_id, "part": i.part, "state": i.state.value, "batch_id": i.batch_id}
                for i in resolved
            ]
        )
        return 0
    out = console()
    if not resolved:
        out.print("nothing to reconcile")
    for i in resolved:
        out.print(f"job {i.job_id} part {i.part}: {i.state.value} {i.batch_id or ''}".rstrip())
    return 0

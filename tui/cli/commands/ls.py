"""`batchtop ls`: the batches of the workspace (refreshed first when a key is set)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batchtop.tui.cli.render import batch_dict, batches_table, console, print_json
from batchtop.tui.cli.session import refresh_quietly

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


async def cmd_ls(service: BatchService, ns: argparse.Namespace) -> int:
    if not ns.offline:
        await refresh_quietly(service, console(stderr=True))
    views = service.batches("active" if ns.active else "all")
    if ns.json:
        print_json([batch_dict(v) for v in views])
        return 0
    out = console()
    if not views:
        out.print("no batches" + (" in progress" if ns.active else ""))
        return 0
    out.print(batches_table(views))
    return 0

"""`batchtop ls`: the batches of the workspace (refreshed first when a key is set).

Stdout holds the data (the table or JSON); stderr says which endpoint and workspace they come
from, the first listing's progress, and how many batches the workspace has.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from batchtop.tui.cli.render import batch_dict, batches_table, console, print_json, sync_note
from batchtop.tui.cli.session import EXIT_STALE, refresh_quietly, stale
from batchtop.tui.safe_text import clean

if TYPE_CHECKING:
    from batchtop.core.models import Event
    from batchtop.core.service import BatchService


def _note(text: str) -> None:
    sys.stderr.write(clean(text, keep_newlines=False) + "\n")
    sys.stderr.flush()


async def cmd_ls(service: BatchService, ns: argparse.Namespace) -> int:
    from batchtop.core.models import ListingProgress

    def on_event(event: Event) -> None:
        if isinstance(event, ListingProgress) and not event.complete:
            _note(f"listing the workspace's batches (first sync): {event.total:,} so far…")

    refreshed = False
    if not ns.offline:
        unsubscribe = service.subscribe(on_event)
        try:
            refreshed = await refresh_quietly(service, console(stderr=True))
        finally:
            unsubscribe()
    views = service.batches("active" if ns.active else "all")
    info = service.workspace()
    if ns.json:
        print_json([batch_dict(v, synced_at=info.synced_at) for v in views])
    else:
        _note(f"batches of {info.where}")
        out = console()
        if not views:
            out.print("no batches" + (" in progress" if ns.active else ""))
        else:
            out.print(batches_table(views, width=out.width))
    shown = f"{len(views):,} shown" + (" (in progress)" if ns.active else "")
    _note(f"{info.count_text} in this workspace · {shown} · {sync_note(info, refreshed=refreshed)}")
    if not info.listing_complete and not ns.offline and service.has_api_key:
        _note("run 'batchtop ls' again to list the rest")
    return EXIT_STALE if stale(service, ns, refreshed) else 0

"""`batchtop ls`: the batches of the workspace (refreshed first when a key is set).

Without `--provider` it lists every provider whose key is set (core's `covered_providers`),
merged newest first with a Provider column; `--json` rows carry their `provider`.
Stdout holds the data (the table or JSON); stderr says which endpoint and workspace they come
from (each provider's), the first listing's progress, and how many batches each has.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from batchtop.core.errors import BatchtopError
from batchtop.core.models import provider_name
from batchtop.tui.cli.render import batch_dict, batches_table, console, print_json, sync_note
from batchtop.tui.cli.session import EXIT_STALE, refresh_quietly, routed, stale
from batchtop.tui.safe_text import clean

if TYPE_CHECKING:
    from batchtop.core.fleet import Fleet
    from batchtop.core.models import Event, WorkspaceInfo
    from batchtop.core.service import BatchService


def _note(text: str) -> None:
    sys.stderr.write(clean(text, keep_newlines=False) + "\n")
    sys.stderr.flush()


@routed(fleet=True)
async def cmd_ls(fleet: Fleet, ns: argparse.Namespace) -> int:
    from batchtop.core.models import ListingProgress

    mixed = fleet.mixed

    def named(service: BatchService, text: str) -> str:
        return f"{provider_name(service.provider)}: {text}" if mixed else text

    def on_event(event: Event) -> None:
        if isinstance(event, ListingProgress) and not event.complete:
            _note(f"listing the workspace's batches (first sync): {event.total:,} so far…")

    refreshed = dict.fromkeys(fleet.providers, False)
    refused: list[str] = []  # a member whose key or call was refused (mixed only)
    failed: set[str] = set()  # their providers
    if not ns.offline and getattr(ns, "provider", None):
        fleet.primary.check_api()  # asked for by name: no key, or a bad URL, is an error
    if not ns.offline:
        unsubscribe = fleet.subscribe(on_event)
        messages = console(stderr=True)

        async def refresh(service: BatchService) -> None:
            try:
                refreshed[service.provider] = await refresh_quietly(
                    service, messages, name=provider_name(service.provider) if mixed else None
                )
            except BatchtopError as err:
                if not mixed:
                    raise
                refused.append(named(service, str(err)))
                failed.add(service.provider)

        try:
            await asyncio.gather(*(refresh(s) for s in fleet.services))
        finally:
            unsubscribe()
    views = fleet.batches("active" if ns.active else "all")
    infos: dict[str, WorkspaceInfo] = {s.provider: s.workspace() for s in fleet.services}
    if ns.json:
        print_json([batch_dict(v, synced_at=infos[v.remote.provider].synced_at) for v in views])
    else:
        where = " + ".join(named(s, infos[s.provider].where) for s in fleet.services)
        _note(f"batches of {where}")
        out = console()
        if not views:
            out.print("no batches" + (" in progress" if ns.active else ""))
        else:
            out.print(batches_table(views, width=out.width, providers=mixed))
    shown = f"{len(views):,} shown" + (" (in progress)" if ns.active else "")
    if not mixed:
        info = infos[fleet.primary.provider]
        synced = sync_note(info, refreshed=refreshed[fleet.primary.provider])
        _note(f"{info.count_text} in this workspace · {shown} · {synced}")
    else:
        for service in fleet.services:
            info = infos[service.provider]
            synced = sync_note(info, refreshed=refreshed[service.provider])
            _note(named(service, f"{info.count_text} in its workspace · {synced}"))
        _note(shown)
    for service in fleet.services:
        info = infos[service.provider]
        if (
            not info.listing_complete
            and not ns.offline
            and service.has_api_key
            and service.provider not in failed
        ):
            _note(named(service, "run 'batchtop ls' again to list the rest"))
    for message in refused:
        sys.stderr.write(f"batchtop: error: {clean(message, keep_newlines=False)}\n")
    if refused:
        return 1
    is_stale = any(stale(s, ns, refreshed[s.provider]) for s in fleet.services)
    return EXIT_STALE if is_stale else 0

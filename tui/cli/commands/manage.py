"""`batchtop cancel`, `delete` and `label`: acting on one batch.

What they did is a message (stderr); only `--json` writes to stdout, for a script to read."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batchtop.core.errors import Conflict, NotFound
from batchtop.tui.cli.render import batch_dict, console, print_json
from batchtop.tui.cli.session import check_id, confirm, routed

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


@routed("id")
async def cmd_cancel(service: BatchService, ns: argparse.Namespace) -> int:
    ns.id = check_id(ns.id, service)
    refused = service.refusal("cancel", ns.id, await service.current(ns.id))
    if refused is not None:  # said before anything is asked
        raise Conflict(refused)
    if not confirm(ns, f"Cancel batch {ns.id}?"):
        console(stderr=True).print("not canceled")
        return 1
    view = await service.cancel(ns.id)
    if ns.json:
        print_json(batch_dict(view))
    else:
        console(stderr=True).print(f"{view.id}: {view.remote.processing_status.value}")
    return 0


@routed("id")
async def cmd_delete(service: BatchService, ns: argparse.Namespace) -> int:
    ns.id = check_id(ns.id, service)
    refused = service.refusal("delete", ns.id, await service.current(ns.id))
    if refused is not None:  # said before anything is asked
        raise Conflict(refused)
    if not confirm(ns, f"Delete batch {ns.id} from the API?"):
        console(stderr=True).print("not deleted")
        return 1
    await service.delete(ns.id)
    if ns.json:
        print_json({"id": ns.id, "deleted": True})
    else:
        console(stderr=True).print(f"deleted {ns.id} (its local results stay browsable)")
    return 0


@routed("id")
async def cmd_label(service: BatchService, ns: argparse.Namespace) -> int:
    ns.id = check_id(ns.id, service)
    if service.batch(ns.id) is None:
        if not service.has_api_key:
            raise NotFound(f"No batch {ns.id} is known locally.")
        await service.refresh()
    service.set_label(ns.id, ns.text)
    console(stderr=True).print(f"{ns.id}: label {'cleared' if not ns.text.strip() else 'set'}")
    return 0

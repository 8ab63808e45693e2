"""What commands share around the service: opening it, refreshing, resolving ids, asking."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchtop.core.service import BatchService
    from rich.console import Console

Command = Callable[["BatchService", argparse.Namespace], Coroutine[Any, Any, int]]


def run_with_service(fn: Command) -> Callable[[argparse.Namespace], int]:
    """Adapt an async command to a sync handler that opens and closes the service."""

    def handler(ns: argparse.Namespace) -> int:
        async def main() -> int:
            from batchtop.core.service import BatchService
            from batchtop.tui.safe_text import clean

            service = await BatchService.open()
            for warning in service.warnings:  # e.g. a data directory others can read
                sys.stderr.write(f"batchtop: warning: {clean(warning, keep_newlines=False)}\n")
            if service.key_note:  # said once: e.g. a trailing CR stripped from the key
                sys.stderr.write(f"batchtop: warning: {service.key_note}\n")
            try:
                return await fn(service, ns)
            finally:
                await service.close()

        return asyncio.run(main())

    return handler


async def refresh_quietly(service: BatchService, console: Console) -> bool:
    """Refresh if a key is set; on failure say so on stderr and keep the cached state."""
    from batchtop.core.errors import ApiError
    from batchtop.tui.cli.render import txt

    if not service.has_api_key:
        return False
    try:
        await service.refresh()
    except ApiError as err:
        if err.kind in ("auth", "invalid"):
            raise  # a bad key or a refused call will not fix itself: say so and fail
        console.print(txt(f"warning: showing cached state: {err}", "yellow"))
        return False
    return True


async def resolve(service: BatchService, ident: str) -> list[str]:
    """Batch or job id → batch ids, refreshing once if it is unknown locally."""
    from batchtop.core.errors import NotFound

    try:
        return service.resolve_ids(ident)
    except NotFound:
        if not service.has_api_key:
            raise
    await service.refresh()
    try:
        return service.resolve_ids(ident)
    except NotFound:
        if ident.startswith("job_"):
            raise
    # a batch beyond the list window (older than the newest 1,000 batches)
    view = await service.fetch_batch(ident)
    return [view.id]


def confirm(ns: argparse.Namespace, question: str) -> bool:
    """True with --yes or a yes on the terminal; without a terminal, refuse clearly."""
    from batchtop.core.errors import UserError

    if ns.yes:
        return True
    if not sys.stdin.isatty():
        raise UserError(f"{question} Re-run with --yes to confirm without a prompt.")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")

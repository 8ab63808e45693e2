"""What commands share around the service: opening it, refreshing, resolving ids, asking."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchtop.core.fleet import Fleet
    from batchtop.core.service import BatchService
    from rich.console import Console

Command = Callable[[Any, argparse.Namespace], Coroutine[Any, Any, int]]

# `ls` and `show` printed the local store's data because the refresh failed (the API
# unreachable, overloaded, timing out): a script sees the data is not current.
EXIT_STALE = 3


@dataclass(frozen=True, slots=True)
class Routing:
    """How a command meets the providers without `--provider`: `id_attr`, the argument
    holding a batch or job id (the command gets the service that owns it); `fleet`, the
    command takes a `Fleet` (every provider whose key is set, or the owner's alone)."""

    id_attr: str | None = None
    fleet: bool = False


def routed(id_attr: str | None = None, *, fleet: bool = False) -> Callable[[Command], Command]:
    """Mark a command as covering every provider (see `Routing`); unmarked commands use
    the provider setting (or `--provider`)."""

    def mark(fn: Command) -> Command:
        fn.routing = Routing(id_attr, fleet)  # type: ignore[attr-defined]
        return fn

    return mark


async def _open_services(ns: argparse.Namespace, routing: Routing | None) -> list[BatchService]:
    """The services a command works on: the provider asked for (or configured) alone, or
    for a routed command every provider core's `covered_providers` names (given an id:
    `locating_providers`, every provider's local store too)."""
    import os

    from batchtop.core.config import load_settings
    from batchtop.core.fleet import covered_providers, locating_providers
    from batchtop.core.scope import has_local_store
    from batchtop.core.service import BatchService
    from batchtop.tui.safe_text import clean

    requested = getattr(ns, "provider", None)
    endpoint = getattr(ns, "endpoint", None)
    if routing is None or requested:
        return [await BatchService.open(provider=requested, endpoint=endpoint)]
    settings = await asyncio.to_thread(load_settings)
    given_id = routing.id_attr is not None and getattr(ns, routing.id_attr, None) is not None
    covered = await asyncio.to_thread(
        locating_providers if given_id else covered_providers,
        settings.provider,
        None,
        os.environ,
        lambda provider: has_local_store(provider, settings),
    )
    for note in covered.notes:
        sys.stderr.write(f"batchtop: note: {clean(note, keep_newlines=False)}\n")
    services: list[BatchService] = []
    try:
        for provider in covered.providers:
            services.append(
                await BatchService.open(settings=settings, provider=provider, endpoint=endpoint)
            )
    except BaseException:
        for service in services:
            await service.close()
        raise
    return services


def run_with_service(fn: Command) -> Callable[[argparse.Namespace], int]:
    """Adapt an async command to a sync handler that opens and closes the service (a
    `routed` command: the services of every provider covered, see `Routing`)."""

    def handler(ns: argparse.Namespace) -> int:
        async def main() -> int:
            from batchtop.core.fleet import Fleet
            from batchtop.tui.safe_text import clean

            routing: Routing | None = getattr(fn, "routing", None)
            fleet = Fleet(await _open_services(ns, routing))
            try:
                for warning in fleet.warnings:  # e.g. a data directory others can read (once)
                    line = clean(warning, keep_newlines=False)
                    sys.stderr.write(f"batchtop: warning: {line}\n")
                for service in fleet.services:
                    if service.key_note:  # said once: e.g. a trailing CR stripped from the key
                        sys.stderr.write(f"batchtop: warning: {service.key_note}\n")
                    # A command does what it was asked: no downloads of other batches that end
                    # during a refresh (they would be abandoned half-way when it exits).
                    service.auto_download = False
                ident = getattr(ns, routing.id_attr, None) if routing and routing.id_attr else None
                if routing is None:
                    return await fn(fleet.primary, ns)
                if ident is None:
                    return await fn(fleet if routing.fleet else fleet.primary, ns)
                owner = await fleet.locate(
                    check_id(ident, fleet), offline=bool(getattr(ns, "offline", False))
                )
                return await fn(Fleet.of(owner) if routing.fleet else owner, ns)
            finally:
                await fleet.close()

        return asyncio.run(main())

    return handler


async def refresh_quietly(
    service: BatchService, console: Console, *, name: str | None = None
) -> bool:
    """Refresh if a key is set; on failure say so on stderr (`name`: whose refresh, when
    several providers are shown) and keep the cached state."""
    from batchtop.core.errors import ApiError
    from batchtop.tui.cli.render import txt

    if not service.has_api_key:
        return False
    try:
        await service.refresh()
    except ApiError as err:
        if err.kind in ("auth", "invalid"):
            raise  # a bad key or a refused call will not fix itself: say so and fail
        whose = f"{name}: " if name else ""
        console.print(txt(f"warning: {whose}showing cached state: {err}", "yellow"))
        return False
    return True


def stale(service: BatchService, ns: argparse.Namespace, refreshed: bool) -> bool:
    """The refresh was tried and failed: the data printed is the local store's (`--offline`
    asks for it; without a key nothing is tried, the note says so)."""
    return not getattr(ns, "offline", False) and service.has_api_key and not refreshed


def check_id(ident: str, source: BatchService | Fleet) -> str:
    """A batch or job id as typed, or a clear error for an empty one naming the ids of the
    providers covered (`source`: the service or fleet the command works on)."""
    from batchtop.core.errors import UserError
    from batchtop.core.fleet import Fleet

    ident = ident.strip()
    if not ident:
        raise UserError(
            f"No batch or job id given: pass one such as {Fleet.of(source).id_examples}"
            " (`batchtop ls` lists them)."
        )
    return ident


async def resolve(service: BatchService, ident: str, *, offline: bool = False) -> list[str]:
    """Batch or job id → batch ids, refreshing once if it is unknown locally (not when
    `offline`)."""
    from batchtop.core.errors import NotFound
    from batchtop.core.models import JOB_ID_PREFIX

    ident = check_id(ident, service)
    try:
        return service.resolve_ids(ident)
    except NotFound:
        if offline or not service.has_api_key:
            raise
    await service.refresh()
    try:
        return service.resolve_ids(ident)
    except NotFound:
        if ident.startswith(JOB_ID_PREFIX):
            raise
    # a batch beyond the list window (older than the newest 1,000 batches)
    view = await service.fetch_batch(ident)
    return [view.id]


def can_ask() -> bool:
    """A person is there to answer: stdin and stderr (where the question goes) are terminals."""
    from batchtop.tui.cli.terminal import is_terminal

    return is_terminal(sys.stdin) and is_terminal(sys.stderr)


def ask(question: str) -> bool:
    """Ask on the terminal (the question on stderr: stdout may be carrying data)."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        raise
    return answer.strip().lower() in ("y", "yes")


def confirm(ns: argparse.Namespace, question: str, *, flag: str = "--yes") -> bool:
    """True with the flag or a yes on the terminal; without a terminal, refuse clearly."""
    from batchtop.core.errors import UserError

    if getattr(ns, flag.removeprefix("--").replace("-", "_")):
        return True
    if not can_ask():
        raise UserError(f"{question} Re-run with {flag} to confirm without a prompt.")
    return ask(question)

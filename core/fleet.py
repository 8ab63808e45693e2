"""`Fleet`: the batches of several providers shown as one, a `BatchService` per provider.

Each provider keeps its own service and store (its own endpoint and workspace,
`core/scope.py`); the fleet reads them together — merged newest first, as one store lists
its batches — and routes whatever acts on a batch or a job to the service that owns it
(`service_for`, `service_for_job`: the one whose store holds it, the rule the front ends
use and never repeat). Refresh, polling, pause and the API-call count span every member;
events of every member reach a fleet subscriber, a refresh's counters summed over the
members and a failure named by its provider.

A fleet of one service is that service: every read and event is passed through unchanged,
so a one-provider front end behaves exactly as it does on the service itself.

`shown_providers` is the rule of which providers the live dashboard shows: the one asked
for (`--provider`), else every provider whose key is set (the configured provider first);
`covered_providers` the same for a command that reads the workspace (`ls`, `show`, …),
which without any key reads every provider's local store (the configured one's when there
is none); `locating_providers`, for a command given an id, adds every other provider's local
store (a batch is found, and read, without its provider's key). `Fleet.locate` finds
the service that owns a batch or job id a user typed: the stores first, then (unknown to
every store) a refresh of each, then each provider's API asked for the batch by id; an
id's shape says nothing (a provider's prefix is not the rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import BatchtopError, Conflict, NotFound, RefreshesFailed
from .models import (
    JOB_ID_PREFIX,
    BatchView,
    CountSnapshot,
    Event,
    Job,
    JobProgress,
    RefreshDone,
    RefreshFailed,
    provider_name,
)
from .providers import PROVIDERS, check_provider
from .providers.env import KEY_VARIABLES

if TYPE_CHECKING:
    from .service import BatchesView, BatchService

log = logging.getLogger(__name__)

SDK_MODULES: dict[str, str] = {"anthropic": "anthropic", "openai": "openai"}
EXTRA_HINT = "pip install 'batchtop[openai]'"


def _newest_first(view: BatchView) -> tuple[datetime, str]:
    """The store's order (`Store.list_batches`): creation time, then id, descending."""
    return view.remote.created_at, view.id


@dataclass(frozen=True, slots=True)
class ShownProviders:
    """Which providers a live front end shows, and what to tell the user about the rest."""

    providers: tuple[str, ...]
    notes: tuple[str, ...] = ()


def shown_providers(
    configured: str, requested: str | None, env: Mapping[str, str]
) -> ShownProviders:
    """`requested` (`--provider`) alone; else every provider with a key in `env`, the
    configured one first. A provider whose SDK is not installed is left out with a note,
    unless asked for by name (then its service explains it at the first request)."""
    if requested:
        return ShownProviders((check_provider(requested),))
    order = [check_provider(configured), *(p for p in PROVIDERS if p != configured)]
    shown: list[str] = []
    notes: list[str] = []
    for provider in order:
        if not env.get(KEY_VARIABLES[provider]):
            continue
        if importlib.util.find_spec(SDK_MODULES[provider]) is None:
            notes.append(
                f"{KEY_VARIABLES[provider]} is set but the {provider} SDK is not installed "
                f"({EXTRA_HINT}): {provider_name(provider)} batches are not shown."
            )
            continue
        shown.append(provider)
    return ShownProviders(tuple(shown), tuple(notes))


def covered_providers(
    configured: str,
    requested: str | None,
    env: Mapping[str, str],
    stored: Callable[[str], bool] = lambda _provider: False,
) -> ShownProviders:
    """What a command reading the workspace covers: `shown_providers`; when no provider has
    a key, every provider with a local store (`stored`, e.g. `has_local_store`; the
    configured one first), read offline; with none, the configured one."""
    shown = shown_providers(configured, requested, env)
    if shown.providers:
        return shown
    first = check_provider(configured)
    order = [first, *(p for p in PROVIDERS if p != first)]
    local = [p for p in order if stored(p) and importlib.util.find_spec(SDK_MODULES[p])]
    return ShownProviders(tuple(local) or (first,), shown.notes)


def locating_providers(
    configured: str,
    requested: str | None,
    env: Mapping[str, str],
    stored: Callable[[str], bool] = lambda _provider: False,
) -> ShownProviders:
    """What a command given a batch or job id covers: `covered_providers`, then every other
    provider with a local store, read offline, so that a batch a provider's store holds is
    found without that provider's key (`Fleet.locate`): what reads the store (show, label,
    downloaded results) works, and what needs its API says which key to set
    (`BatchService.require_key`). `--provider`: that one alone."""
    covered = covered_providers(configured, requested, env, stored)
    if requested:
        return covered
    others = [
        p
        for p in PROVIDERS
        if p not in covered.providers and stored(p) and importlib.util.find_spec(SDK_MODULES[p])
    ]
    return ShownProviders((*covered.providers, *others), covered.notes)


class Fleet:
    """See the module docstring. `services[0]` is the primary: new batches go there unless a
    front end chooses another provider (`service_of`)."""

    def __init__(self, services: Sequence[BatchService], *, requested: str | None = None) -> None:
        if not services:
            raise ValueError("a fleet needs at least one service")
        self.requested = requested  # `--provider`: the session was started for that one alone
        providers = [s.provider for s in services]
        if len(set(providers)) != len(providers):
            raise ValueError(f"one service per provider: {providers}")
        self.services: tuple[BatchService, ...] = tuple(services)
        self._subscribers: list[Callable[[Event], None]] = []
        self._detach: list[Callable[[], None]] = []
        self._last_done: dict[str, RefreshDone] = {}

    @classmethod
    def of(cls, source: BatchService | Fleet) -> Fleet:
        return source if isinstance(source, Fleet) else cls([source])

    # --- members ---------------------------------------------------------------------------

    @property
    def primary(self) -> BatchService:
        return self.services[0]

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(s.provider for s in self.services)

    @property
    def id_examples(self) -> str:
        """What a user can pass where a batch or job id is asked for, as examples: each
        member's batch id shape (named by its provider when there are several), then a
        job's: `msgbatch_… (Anthropic), batch_… (OpenAI) or job_…`."""
        if self.mixed:
            shapes = [f"{s.batch_id_prefix}… ({provider_name(s.provider)})" for s in self.services]
        else:
            shapes = [f"{self.primary.batch_id_prefix}…"]
        return f"{', '.join(shapes)} or {JOB_ID_PREFIX}…"

    @property
    def mixed(self) -> bool:
        """More than one provider: rows say whose they are."""
        return len(self.services) > 1

    def service_of(self, provider: str | None) -> BatchService | None:
        """The member of `provider` (None: the primary); None when it is not shown."""
        if provider is None:
            return self.primary
        return next((s for s in self.services if s.provider == provider), None)

    def service_for(self, batch_id: str) -> BatchService:
        """The service that owns a batch: the one whose store holds it (deleted included);
        a batch no store knows goes to the primary (whose calls then say it is unknown)."""
        if not self.mixed:
            return self.primary
        return self.owner(batch_id) or self.primary

    def owner(self, ident: str) -> BatchService | None:
        """The service whose store holds a batch id (deleted included) or a job id; None when
        none does."""
        for service in self.services:
            if service.store.known_ids([ident]):
                return service
        return next((s for s in self.services if s.job(ident) is not None), None)

    async def locate(self, ident: str, *, offline: bool = False) -> BatchService:
        """The service that owns a batch or job id (see the module docstring). A fleet of
        one is its service, whatever the id (its calls say when it is unknown); `offline`:
        the stores only. Unknown to every store and every API: `NotFound`; when an API could
        not be asked, an error naming the providers that do not know it and each failure
        with its provider."""
        found = self.owner(ident)
        if found is not None or not self.mixed:
            return found or self.primary
        keyed = [s for s in self.services if s.has_api_key]
        if offline or not keyed:
            raise NotFound(f"No batch or job {ident} is known locally.")
        await self.refresh(keyed)  # a member that fails is reported; all failing: raised
        found = self.owner(ident)
        if found is not None:
            return found
        if ident.startswith(JOB_ID_PREFIX):  # jobs are batchtop's own: no API knows them
            raise NotFound(f"No job {ident} is known locally.")
        failures: list[str] = []
        unknown: list[str] = []
        for service in keyed:  # a batch beyond the list window (older than its newest pages)
            name = provider_name(service.provider)
            try:
                await service.fetch_batch(ident)
            except (NotFound, Conflict):  # not this provider's (a 404, or an id it refuses)
                unknown.append(name)
                continue
            except BatchtopError as exc:
                failures.append(f"{name}: {str(exc).rstrip('.')}")
                continue
            return service
        if not failures:
            raise NotFound(f"No batch {ident} is known to {' or '.join(unknown)}.")
        why = "; ".join(failures)
        if unknown:
            raise BatchtopError(f"No batch {ident} is known to {' or '.join(unknown)}; {why}.")
        raise BatchtopError(f"Batch {ident} could not be looked for: {why}.")

    def service_for_job(self, job_id: str) -> BatchService:
        """The service whose store holds a job (jobs are made by one service)."""
        if not self.mixed:
            return self.primary
        return self.owner(job_id) or self.primary

    # --- reads (stores only) ----------------------------------------------------------------

    def batches(self, view: BatchesView = "all") -> list[BatchView]:
        if not self.mixed:
            return self.primary.batches(view)
        rows = [b for s in self.services for b in s.batches(view)]
        rows.sort(key=_newest_first, reverse=True)
        return rows

    def newest_batches(self, limit: int) -> tuple[list[BatchView], int, int, datetime | None]:
        """`BatchService.newest_batches` over every member: the `limit` newest of them all,
        the counts summed, the latest time any was seen."""
        if not self.mixed:
            return self.primary.newest_batches(limit)
        rows: list[BatchView] = []
        total = active = 0
        seen: datetime | None = None
        for service in self.services:
            newest, n, a, at = service.newest_batches(limit)
            rows.extend(newest)
            total += n
            active += a
            if at is not None and (seen is None or at > seen):
                seen = at
        rows.sort(key=_newest_first, reverse=True)
        return rows[:limit], total, active, seen

    def batch(self, batch_id: str) -> BatchView | None:
        return self.service_for(batch_id).batch(batch_id)

    def jobs(self) -> list[Job]:
        if not self.mixed:
            return self.primary.jobs()
        return [j for s in self.services for j in s.jobs()]

    def job_progress(self, job_id: str) -> JobProgress | None:
        return self.service_for_job(job_id).job_progress(job_id)

    def snapshots(self, batch_id: str) -> list[CountSnapshot]:
        return self.service_for(batch_id).snapshots(batch_id)

    def eta(self, batch_id: str) -> datetime | None:
        return self.service_for(batch_id).eta(batch_id)

    def progress(self, batch_id: str) -> tuple[float, float]:
        return self.service_for(batch_id).progress(batch_id)

    def adopted_warning(self, batch_id: str) -> str | None:
        return self.service_for(batch_id).adopted_warning(batch_id)

    @property
    def label(self) -> str:
        """What is shown, for a status line: the endpoint and workspace of one service, or
        each provider's."""
        if not self.mixed:
            return self.primary.scope().label
        return " + ".join(f"{provider_name(s.provider)} {s.scope().label}" for s in self.services)

    @property
    def alone_reason(self) -> str:
        """Why one provider alone is shown (what `P` says)."""
        if self.requested:
            return f"this session was started with --provider {self.requested}"
        return "no other provider's key is set"

    @property
    def short_label(self) -> str:
        """The providers shown, when the line has no room for `label`."""
        if not self.mixed:
            return self.label
        return " + ".join(provider_name(p) for p in self.providers)

    @property
    def warnings(self) -> list[str]:
        return list(dict.fromkeys(w for s in self.services for w in s.warnings))

    # --- events -------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Every member's events (see the module docstring); returns the unsubscriber."""
        if not self.mixed:
            return self.primary.subscribe(callback)
        if not self._detach:
            self._detach = [s.subscribe(self._relay(s)) for s in self.services]
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _relay(self, service: BatchService) -> Callable[[Event], None]:
        def relay(event: Event) -> None:
            if isinstance(event, RefreshDone):
                event = self._merged_done(service, event)
            elif isinstance(event, RefreshFailed):
                event = self._named_failure(service, event)
            self._emit(event)

        return relay

    def _emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed")

    def _merged_done(self, service: BatchService, done: RefreshDone) -> RefreshDone:
        """One member refreshed: the counters of every member (the last refresh of each, the
        store's counts for a member not refreshed yet); the next refresh is the soonest."""
        self._last_done[service.provider] = done
        active = total = 0
        complete = idle = True
        next_at: datetime | None = None
        paused = False
        for member in self.services:
            last = self._last_done.get(member.provider)
            if last is None:
                _rows, n, a, _seen = member.newest_batches(0)
                total += n
                active += a
                continue
            total += last.total
            active += last.active
            complete = complete and last.listing_complete
            idle = idle and last.idle
            if last.next_in_s is None:
                paused = True
                continue
            at = last.at + timedelta(seconds=last.next_in_s)
            next_at = at if next_at is None or at < next_at else next_at
        next_in = None
        if next_at is not None and not paused:
            next_in = max(0.0, (next_at - done.at).total_seconds())
        return replace(
            done,
            api_calls_total=self.api_calls,
            active=active,
            total=total,
            listing_complete=complete,
            idle=idle,
            next_in_s=next_in,
        )

    def _named_failure(self, service: BatchService, failed: RefreshFailed) -> RefreshFailed:
        return replace(
            failed,
            message=f"{provider_name(service.provider)}: {failed.message}",
            provider=service.provider,
        )

    # --- refresh and polling -------------------------------------------------------------------

    async def refresh(self, members: Sequence[BatchService] | None = None) -> RefreshDone:
        """Refresh every member (or these `members`) at once. A member that fails is reported
        as a `RefreshFailed` event (named by its provider) while the others' refreshes stand;
        if all fail, the first failure is raised."""
        if not self.mixed:
            return await self.primary.refresh()
        members = self.services if members is None else members
        outcomes = await asyncio.gather(*(s.refresh() for s in members), return_exceptions=True)
        done: RefreshDone | None = None
        failed: list[tuple[BatchService, Exception]] = []
        for service, outcome in zip(members, outcomes, strict=True):
            if isinstance(outcome, RefreshDone):
                done = self._merged_done(service, outcome)
            elif isinstance(outcome, Exception):
                failed.append((service, outcome))
            elif isinstance(outcome, BaseException):
                raise outcome  # a cancel, an interrupt
        for service, exc in failed:
            self._report(service, exc)
        if done is None:  # each named above: the status line names every provider
            first = failed[0][1]
            raise RefreshesFailed(
                " · ".join(f"{provider_name(s.provider)}: {e}" for s, e in failed),
                kind=getattr(first, "kind", "other"),
                status=getattr(first, "status", None),
                retry_after_s=getattr(first, "retry_after_s", None),
            )
        return done

    def _report(self, service: BatchService, exc: BaseException) -> None:
        text = str(exc) if isinstance(exc, BatchtopError) else f"{type(exc).__name__}: {exc}"
        retry = getattr(exc, "retry_after_s", None)
        failure = RefreshFailed("other", text, retry)
        kind = getattr(exc, "kind", "other")
        for known in ("auth", "offline", "rate_limited", "server"):
            if kind == known:
                failure = RefreshFailed(known, text, retry)
        self._emit(self._named_failure(service, failure))

    async def run_polling(self) -> None:
        """Poll every member until `close()`; a member whose polling stops is reported and
        the others go on."""
        if not self.mixed:
            await self.primary.run_polling()
            return
        await asyncio.gather(*(self._poll(s) for s in self.services))

    async def _poll(self, service: BatchService) -> None:
        try:
            await service.run_polling()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._report(service, exc)

    def pause(self) -> None:
        for service in self.services:
            service.pause()

    def resume(self) -> None:
        for service in self.services:
            service.resume()

    @property
    def paused(self) -> bool:
        return all(s.paused for s in self.services)

    @property
    def api_calls(self) -> int:
        return sum(s.api_calls for s in self.services)

    async def close(self, *, wait_for_search_index: bool = True) -> None:
        """Close every member (each is closed even when another's close fails)."""
        for detach in self._detach:
            detach()
        self._detach = []
        errors: list[BaseException] = []
        for service in self.services:
            try:
                await service.close(wait_for_search_index=wait_for_search_index)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

"""Refresh policy: keep every batch of the workspace current with as few API calls as possible.

One refresh lists pages of batches (1,000 per call, newest first) until it has gone past the
oldest batch still active locally, then retrieves one by one only the active batches the
list window did not cover. The timer loop never stops by itself: it polls at the refresh
interval while something is active and at the slower idle interval otherwise (batches other
clients create must still appear), backs off exponentially (with jitter, honouring
`retry-after`) on rate limits, overload, server errors and network loss, and never runs two
fetches at once: a manual refresh during a running fetch simply waits for that fetch's
result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .config import MIN_REFRESH_S, Settings
from .errors import ApiError
from .models import (
    BatchChanged,
    BatchEnded,
    BatchView,
    Event,
    ListingProgress,
    ProcessingStatus,
    RefreshDone,
    RefreshFailed,
    RemoteBatch,
)
from .providers.base import BatchProvider

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0
# A batch missing from a retrieve this long after creation is treated as deleted remotely;
# younger ones may be a transient 404 (anthropic-sdk-python#1432).
DELETED_AFTER = timedelta(minutes=5)
# List at most this many batches per refresh, in pages of the provider's size (10 pages of
# Message Batches' 1,000, 100 of OpenAI's 100); older active batches are retrieved one by
# one instead. Listing stops as soon as every known active batch is covered, so the cap
# only matters for many active batches (5,000 active: 5 list calls instead of 3 + 2,000
# retrieves; OpenAI 50 instead of 10 + 4,000) or one active batch behind thousands of ended
# ones.
MAX_LISTED = 10_000


def backoff_delay(failures: int, retry_after_s: float | None, rng: Callable[[], float]) -> float:
    """Exponential backoff with jitter (×0.75–1.25), never shorter than `retry-after`."""
    base = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, failures - 1))
    delay: float = base * (0.75 + 0.5 * float(rng()))
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


def retry_delay(
    err: ApiError, failures: int, interval_s: float, rng: Callable[[], float] = random.random
) -> float | None:
    """How long to wait before refreshing again after `err`, the `failures`-th failure in a
    row: backoff for rate limits, overload, server errors and network loss, the interval
    otherwise; None for a rejected key, which will not fix itself (every front end gives up
    or waits for the user)."""
    if err.kind == "auth":
        return None
    if err.kind in ("rate_limited", "server", "offline"):
        return backoff_delay(failures, err.retry_after_s, rng)
    return max(interval_s, err.retry_after_s or 0.0)


class Poller:
    """Refreshes the store from the API and emits events; see the module docstring."""

    def __init__(
        self,
        api: Callable[[], BatchProvider],
        store: Store,
        settings: Settings,
        *,
        emit: Callable[[Event], None],
        now: Callable[[], datetime],
        sleep: Sleep | None = None,
        rng: Callable[[], float] = random.random,
        on_first_page: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._api = api
        # called after a refresh's first answer, before anything is stored: True means the
        # store was switched (another workspace): the refresh starts over on the new one
        self._on_first_page = on_first_page
        self._store = store
        self._settings = settings
        self._emit = emit
        self._now = now
        self._sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng
        self._inflight: asyncio.Future[RefreshDone] | None = None
        self._wake = asyncio.Event()
        self._paused = False
        self._stopped = False
        self.api_calls_total = 0
        self.api_calls_last = 0
        self.failures = 0
        self.last_error: ApiError | None = None
        self.next_delays: list[float | None] = []  # recent waits, newest last (diagnostics)
        self.max_pages: int | None = None  # None: MAX_LISTED in the provider's pages
        # The store's change number this process has told its subscribers of (None: not
        # read yet): every batch changed after it is emitted, whoever changed it
        self._change_mark: int | None = None
        # The batches this process last knew as active (None: not read yet): one that
        # arrives ended, whichever process stored its end, ended (`BatchEnded`) for it
        self._active: set[str] | None = None

    # --- state -----------------------------------------------------------------------------

    def use_store(self, store: Store) -> None:
        """Refresh into `store` from now on (the service switched workspaces)."""
        self._store = store
        self._change_mark = None
        self._active = None

    def note_read(self, mark: int) -> None:
        """A subscriber read the store's batches at change number `mark` (read before the
        batches): later refreshes emit the batches changed since, not those it has."""
        if self._change_mark is None or mark > self._change_mark:
            self._change_mark = mark

    @property
    def interval_s(self) -> float:
        return max(MIN_REFRESH_S, self._settings.refresh_interval_s)

    @property
    def idle_interval_s(self) -> float:
        """The wait while nothing is active: never shorter than the active interval."""
        return max(self.interval_s, self._settings.idle_refresh_interval_s)

    def next_delay(self, active: int) -> float | None:
        """How long the timer waits after a refresh that left `active` batches active."""
        if self._paused:
            return None
        return self.interval_s if active else self.idle_interval_s

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self.wake()

    def wake(self) -> None:
        """Cut the current wait short (new batch submitted, resume, stop)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self.wake()

    # --- one refresh -----------------------------------------------------------------------

    async def refresh(self) -> RefreshDone:
        """Refresh now; if a refresh is already running, wait for it and return its result."""
        if self._inflight is not None and not self._inflight.done():
            return await asyncio.shield(self._inflight)
        fut: asyncio.Future[RefreshDone] = asyncio.get_running_loop().create_future()
        self._inflight = fut
        try:
            done = await self._refresh_once()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        fut.set_result(done)
        if self.failures:
            # a manual refresh worked while the timer was backing off: re-arm it normally
            self.failures = 0
            self.wake()
        return done

    async def _refresh_once(self) -> RefreshDone:
        api = self._api()
        start_calls = api.calls
        try:
            await self._sync(api)
        except ApiError as err:
            self.last_error = err
            raise
        finally:
            self._count(api.calls - start_calls)
        self.last_error = None
        await self._emit_changes()  # what other processes stored, if this refresh stored none
        at = self._now()
        await asyncio.to_thread(self._store.set_synced_at, at)
        total, active, _seen = await asyncio.to_thread(self._store.batch_totals)
        _cursor, complete = await asyncio.to_thread(self._store.listing)
        done = RefreshDone(
            at=at,
            api_calls_total=self.api_calls_total,
            api_calls_last=self.api_calls_last,
            active=active,
            next_in_s=self.next_delay(active),
            idle=not active,
            total=total,
            listing_complete=complete,
        )
        self._emit(done)
        return done

    def _count(self, calls: int) -> None:
        self.api_calls_last = calls
        self.api_calls_total += calls

    async def _store_batches(self, batches: list[RemoteBatch]) -> None:
        """Record what the API said and emit an event per new or changed batch: those this
        refresh changed and those another process (another batchtop on the same data
        directory) stored, labelled or deleted since the last refresh."""
        if not batches:
            return
        if self._change_mark is None:
            self._change_mark = await asyncio.to_thread(self._store.change_mark)
        changes = await asyncio.to_thread(self._store.record_remote, batches, self._now())
        await self._emit_changes({bid for bid, prev in changes if prev and prev.is_active})

    async def _emit_changes(self, was_active: set[str] | frozenset[str] = frozenset()) -> None:
        """A `BatchChanged` per batch whose stored row changed after the change mark (see
        `Store.changed_since`), then the mark moves past them; a `BatchEnded` for each that
        ended and was active (`was_active`, or as this process last knew it), whichever
        process stored the end (`batchtop show` in another shell, say)."""
        store = self._store
        if self._change_mark is None:  # nothing read yet: from now on
            self._change_mark = await asyncio.to_thread(store.change_mark)
            return
        views, mark = await asyncio.to_thread(store.changed_since, self._change_mark)
        if store is not self._store:  # switched workspaces meanwhile: its reader starts over
            return
        self._change_mark = max(mark, self._change_mark)
        active = self._active if self._active is not None else set()
        for view in views:
            self._emit(BatchChanged(view))
        for view in views:
            if view.remote.processing_status is not ProcessingStatus.ENDED:
                active.add(view.id)
            elif view.id in was_active or view.id in active:
                active.discard(view.id)
                self._emit(BatchEnded(view))
        if self._active is not None:
            self._active = active

    async def _sync(self, api: BatchProvider) -> None:
        """One refresh: the newest pages, then (until it is done once) the rest of the
        list, then the active batches neither covered."""
        store = self._store
        known_active = await asyncio.to_thread(store.list_batches, active_only=True)
        active = {v.id: v for v in known_active}
        if self._active is None:
            self._active = set(active)
        total_before, _active, _seen = await asyncio.to_thread(store.batch_totals)
        cursor, complete = await asyncio.to_thread(store.listing)
        seen: dict[str, RemoteBatch] = {}
        after_id: str | None = None
        reached_end = False
        pages = self.max_pages or math.ceil(MAX_LISTED / max(1, api.page_limit))
        for n in range(pages):
            page = await api.list_page(after_id=after_id)
            if n == 0 and self._on_first_page is not None and await self._on_first_page():
                await self._sync(api)  # another workspace's store: start over on it
                return
            known = await asyncio.to_thread(store.known_ids, [b.id for b in page.batches])
            for b in page.batches:
                seen.setdefault(b.id, b)
            if not page.has_more or not page.batches or page.last_id is None:
                reached_end = True
                break
            # every batch on the page is new: more new ones may follow (a store that has
            # never listed anything gets its history from the walk below instead)
            gap = total_before > 0 and not known
            missing = [v for bid, v in active.items() if bid not in seen]
            if not gap and not missing:
                break
            if not gap and not await self._walk_is_cheaper(page.batches[-1], missing, api):
                break
            after_id = page.last_id
        await self._store_batches(list(seen.values()))
        if reached_end:
            await asyncio.to_thread(store.set_listing, None, complete=True)
        elif not complete:
            assert page.last_id is not None  # not the end: there is a next page
            await self._walk_history(api, cursor, page.last_id, seen)
        for view in [v for bid, v in active.items() if bid not in seen]:
            try:
                remote = await api.retrieve(view.id)
            except ApiError as err:
                if err.status == 404:
                    age = self._now() - view.remote.created_at
                    if age > DELETED_AFTER:
                        await asyncio.to_thread(store.mark_deleted, view.id)
                    continue
                raise
            seen[remote.id] = remote
            await self._store_batches([remote])

    async def _walk_is_cheaper(
        self, last: RemoteBatch, missing: list[BatchView], api: BatchProvider
    ) -> bool:
        """Whether listing on (about one call per page of batches between here and the
        oldest missing active one, as far as the store knows) costs no more than
        retrieving the missing ones (one call each)."""
        oldest = min(v.remote.created_at for v in missing)
        between = await asyncio.to_thread(
            self._store.count_created_between, oldest, last.created_at
        )
        return math.ceil(between / max(1, api.page_limit)) <= len(missing)

    async def _walk_history(
        self,
        api: BatchProvider,
        cursor: str | None,
        head_end: str,
        seen: dict[str, RemoteBatch],
    ) -> None:
        """List the rest of the workspace, older than the newest page, a page at a time;
        each page is stored with the cursor, so an interrupted walk continues where it
        stopped. Only the first sync of a workspace does this."""
        store = self._store
        resumed = cursor is not None
        after_id = cursor or head_end
        listed = 0
        while not self._stopped:
            page = await api.list_page(after_id=after_id)
            if resumed and not page.batches:
                # the batch the walk stopped after is gone (deleted): start again below
                # the newest page rather than take an empty answer for the end
                resumed = False
                after_id = head_end
                continue
            resumed = False
            for b in page.batches:
                seen.setdefault(b.id, b)
            await self._store_batches(page.batches)
            listed += len(page.batches)
            end = not page.has_more or not page.batches or page.last_id is None
            await asyncio.to_thread(store.set_listing, page.last_id, complete=end)
            total, _active, _seen = await asyncio.to_thread(store.batch_totals)
            self._emit(ListingProgress(listed=listed, total=total, complete=end))
            if end:
                return
            assert page.last_id is not None
            after_id = page.last_id

    # --- the timer loop --------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until `stop()`: the interval while something is active, the idle interval
        otherwise; paused, wait for `resume()` or `wake()`."""
        self._stopped = False
        while not self._stopped:
            if self._paused:
                await self._wait(None)
                continue
            delay: float | None
            try:
                done = await self.refresh()
            except ApiError as err:
                self.failures += 1
                delay = self._delay_after(err)
                kind = "other" if err.kind == "invalid" else err.kind
                self._emit(RefreshFailed(kind=kind, message=str(err), retry_in_s=delay))
            except Exception as exc:  # never let the loop die on a surprise
                log.exception("refresh failed")
                self.failures += 1
                delay = backoff_delay(self.failures, None, self._rng)
                self._emit(RefreshFailed(kind="other", message=str(exc)[:200], retry_in_s=delay))
            else:
                self.failures = 0
                delay = done.next_in_s
            if self._stopped:
                break
            await self._wait(delay)

    def _delay_after(self, err: ApiError) -> float | None:
        return retry_delay(err, self.failures, self.interval_s, self._rng)

    async def _wait(self, delay: float | None) -> None:
        self.next_delays.append(delay)
        del self.next_delays[:-50]
        self._wake.clear()
        if delay is None:
            await self._wake.wait()
            return
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

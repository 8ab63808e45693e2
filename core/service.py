"""`BatchService`: the one async facade both front ends (TUI and CLI) use.

Reads come from the local store and never touch the network, so a front end can paint
instantly and offline. Network work (refresh, submit, cancel, delete, results) goes through
`api.BatchApi`, whose SDK is imported on first use; without an API key every network call
raises `ApiError(kind="auth")` while reads keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import orjson

from . import paths, pricing, retry, scope, token_count
from .config import Settings, check_betas, load_settings
from .errors import (
    ApiError,
    BatchtopError,
    Conflict,
    CreateUnresolved,
    NotFound,
    PartBusy,
    UserError,
)
from .model_catalog import ModelCatalog, builtin_catalog, from_api, set_current
from .models import (
    JOB_ID_PREFIX,
    BatchEnded,
    BatchView,
    CostEstimate,
    CountSnapshot,
    Event,
    ExportFormat,
    ExportResult,
    FailedRequest,
    ImportIssue,
    ImportOptions,
    ImportReport,
    Job,
    JobProgress,
    OrphanFile,
    PartialJobsNotice,
    ProcessingStatus,
    ProgressSeries,
    RefreshDone,
    RemoteBatch,
    ResultBreakdown,
    ResultDistribution,
    ResultFilter,
    ResultPage,
    ResultRow,
    ResultsDownload,
    ResultsReady,
    ResultSummary,
    RetryOutcome,
    RetryPlan,
    ScopeChanged,
    SubmitIntent,
    SubmitNotice,
    SubmitOutcome,
    SubmitProgress,
    WorkspaceInfo,
    auto_custom_id,
    checked_label,
    provider_name,
)
from .part_writer import part_path
from .poller import Poller, Sleep
from .providers import BatchProvider, check_provider, make_provider
from .providers.env import KEY_VARIABLES, provider_base_url, provider_key
from .redact import url_for_display
from .request_checks import max_tokens_problem, user_text
from .results import ResultsIndex
from .store import Store
from .words import quantity, them

if TYPE_CHECKING:
    from .stats import Statistics
    from .submit import PreparedPart, Submitter

log = logging.getLogger(__name__)

PartPlan = tuple[int, Path, float | None]  # part index, prepared part file, estimated cost


def _move_store_dir(source: Path, target: Path) -> None:
    """Rename a scope's directory (its store and the files SQLite keeps beside it)."""
    paths.ensure_private_dir(target.parent)
    os.replace(source, target)


BatchesView = Literal["all", "active", "ended", "errors"]
BATCH_LIFETIME = timedelta(hours=24)
ALL_RESULTS = ResultFilter()
# Batches younger than this may answer a transient 404 (anthropic-sdk-python#1432).
YOUNG_BATCH = timedelta(minutes=10)
MODEL_CATALOG_MAX_AGE = timedelta(days=1)
CATALOG_WAIT_S = 2.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _build_pending_facts(conn: sqlite3.Connection, should_stop: Callable[[], bool]) -> None:
    """The results' follow-up after a search-index build: the statistics' facts (the
    statistics module is imported here, on the builder's thread, not for a first frame)."""
    from .stats import build_pending_facts

    build_pending_facts(conn, should_stop)


class BatchService:
    """See the module docstring; every public method returns `core.models` dataclasses."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Sleep | None = None,
        provider: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.store = store
        # The same database's result rows and statistics (core/results/, core/stats.py).
        self.results = ResultsIndex(store.db, after_index=_build_pending_facts)
        self._stats: Statistics | None = None  # made on first use (`_statistics`)
        self.settings = settings
        pricing.set_overrides(settings.prices)
        self._now = now or _utcnow
        self.provider = check_provider(provider or settings.provider)
        key = api_key if api_key is not None else provider_key(self.provider)
        self.endpoint = endpoint  # OpenAI's batch endpoint (None: its default)
        self._api: BatchProvider = make_provider(
            self.provider,
            api_key=key or None,
            base_url=base_url or provider_base_url(self.provider, settings),
            timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
            now=self._now,
            endpoint=endpoint,
        )
        self._subscribers: list[Callable[[Event], None]] = []
        self._poller = Poller(
            lambda: self._api,
            store,
            settings,
            emit=self._emit,
            now=self._now,
            sleep=sleep,
            on_first_page=self._apply_scope,
        )
        self._submitter_: Submitter | None = None  # made on first use (`_submitter`)
        self._sleep = sleep
        self._downloads: dict[str, asyncio.Task[ResultsDownload]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._owns_store = False
        self._catalog: ModelCatalog | None = None
        self._catalog_task: asyncio.Task[Any] | None = None
        self._reconciled = False
        # adopted batches whose indexed results do not look like their part's (said by the
        # detail panel: `adopted_warning`)
        self._adopted_warnings: dict[str, str] = {}
        self.auto_download = True
        # One store per (endpoint, workspace) (core/scope.py): True when this service chose
        # the store from the default location and may switch to the workspace the API names.
        self._scoped = False
        self._scope_known = False  # the API named this process's workspace (or none)
        self._scope_meta: tuple[str | None, str | None, bool] | None = None  # (`scope`)
        self._warnings: list[str] = []

    @property
    def _statistics(self) -> Statistics:
        """The statistics view's numbers, on this store (core/stats.py, loaded when first
        asked for: a dashboard's first frame shows none)."""
        if self._stats is None:
            from .stats import Statistics

            self._stats = Statistics(self.store.db)
        return self._stats

    @property
    def _submitter(self) -> Submitter:
        """The journaled submitter (core/submit.py), made when something is first sent or
        reconciled."""
        if self._submitter_ is None:
            from .submit import Submitter

            self._submitter_ = Submitter(
                lambda: self._api, self.store, now=self._now, sleep=self._sleep
            )
        return self._submitter_

    @classmethod
    async def open(
        cls,
        store_path: Path | None = None,
        settings: Settings | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Sleep | None = None,
        provider: str | None = None,
        endpoint: str | None = None,
        durable: bool = True,
    ) -> BatchService:
        """Open the store and load settings (default config file).

        Without `store_path`, the store is the one of the endpoint and workspace in use
        (core/scope.py): the one seen last at this base URL until the API names the
        workspace, then the right one. `provider` (default: the setting, `anthropic`)
        chooses the batch API; each provider's base URL is its own endpoint, so its
        batches live in stores of their own.
        """
        settings = settings if settings is not None else await asyncio.to_thread(load_settings)
        name = check_provider(provider or settings.provider)
        scoped = store_path is None
        warnings: list[str] = []
        if store_path is None:
            url = scope.store_endpoint(name, settings, base_url)
            try:
                store_path = await asyncio.to_thread(scope.first_store_path, url)
            except OSError as exc:
                raise UserError(
                    f"Cannot prepare the data directory {paths.data_dir()}: {exc.strerror}."
                ) from exc
            exposed = await asyncio.to_thread(paths.exposure_warning, paths.data_dir())
            if exposed is not None:
                warnings.append(exposed)
        store = await asyncio.to_thread(lambda: Store.open(store_path, durable=durable))
        service = cls(
            store,
            settings,
            api_key=api_key,
            base_url=base_url,
            now=now,
            sleep=sleep,
            provider=name,
            endpoint=endpoint,
        )
        # a search index an earlier process left unfinished is built in the background
        await asyncio.to_thread(service.results.resume_search_index)
        service._owns_store = True
        service._scoped = scoped
        service._warnings = warnings
        return service

    async def close(self, *, wait_for_search_index: bool = True) -> None:
        """Stop background work and close the store.

        A search-index build still running is given time to finish unless
        `wait_for_search_index` is False (an interactive quit): then it stops at once and
        resumes the next time the store is opened.
        """
        self._poller.stop()
        pending = [*self._tasks, *self._downloads.values()]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
        await self._api.close()
        if self._owns_store:
            if wait_for_search_index:
                self.store.close()
            else:
                self.store.close(index_wait_s=0)

    @property
    def base_url(self) -> str:
        return self._api.base_url

    @property
    def batch_id_prefix(self) -> str:
        """How this provider's batch ids begin (an example for a user, not a rule)."""
        return self._api.batch_id_prefix

    @property
    def warnings(self) -> list[str]:
        """One-line warnings for the user found while opening (an exposed data directory)."""
        return list(dict.fromkeys([*self._warnings, *self.store.warnings]))

    # --- scope: which endpoint and workspace the store holds ----------------------------

    def scope(self) -> WorkspaceInfo:
        """The endpoint and workspace shown, without counting batches (`workspace()` does);
        the workspace is the one the API named (recorded in the store), None before. Read
        from the store once, then kept: a front end asks while drawing, also while another
        provider's service is switching stores (its old one closed for a moment)."""
        if self._scope_meta is None:
            store = self.store
            self._scope_meta = (
                store.meta("workspace_id"),
                store.meta("organization_id"),
                store.meta("base_url") is not None,
            )
        workspace_id, organization_id, named = self._scope_meta
        return WorkspaceInfo(
            base_url=self.base_url,
            workspace_id=workspace_id,
            organization_id=organization_id,
            batches=0,
            active=0,
            listing_complete=True,
            named=named,
        )

    async def _ready(self) -> None:
        """Before a network action writes to the store: make sure the store is the one of
        the workspace the key is in (one cheap list call, the first time only)."""
        if not self._scoped or self._scope_known or not self._api.has_key:
            return
        if self._api.scope is None:
            await self._api.probe_scope()  # not retried; a failure: act on the store open
        await self._apply_scope()

    async def _apply_scope(self) -> bool:
        """Record what the API said about the workspace; switch to that workspace's store
        if it is not the one open. True when the store was switched."""
        seen = self._api.scope
        if seen is None or self._scope_known:
            return False
        self._scope_known = True
        workspace_id, organization_id = seen
        base_url = self._api.base_url
        if self._scoped:
            name = scope.scope_name(workspace_id, organization_id)
            target = scope.store_path(base_url, name)
            if target != self.store.path:
                await self._switch_store(target, name)
                switched = True
            else:
                switched = False
            await asyncio.to_thread(scope.remember_scope, base_url, name)
        else:
            switched = False
        await asyncio.to_thread(
            self.store.set_meta,
            base_url=url_for_display(base_url),  # no credentials written
            workspace_id=workspace_id,
            organization_id=organization_id,
        )
        self._scope_meta = None  # read again from the store of this workspace
        if switched:
            self._emit(ScopeChanged(self.workspace()))
        return switched

    async def _switch_store(self, target: Path, name: str) -> None:
        """Open `target` in place of the current store. A store that holds no workspace yet
        (`unscoped`: from before scoping) is claimed instead when it has no batch or when
        this workspace can retrieve its newest batch.

        What the front ends read on the event loop meanwhile (the dashboard reloads every
        provider's batches when one's events arrive) never meets a closed store: another
        workspace's store is opened before the old one is closed; a claimed one, which must
        be closed to be moved, is closed, moved and opened without yielding to the loop
        (once, on a first start: the store is new or from before scoping)."""
        old = self.store
        claim = False
        if old.path.parent.name == scope.UNSCOPED and name != scope.UNSCOPED:
            taken = await asyncio.to_thread(target.exists)
            claim = not taken and await self._belongs_here(old)
        self.scope()  # what it shows is read before the old store closes
        if claim:
            old.close(index_wait_s=0)  # (waits for a call another thread is inside)
            _move_store_dir(old.path.parent, target.parent)
            new = Store.open(target, durable=old.db.durable)
        else:
            new = await asyncio.to_thread(lambda: Store.open(target, durable=old.db.durable))
        self.store = new
        self.results = ResultsIndex(new.db, after_index=_build_pending_facts)
        self._stats = None
        self._poller.use_store(new)
        if self._submitter_ is not None:
            self._submitter_._store = new  # the journal goes with the workspace's store
        await asyncio.to_thread(self.results.resume_search_index)
        if not claim:
            # A worker thread (the catalogue refresh, a read for a screen) may be inside
            # one of its calls now: close waits for it, and refuses any later one.
            await asyncio.to_thread(old.close, index_wait_s=0)

    async def _belongs_here(self, store: Store) -> bool:
        newest = await asyncio.to_thread(store.list_batches, limit=1, include_deleted=True)
        if not newest:
            return True
        try:
            await self._api.retrieve(newest[0].id)
        except ApiError:
            return False
        return True

    @property
    def has_api_key(self) -> bool:
        return self._api.has_key

    def require_key(self, batch_id: str) -> None:
        """Raise the one line an action on this batch (or job) that needs the API meets when this
        provider's key is not set: whose batch it is and the variable to set (a store read
        without a key, `Fleet.locate`'s keyless owner, reaches a batch; acting on it needs
        the key)."""
        if not self._api.has_key:
            what = "Job" if batch_id.startswith(JOB_ID_PREFIX) else "Batch"
            raise ApiError(
                f"{what} {batch_id} is {provider_name(self.provider)}'s:"
                f" set {KEY_VARIABLES[self.provider]}.",
                kind="auth",
                sent=False,
            )

    def check_api(self) -> None:
        """Raise the one-line `ApiError` a call would meet before anything is sent (a base URL
        that cannot be used, no key, a key that cannot be sent); nothing when one can go."""
        self._api.check_key()

    @property
    def key_note(self) -> str | None:
        """A one-line note about the key as set (surrounding whitespace stripped), to say once."""
        return self._api.key_note

    def warm_up(self) -> None:
        """Import the SDK now, blocking (bench and tests keep the import out of a measure).

        Not needed before network work: the first call loads it in a worker thread."""
        self._api.warm_up()

    # --- reads (store only) -----------------------------------------------------------

    def batches(self, view: BatchesView = "all") -> list[BatchView]:
        """The stored batches of `view`, newest first. The reader has them as of now: later
        refreshes emit what changes after (`Poller.note_read`), whoever changes it."""
        self._poller.note_read(self.store.change_mark())
        if view == "active":
            return self.store.list_batches(active_only=True)
        rows = self.store.list_batches()
        if view == "ended":
            return [b for b in rows if not b.remote.is_active]
        if view == "errors":
            return [b for b in rows if b.remote.has_errors]
        return rows

    def newest_batches(self, limit: int) -> tuple[list[BatchView], int, int, datetime | None]:
        """The `limit` newest batches (the top of `batches()`), how many batches and active
        batches there are, and when they were last seen: enough to draw a first screen
        before reading them all."""
        self._poller.note_read(self.store.change_mark())
        return (self.store.list_batches(limit=limit), *self.store.batch_totals())

    def batch(self, batch_id: str) -> BatchView | None:
        return self.store.get_batch(batch_id)

    def workspace(self) -> WorkspaceInfo:
        """The endpoint and workspace shown, and how many batches the store knows there."""
        total, active, _seen = self.store.batch_totals()
        _cursor, complete = self.store.listing()
        return replace(
            self.scope(),
            batches=total,
            active=active,
            listing_complete=complete,
            synced_at=self.store.synced_at(),
        )

    def require_batch(self, batch_id: str) -> BatchView:
        view = self.store.get_batch(batch_id)
        if view is None:
            raise NotFound(f"No batch {batch_id} is known locally (try a refresh).")
        return view

    def snapshots(self, batch_id: str) -> list[CountSnapshot]:
        return self.store.snapshots(batch_id)

    def jobs(self) -> list[Job]:
        return self.store.list_jobs()

    def job(self, job_id: str) -> Job | None:
        return self.store.get_job(job_id)

    def resolve_ids(self, batch_or_job_id: str) -> list[str]:
        """A batch id → [it]; a job id → its batches (retries included)."""
        if self.store.get_batch(batch_or_job_id) is not None:
            return [batch_or_job_id]
        job = self.store.get_job(batch_or_job_id)
        if job is not None:
            return list(job.batch_ids) or [v.id for v in self.store.job_batches(job.id)]
        raise NotFound(f"No batch or job {batch_or_job_id} is known locally (try a refresh).")

    def eta(self, batch_id: str) -> datetime | None:
        """Projected end: remaining × elapsed / completed, once some progress was observed."""
        view = self.store.get_batch(batch_id)
        if view is None or not view.remote.is_active:
            return None
        snaps = self.store.snapshots(batch_id)
        latest = snaps[-1] if snaps else None
        counts = latest.counts if latest else view.remote.request_counts
        at = latest.at if latest else view.seen_at
        done, remaining = counts.done, counts.processing
        if done <= 0 or remaining <= 0:
            return None
        elapsed = (at - view.remote.created_at).total_seconds()
        if elapsed <= 0:
            return None
        return at + timedelta(seconds=remaining * elapsed / done)

    def progress(self, batch_id: str) -> tuple[float, float]:
        """(share of requests done, share of the 24 h window used)."""
        view = self.require_batch(batch_id)
        r = view.remote
        total = r.request_counts.total
        if r.failed:  # failed as a whole: none of its requests ran
            by_count = 0.0
        elif not r.is_active:
            by_count = 1.0
        else:
            by_count = r.request_counts.done / total if total else 0.0
        end = r.ended_at if r.ended_at is not None else self._now()
        window = (r.expires_at - r.created_at).total_seconds() or BATCH_LIFETIME.total_seconds()
        by_time = (end - r.created_at).total_seconds() / window
        return by_count, min(1.0, max(0.0, by_time))

    # --- events -----------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        if isinstance(event, BatchEnded):
            self._maybe_auto_download(event.batch)
        elif isinstance(event, RefreshDone):
            self._resume_search_index()
        for cb in list(self._subscribers):
            try:
                cb(event)
            except Exception:
                log.exception("event subscriber failed")

    def _maybe_auto_download(self, view: BatchView) -> None:
        if not self.auto_download or view.job_id is None or view.results_downloaded:
            return
        if not view.remote.has_results or view.id in self._downloads:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._spawn(self.download_results(view.id))

    def _resume_search_index(self) -> None:
        """After a refresh: build a search index another process left unfinished (reads
        never start work; until it is built, searches use the equivalent LIKE scan). One
        query of a small table, on this thread: no worker left inside the store at close."""
        with contextlib.suppress(sqlite3.Error, UserError):
            self.results.resume_search_index()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("background task failed: %s", t.exception())

        task.add_done_callback(done)
        return task

    async def wait_background(self) -> None:
        """Wait for automatic downloads started by events (tests, CLI watch)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- refresh ----------------------------------------------------------------------

    async def refresh(self) -> RefreshDone:
        """Refresh now (the first time, also resolve submissions a crash left open)."""
        await self._reconcile_once()
        done = await self._poller.refresh()
        await self._reconcile_ended_lookalikes()
        return done

    async def _reconcile_once(self) -> None:
        if self._reconciled or not self._api.has_key:
            return
        self._reconciled = True
        if await asyncio.to_thread(self.store.open_intents):
            with contextlib.suppress(BatchtopError):
                await self.reconcile()
        partial = await asyncio.to_thread(self.store.partial_jobs)
        if partial:
            self._emit(PartialJobsNotice(tuple(partial)))

    async def _reconcile_ended_lookalikes(self) -> None:
        """An unknown submission's look-alike batch has ended: its results can prove it."""
        held = [i for i in await asyncio.to_thread(self.store.open_intents) if i.unknown]
        for intent in held:
            views = [self.store.get_batch(bid) for bid in intent.candidates]
            if all(v is not None and not v.remote.is_active for v in views):
                with contextlib.suppress(BatchtopError):
                    await self.reconcile()
                return

    async def run_polling(self) -> None:
        """Poll until `close()`; reconciles open submit intents first (best effort)."""
        await self._reconcile_once()
        self._spawn(self.model_catalog())  # at start; analyse/submit refresh it daily
        await self._poller.run()

    def stop_polling(self) -> None:
        self._poller.stop()

    def pause(self) -> None:
        self._poller.pause()

    def resume(self) -> None:
        self._poller.resume()

    @property
    def paused(self) -> bool:
        return self._poller.paused

    @property
    def api_calls(self) -> int:
        """Every HTTP request made so far (SDK retries included)."""
        return self._api.calls

    @property
    def poller(self) -> Poller:
        return self._poller

    def default_model(self, endpoint: str | None = None) -> str:
        """The model a request that names none goes to ("" when there is none): Claude's
        from the catalogue (or the `default_model` setting); OpenAI's the cheapest current
        text model (`openai_models.default_model`) among those its API listed once known,
        none for an embeddings endpoint."""
        if self.provider == "anthropic":
            return self.settings.resolved_default_model
        if (endpoint or self.endpoint or "").endswith("/embeddings"):
            return ""
        from .openai_models import default_model

        catalog = self._catalog
        listed = None
        if catalog is not None and catalog.fetched_at is not None:
            listed = [m.id for m in catalog.models]
        return default_model(listed) or ""

    async def models(self) -> list[str]:
        """Model ids that can be used (not retired): the catalogue's, newest first."""
        catalog = await self.model_catalog()
        return [m.id for m in catalog.models if m.lifecycle != "retired"]

    async def model_catalog(self, *, force: bool = False) -> ModelCatalog:
        """The model catalogue checks and the default model use.

        `GET /v1/models` (retired models included) is cached in the store and fetched again
        when a day old (or `force`); until it is known, or when the API cannot say, the
        built-in catalogue file stands in. The result is also what `request_checks` reads.
        """
        catalog = self._catalog
        if catalog is None:
            catalog = self._catalog = await asyncio.to_thread(self._cached_catalog)
            self._make_current(catalog)
        now = self._now()
        stale = catalog is None or catalog.fetched_at is None
        if catalog is not None and catalog.fetched_at is not None:
            try:
                fetched = datetime.fromisoformat(catalog.fetched_at)
                stale = now - fetched >= MODEL_CATALOG_MAX_AGE
            except ValueError:
                stale = True
        if (stale or force) and self._api.has_key:
            try:
                entries = await self._api.model_list()
            except BatchtopError:
                entries = []
            if entries:
                stamp = now.isoformat()
                catalog = from_api(entries, stamp)
                body = orjson.dumps(entries).decode()
                await asyncio.to_thread(  # the store open then: a scope switch may replace it
                    lambda: self.store.set_meta(model_catalog=body, model_catalog_fetched_at=stamp)
                )
        self._catalog = catalog
        self._make_current(catalog)
        return catalog if catalog is not None else builtin_catalog()

    def _make_current(self, catalog: ModelCatalog | None) -> None:
        """The process's catalogue (model checks, the default model) is Claude's: another
        provider's model list, fetched by its own service, never replaces it."""
        if self.provider == "anthropic":
            set_current(catalog)

    async def _catalog_for_checks(self) -> None:
        """Make the catalogue current before checking requests: the cached one at once, a
        fresh one if the API answers within CATALOG_WAIT_S (else it lands in the background
        and the cached or built-in one is used; the latter knows retired models too)."""
        task = self._catalog_task
        if task is None or task.done():
            task = self._catalog_task = self._spawn(self.model_catalog())
        with contextlib.suppress(TimeoutError, BatchtopError):
            await asyncio.wait_for(asyncio.shield(task), CATALOG_WAIT_S)

    def _cached_catalog(self) -> ModelCatalog | None:
        body = self.store.meta("model_catalog")
        stamp = self.store.meta("model_catalog_fetched_at")
        if not body or not stamp:
            return None
        try:
            entries = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return from_api(entries, stamp) if isinstance(entries, list) else None

    # --- import / submit ----------------------------------------------------------------

    def _options(self, options: ImportOptions) -> ImportOptions:
        s = self.settings
        defaults = ImportOptions()
        anthropic = self.provider == "anthropic"  # the model defaults are Anthropic's
        return replace(
            options,
            model=options.model or self.default_model(options.endpoint) or None,
            max_tokens=options.max_tokens or (s.default_max_tokens if anthropic else None),
            max_requests_per_batch=(
                s.max_requests_per_batch
                if options.max_requests_per_batch == defaults.max_requests_per_batch
                else options.max_requests_per_batch
            ),
            max_bytes_per_batch=(
                s.max_bytes_per_batch
                if options.max_bytes_per_batch == defaults.max_bytes_per_batch
                else options.max_bytes_per_batch
            ),
        )

    def _client_tag(self) -> str:
        """This data directory's tag for the workspace (see `ImportOptions.id_tag`)."""
        tag = self.store.meta("client_tag")
        if not tag:
            import secrets  # (and hmac, hashlib): not for the first frame

            tag = secrets.token_hex(3)
            self.store.set_meta(client_tag=tag)
        return tag

    def numbered_id(self, n: int = 1) -> str:
        """The custom_id this data directory gives the n-th request of an import that names
        none (`row-<tag>-000001`): what the import form shows as its example."""
        return auto_custom_id(n, self._client_tag())

    def _new_work_dir(self) -> Path:
        stamp = self._now().strftime("%Y%m%dT%H%M%S")
        return paths.ensure_private_dir(paths.imports_dir() / f"{stamp}-{uuid.uuid4().hex[:8]}")

    async def input_problem(self, path: Path) -> str | None:
        """Why `path` cannot be read as an import's input at all (a device, a file that
        cannot be opened), in one sentence, or None (pipes and FIFOs are read: spooled)."""
        from . import import_source, importer

        if import_source.is_stream(path):
            return None
        return await asyncio.to_thread(importer.cannot_open, path)

    async def analyse(
        self,
        path: Path,
        options: ImportOptions,
        progress: Callable[[int, int], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Parse, validate, split and estimate `path` (in a thread); nothing is sent.

        A pipe or FIFO is first read once into the import's work directory (waiting for its
        writer without blocking a thread: cancelling stops it; `on_wait` is told, in one
        line, when it has sent nothing for a second)."""
        from . import import_source, importer

        path = Path(path)
        options = replace(options, id_tag=await asyncio.to_thread(self._client_tag))
        stream = import_source.is_stream(path)
        openai = self.provider == "openai"
        if not openai and (stream or await asyncio.to_thread(importer.cannot_open, path) is None):
            # checks read it: retired models, limits, the default (a file that cannot be
            # read is refused by `importer.analyse` without a call to the API)
            await self._catalog_for_checks()
        opts = self._options(options)
        work_dir = await asyncio.to_thread(self._new_work_dir)
        source: str | None = None
        if stream:  # a pipe or FIFO is read once, whichever provider it is for
            try:
                spooled = await import_source.spool(path, work_dir, on_wait)
            except BaseException:
                shutil.rmtree(work_dir, ignore_errors=True)
                raise
            source, path = str(path), spooled
        if openai:
            from .import_openai import analyse_openai

            return await asyncio.to_thread(
                analyse_openai,
                path,
                opts,
                endpoint=options.endpoint or self.endpoint,
                work_dir=work_dir,
                progress=progress,
                source=source,
            )
        return await asyncio.to_thread(
            importer.analyse, path, opts, work_dir=work_dir, progress=progress, source=source
        )

    def estimate(
        self, requests: list[dict[str, Any]], *, endpoint: str | None = None
    ) -> CostEstimate:
        """The cost estimate of requests (`{custom_id, params}` or bare params), by this
        provider's bodies (OpenAI's for `endpoint`, default the service's)."""
        if self.provider == "openai":
            from .import_openai import estimate_bodies

            bodies = (r.get("params", r) for r in requests)
            return estimate_bodies(bodies, endpoint or self.endpoint)
        return pricing.estimate_cost(requests)

    async def submit(
        self,
        report: ImportReport,
        *,
        name: str | None = None,
        label: str | None = None,
        progress: Callable[[SubmitProgress], None] | None = None,
        skip_invalid: bool = False,
        force: bool = False,
        betas: Sequence[str] = (),
    ) -> SubmitOutcome:
        """Submit every part of an analysed import as one job, through the journal.

        The job's batches are created with the anthropic-beta values of the config and
        `betas` (recorded with the job; a resumed job keeps the ones it was created with).

        An import with errors is refused, unless `skip_invalid`: then its valid requests
        (the prepared parts hold only those) are sent without the invalid ones, when every
        error is about a request of its own (`ImportReport.can_submit_valid`).

        The same prepared requests make one job (their hash is unique in the store, so two
        submits at once share it): a job with parts not created yet is resumed (only those
        are sent, `SubmitOutcome.resumed_parts` names the others); a job with every part
        created is refused (`Conflict`: it would be billed twice) unless `force`."""
        label = checked_label(label)  # before anything is sent
        await self._ready()
        if report.errors:
            n = len(report.errors)
            if not skip_invalid:
                raise UserError(
                    f"The input has {quantity(n, 'error')}: fix {them(n)} before submitting"
                    + (
                        f", or submit only its {quantity(report.request_count, 'valid request')}."
                        if report.can_submit_valid
                        else "."
                    )
                )
            if not report.can_submit_valid:
                raise UserError(
                    "The input's errors are not about single requests (the template, the file"
                    " itself): fix them before submitting."
                )
        if not report.request_count or report.prepared_path is None or not report.parts:
            raise UserError("Nothing to submit: the input holds no requests.")
        prepared_dir = report.prepared_path
        model = next(iter(report.models)) if len(report.models) == 1 else None
        total = max(1, report.request_count)
        parts: list[PartPlan] = []
        for part in report.parts:
            cost = (
                report.estimate.batch_usd * part.request_count / total
                if report.estimate is not None
                else None
            )
            parts.append((part.index, part.path, cost))
        from .submit import job_content_hash

        key = await asyncio.to_thread(job_content_hash, [(i, p) for i, p, _ in parts])
        job_name = name or Path(report.path).name
        job, new = await asyncio.to_thread(
            lambda: self.store.claim_job(
                job_name,
                report.path,
                self._now(),
                content_hash=key,
                part_count=len(parts),
                prepared_path=str(prepared_dir),
                betas=self.betas(betas),
            )
        )
        resumed: tuple[int, ...] = ()
        if not new:
            job, parts, resumed = await self._resume_plan(job, parts, prepared_dir, force)
        outcome = await self._submit_parts(
            job.id, parts, model=model, label=label, progress=progress, betas=job.betas
        )
        if report.estimate is not None and report.estimate.unbounded_requests:
            # its figure counts input only for some requests: what they cost at least
            await asyncio.to_thread(self.store.set_estimate_floor, outcome.batch_ids)
        await asyncio.to_thread(self._release_prepared, job.id)
        return replace(outcome, resumed_parts=resumed)

    async def _resume_plan(
        self, job: Job, parts: list[PartPlan], prepared_dir: Path, force: bool
    ) -> tuple[Job, list[PartPlan], tuple[int, ...]]:
        """The job these requests already have: what is left to send (see `submit`)."""
        if self._api.has_key:
            with contextlib.suppress(BatchtopError):  # a crash may have left parts open
                await self._submitter.reconcile_open(job.id)
        progress = await asyncio.to_thread(self.store.job_progress, job.id)
        assert progress is not None
        if progress.complete:
            if not force:
                ids = ", ".join(job.batch_ids) or "its batches"
                raise Conflict(
                    f"These requests were already submitted as job {job.id} ({ids}):"
                    " submitting them again bills every request twice. Use --force to submit"
                    " another copy."
                )
            copy = await asyncio.to_thread(
                lambda: self.store.create_job(
                    job.name,
                    job.source,
                    self._now(),
                    part_count=len(parts),
                    prepared_path=str(prepared_dir),
                    betas=job.betas,
                )
            )
            return copy, parts, ()
        # The parts left are sent from this import's prepared copy (same content). The job's
        # own copy stays the job's while it is there: a submit of the job that is still
        # running sends from it (removing it would lose a part that submit has journaled
        # but not yet streamed); it goes once every part is created (`_release_prepared`),
        # and this copy when this submit ends (`discard_import`). A copy that is gone is
        # replaced by this one.
        old = job.prepared_path
        if not old or not await asyncio.to_thread(Path(old).is_dir):
            await asyncio.to_thread(self.store.set_job_prepared, job.id, str(prepared_dir))
        todo = [p for p in parts if p[0] not in progress.created]
        return job, todo, progress.created

    async def resume_job(
        self, job_id: str, *, progress: Callable[[SubmitProgress], None] | None = None
    ) -> SubmitOutcome:
        """Send the parts of a partly submitted job that were never created."""
        await self._ready()
        state = await asyncio.to_thread(self.store.job_progress, job_id)
        if state is None:
            raise NotFound(f"No job {job_id} is known locally.")
        if state.complete:
            raise Conflict(f"Every part of job {job_id} was created: there is nothing to resume.")
        job = state.job
        where = Path(job.prepared_path) if job.prepared_path else None
        if where is None or not where.is_dir():
            again = f"`batchtop submit {job.source}`" if job.source else "`batchtop submit`"
            raise UserError(
                f"The prepared parts of job {job_id} are gone: {again} of the same file resumes it."
            )
        todo = [(i, part_path(where, i), None) for i in (*state.missing, *state.open)]
        outcome = await self._submit_parts(
            job_id, sorted(todo), model=None, label=None, progress=progress, betas=job.betas
        )
        await asyncio.to_thread(self._release_prepared, job_id)
        return replace(outcome, resumed_parts=state.created)

    def _release_prepared(self, job_id: str) -> None:
        """Every part of the job is created: its prepared part files are not needed."""
        state = self.store.job_progress(job_id)
        if state is None or not state.complete or not state.job.prepared_path:
            return
        self.store.set_job_prepared(job_id, None)
        self._remove_prepared(Path(state.job.prepared_path))

    def discard_import(self, report: ImportReport) -> None:
        """Delete an analysed import's prepared files (after submit, or when abandoned).

        The store keeps every manifest and parameter a retry needs; the prepared copy of the
        input is only needed until its parts are sent.
        """
        work_dir = report.prepared_path
        if work_dir is None or self.store.prepared_in_use(str(work_dir)):
            return  # kept until every part of its job is created (a resume sends them)
        self._remove_prepared(work_dir)

    @staticmethod
    def _remove_dead_input_copies() -> None:
        import tempfile

        from .providers.openai import remove_dead_input_copies

        removed = remove_dead_input_copies(paths.imports_dir(), Path(tempfile.gettempdir()))
        for path in removed:
            log.info("removed %s, left by a submit that was stopped", path)

    @staticmethod
    def _remove_prepared(work_dir: Path) -> None:
        """Remove the import folder holding these prepared parts: `work_dir` itself, or the
        folder it is in (OpenAI's parts are in its `prepared/`), never outside the imports."""
        try:
            imports = paths.imports_dir().resolve()
            target = work_dir.resolve()
        except OSError:
            return
        top = next((d for d in (target, *target.parents) if d.parent == imports), None)
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)

    async def _submit_parts(
        self,
        job_id: str,
        parts: Sequence[tuple[int, Path | None, float | None]],
        *,
        model: str | None,
        label: str | None,
        progress: Callable[[SubmitProgress], None] | None = None,
        parent_batch_id: str | None = None,
        prepared: PreparedPart | None = None,
        betas: Sequence[str] = (),
    ) -> SubmitOutcome:
        if self.provider == "openai":  # what a killed submit left (never a live one's)
            await asyncio.to_thread(self._remove_dead_input_copies)
        batch_ids: list[str] = []
        failed: list[int] = []
        unresolved: list[int] = []
        errors: list[str] = []
        first_error: BatchtopError | None = None
        for n, (index, path, cost) in enumerate(parts, start=1):
            if progress is not None:
                progress(SubmitProgress(job_id, n, len(parts)))
            if isinstance(first_error, ApiError) and first_error.kind in ("auth", "offline"):
                failed.append(index)
                errors.append(f"part {index}: not sent ({first_error})")
                continue
            try:
                if prepared is not None:
                    part = prepared
                elif path is not None:
                    part = await asyncio.to_thread(self._read_part, job_id, index, path)
                else:  # pragma: no cover - callers pass one or the other
                    raise UserError(f"Part {index} has no requests.")
                batch = await self._submitter.submit_part(
                    job_id,
                    index,
                    part,
                    model=model or part.model,
                    estimated_cost_usd=cost
                    if cost is not None
                    else (part.estimate.batch_usd if part.estimate is not None else None),
                    parent_batch_id=parent_batch_id,
                    betas=betas,
                )
            except PartBusy as err:  # another submit of the same job has this part
                if err.created_as is None:
                    unresolved.append(index)
                errors.append(f"part {index}: {err}")
                continue
            except CreateUnresolved as err:  # its batch may exist: never sent twice
                first_error = first_error or err
                unresolved.append(index)
                errors.append(f"part {index}: {err}")
                continue
            except BatchtopError as err:
                first_error = first_error or err
                failed.append(index)
                errors.append(f"part {index}: {err}")
                continue
            batch_ids.append(batch.id)
            if label:
                await asyncio.to_thread(self.store.set_label, batch.id, label)
            view = await asyncio.to_thread(self.store.get_batch, batch.id)
            if progress is not None:
                progress(SubmitProgress(job_id, n, len(parts), batch.id))
            if view is not None:
                self._emit_changed(view)
        if not batch_ids and first_error is not None:
            raise first_error
        self._poller.wake()
        return SubmitOutcome(
            job_id,
            tuple(batch_ids),
            tuple(failed),
            tuple(errors),
            unresolved_parts=tuple(unresolved),
            betas=tuple(betas),
        )

    def _read_part(self, job_id: str, index: int, path: Path) -> PreparedPart:
        """A part of a job read from its prepared file. A job's prepared copy goes only once
        every part is created, so a file gone since this submit began is a part another
        submit of the job created: `PartBusy` says so (it is not a part left unsent)."""
        from .submit import read_part

        try:
            return read_part(path)
        except UserError:
            self.store.check_part_free(job_id, index)
            raise

    def _emit_changed(self, view: BatchView) -> None:
        from .models import BatchChanged

        self._emit(BatchChanged(view))

    def compose_issues(
        self, requests: Sequence[Any], *, endpoint: str | None = None
    ) -> list[ImportIssue]:
        """Every problem of composed requests (`{custom_id, params}`), `line` = the request's
        number, by this provider's rules (OpenAI: `params` is the body of `endpoint`, default
        the service's); duplicate custom_ids included. What compose shows live and what
        `submit_requests` refuses."""
        if self.provider == "openai":
            from .import_openai import check_endpoint
            from .openai_checks import composed_issues

            return composed_issues(requests, check_endpoint(endpoint or self.endpoint))
        from .request_checks import validate_request

        issues: list[ImportIssue] = []
        seen: set[str] = set()
        for i, req in enumerate(requests):
            issues.extend(validate_request(req, index=i, path="request"))
            cid = req.get("custom_id") if isinstance(req, dict) else None
            if isinstance(cid, str):
                if cid in seen:
                    issues.append(
                        ImportIssue(
                            "error",
                            f"duplicate custom_id {cid!r}: it is used twice.",
                            "request",
                            i + 1,
                            None,
                            "custom_id",
                        )
                    )
                seen.add(cid)
        return issues

    def openai_body(
        self,
        prompt: str,
        *,
        model: str,
        max_tokens: int | None = None,
        system: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """The OpenAI request body of one prompt for `endpoint` (default the service's), as an
        import from text builds it: chat messages (system first), a responses `input` with
        `instructions`, or an embeddings `input`; the output budget in the endpoint's field."""
        from .import_openai import body_from_prompt, check_endpoint

        options = ImportOptions(model=model, max_tokens=max_tokens, system=system or None)
        return body_from_prompt(prompt, options, check_endpoint(endpoint or self.endpoint))

    async def submit_requests(
        self,
        requests: list[dict[str, Any]],
        *,
        name: str | None = None,
        label: str | None = None,
        betas: Sequence[str] = (),
        endpoint: str | None = None,
    ) -> SubmitOutcome:
        """Submit composed requests (`{custom_id, params}` dicts) as a one-part job, through
        the journal as an import's parts are. Anthropic: created with the config's
        anthropic-beta values and `betas`. OpenAI: `params` is the body of `endpoint`
        (default the service's), uploaded as the batch's input file."""
        await self._ready()
        label = checked_label(label)
        if not requests:
            raise UserError("Nothing to submit: add at least one request.")
        openai = self.provider == "openai"
        if openai:
            from .import_openai import check_endpoint, input_text

            url = check_endpoint(endpoint or self.endpoint)
            read_text: Callable[[Any], str | None] = input_text
        else:
            await self._catalog_for_checks()
            url, read_text = None, user_text
        errors = [
            f"request {i.line}: {i.message}"
            for i in self.compose_issues(requests, endpoint=url)
            if i.severity == "error"
        ]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise UserError(f"{errors[0]}{more}".rstrip())
        if url is not None:
            requests = [{**r, "url": url} for r in requests]
        # in memory: the create body is built straight from the requests (no part file)
        from .submit import prepare_requests

        prepared = await asyncio.to_thread(prepare_requests, requests, read_text)
        self._api.check_key()  # an unusable key: say so before a job is made
        sent_betas = () if openai else self.betas(betas)  # anthropic-beta is Anthropic's
        job = await asyncio.to_thread(
            lambda: self.store.create_job(name or "composed", None, self._now(), betas=sent_betas)
        )
        return await self._submit_parts(
            job.id, [(1, None, None)], model=None, label=label, prepared=prepared, betas=job.betas
        )

    async def measure_input_tokens(
        self,
        report: ImportReport,
        *,
        sample: int = token_count.DEFAULT_SAMPLE,
        progress: Callable[[int, int], None] | None = None,
        betas: Sequence[str] = (),
    ) -> CostEstimate | None:
        """Measure the input tokens of `sample` requests of an analysed import with the API's
        token-counting endpoint (spread evenly over it; all of them when it has no more) and
        make `report.estimate` say so (`CostEstimate.input_basis`). `progress(done, total)`
        after each; cancelling stops it with the estimate unchanged. Returns the estimate."""
        await self._ready()
        estimate = report.estimate
        if estimate is None or not report.request_count or sample <= 0:
            return estimate
        positions = token_count.sample_positions(report.request_count, sample)
        requests = await asyncio.to_thread(lambda: list(token_count.read_sample(report, positions)))
        sent = self.betas(betas)
        measured: list[int] = []
        for params in requests:
            measured.append(await self._api.count_tokens(params, betas=sent))
            if progress is not None:
                progress(len(measured), len(requests))
        estimated = [token_count.estimated_tokens(p) for p in requests]
        report.estimate = token_count.calibrated(
            estimate, measured, estimated, report.request_count
        )
        return report.estimate

    def betas(self, extra: Sequence[str] = ()) -> tuple[str, ...]:
        """The anthropic-beta values a new job is created with: the config's, then `extra`
        (each once; a malformed name is a `UserError`)."""
        return check_betas([*self.settings.betas, *extra])

    async def reconcile(
        self, job_id: str | None = None, *, abandon: bool = False, adopt: str | None = None
    ) -> list[SubmitIntent]:
        """Resolve submit intents a crash or an ambiguous failure left open; also returns
        those still unknown (`intent.unknown`: look-alike batches not proven ours). One the
        provider proves was never created is closed at once; `abandon` (the user's word)
        closes those the list does not show either, or whose one look-alike could not be
        proven (ids the user named), unless a batchtop is still sending them. `adopt` (a
        batch id reconcile named as a look-alike) records that batch as its part's first."""
        await self._ready()
        resolved = [await self._submitter.adopt(adopt)] if adopt else []
        resolved += await self._submitter.reconcile_open(job_id, abandon=abandon)
        if any(not i.unknown for i in resolved):
            self._poller.wake()
        for intent in resolved:
            self._emit(SubmitNotice(intent))
        return resolved

    def adopted_warning(self, batch_id: str) -> str | None:
        """The `adopted_results_warning` found when this process last indexed the batch's
        results (no work: the dashboard's detail panel reads it)."""
        return self._adopted_warnings.get(batch_id)

    async def adopted_results_warning(self, batch_id: str) -> str | None:
        """A warning when a batch reconcile adopted reports input tokens far from its part's
        requests (`adopted_check`: its outputs may be another client's); None for any other
        batch, before its results are indexed, or when they agree."""
        view = self.store.get_batch(batch_id)
        if view is None or view.job_id is None or view.job_part is None:
            return None
        return await asyncio.to_thread(self._adopted_gap, view, view.job_id, view.job_part)

    def _adopted_gap(self, view: BatchView, job_id: str, part: int) -> str | None:
        from .adopted_check import TokenGap
        from .models import IntentState

        intents = self.store.intents(job_id)
        if not any(i.batch_id == view.id and i.state is IntentState.RECONCILED for i in intents):
            return None  # recorded by its own submit: nothing to doubt
        reported = dict(self.results.succeeded_input_tokens(view.id))
        estimated = matched = total = 0
        openai = view.remote.endpoint is not None
        for cid, params_json in self.store.manifest_params(job_id, part, reported):
            params = orjson.loads(params_json)
            if openai:
                estimated += pricing.openai_request_tokens(params)[0]
            else:
                estimated += pricing.request_input_tokens(params)
            matched += 1
            total += reported[cid]
        gap = TokenGap(view.id, matched, estimated, total)
        return gap.text if gap.mismatched else None

    def interrupted_note(self) -> str | None:
        """After a Ctrl-C: which parts' creates were in flight (their batch may exist and
        `batchtop reconcile` finds it); None when none was."""
        if self._submitter_ is None:
            return None
        from .submit import interrupted_message

        return interrupted_message(self._submitter_.interrupted)

    async def holds_lookalike(self, batch_id: str) -> bool:
        """Whether an unresolved part of this store has `batch_id` as a look-alike (what
        `reconcile --adopt` can record)."""
        intents = await asyncio.to_thread(self.store.open_intents)
        return any(batch_id in i.candidates for i in intents)

    async def orphan_files(self) -> list[OrphanFile]:
        """Input files this data directory uploaded that no batch uses (OpenAI; [] for a
        provider whose creates upload nothing).

        Only files named after a job of this store: another batchtop sharing the project
        (another data directory) may have uploaded a file a moment ago and be about to
        create its batch; that file is not this one's to report or delete."""
        finder = getattr(self._api, "orphan_files", None)
        if finder is None:
            return []
        await self._ready()
        found: list[OrphanFile] = await finder()
        jobs = {job.id for job in await asyncio.to_thread(self.store.list_jobs)}
        offset = self._api.server_offset_s or 0.0
        server_now = self._now() + timedelta(seconds=offset)
        youngest = server_now - timedelta(seconds=self.settings.orphan_min_age_s)
        return [
            replace(f, too_recent=f.created_at > youngest)
            for f in found
            if f.submission_id is not None and f.submission_id.split("/")[0] in jobs
        ]

    async def delete_orphan_files(self, files: Sequence[OrphanFile]) -> list[OrphanFile]:
        """Delete these uploaded files (the user said so), those old enough only (a younger
        one may be another client's upload about to be used); returns the deleted ones."""
        deleter = getattr(self._api, "delete_file", None)
        if deleter is None:
            return []
        deleted = []
        for f in files:
            if f.too_recent:
                continue
            await deleter(f.id)
            deleted.append(f)
        return deleted

    def job_progress(self, job_id: str) -> JobProgress | None:
        """Which parts of a job were created, are unresolved, or were never sent."""
        return self.store.job_progress(job_id)

    def partial_jobs(self) -> list[JobProgress]:
        """Jobs whose parts were not all created: `submit` of the same file resumes them."""
        return self.store.partial_jobs()

    # --- actions ----------------------------------------------------------------------

    async def current(self, batch_id: str) -> BatchView | None:
        """The batch as it is now: the store's, asked of the API when the store does not
        know it or holds it as running (it may have ended since); None when unknown and
        there is no key to ask with."""
        await self._ready()
        view = self.store.get_batch(batch_id)
        if view is None and self._api.has_key:
            return await self.fetch_batch(batch_id)
        return await self._fresh(view)

    def refusal(
        self,
        action: Literal["cancel", "delete", "retry"],
        batch_id: str,
        view: BatchView | None = None,
        *,
        name: str | None = None,
    ) -> str | None:
        """Why `action` does not apply to this batch (as the store or `view` knows it), in
        one line, else None: the one rule both front ends check before asking to confirm,
        and `cancel` / `delete` before calling the API. `name`: what to call the batch."""
        view = view or self.store.get_batch(batch_id)
        who = name or f"Batch {batch_id}"
        if action == "retry":
            if view is None or not view.remote.failed:
                return None
            return (
                f"{who} failed as a whole ({view.remote.failure}): none of its requests ran,"
                " so there is nothing to retry; fix the input file and submit it again."
            )
        if action == "delete":
            if not self._api.can_delete:
                return (
                    f"{provider_name(self.provider)} batches cannot be deleted (the API has no"
                    " such call); their files can."
                )
            if view is not None and view.remote.is_active:
                return (
                    f"{who} is still running: only ended batches can be deleted; cancel it first."
                )
            return None
        if view is None:
            return None
        if not view.remote.is_active:
            return f"{who} has already ended: there is nothing to cancel."
        if view.remote.processing_status is ProcessingStatus.CANCELING:
            return f"{who} is already being canceled."
        return None

    async def cancel(self, batch_id: str) -> BatchView:
        self.require_key(batch_id)
        await self._ready()
        view = self.store.get_batch(batch_id)
        if view is not None and not view.remote.is_active:
            raise Conflict(self.refusal("cancel", batch_id, view) or "")
        try:
            remote = await self._api.cancel(batch_id)
        except ApiError as err:
            raise self._action_error(err, batch_id, "cancel") from None
        return await self._store_remote(remote)

    async def _fresh(self, view: BatchView | None) -> BatchView | None:
        """A locally active batch may have ended since the last refresh: ask before refusing."""
        if view is None or not view.remote.is_active or not self._api.has_key:
            return view
        try:
            return await self.fetch_batch(view.id)
        except BatchtopError:
            return view

    async def delete(self, batch_id: str) -> None:
        self.require_key(batch_id)
        await self._ready()
        view = await self._fresh(self.store.get_batch(batch_id))
        refused = self.refusal("delete", batch_id, view)
        if refused is not None:
            raise Conflict(refused)
        try:
            await self._api.delete(batch_id)
        except ApiError as err:
            if err.status != 404 or view is None:
                raise self._action_error(err, batch_id, "delete") from None
        if view is not None:
            await asyncio.to_thread(self.store.mark_deleted, batch_id)

    def _action_error(self, err: ApiError, batch_id: str, action: str) -> BatchtopError:
        if err.status == 404:
            return NotFound(f"The API does not know batch {batch_id}.")
        if err.status in (400, 409):
            return Conflict(f"Cannot {action} batch {batch_id}: {err}")
        return err

    async def _store_remote(self, remote: RemoteBatch) -> BatchView:
        changes = await asyncio.to_thread(self.store.upsert_remote, [remote], self._now())
        for changed, _prev in changes:
            self._emit_changed(changed)
        view = await asyncio.to_thread(self.store.get_batch, remote.id)
        assert view is not None
        return view

    async def fetch_batch(self, batch_id: str) -> BatchView:
        """Retrieve one batch from the API (e.g. older than the list window) and store it."""
        await self._ready()
        try:
            remote = await self._api.retrieve(batch_id)
        except ApiError as err:
            raise self._action_error(err, batch_id, "retrieve") from None
        return await self._store_remote(remote)

    def set_label(self, batch_id: str, text: str | None) -> None:
        """Set (None or blank: clear) a batch's local label, checked by `checked_label`."""
        label = checked_label(text)
        self.require_batch(batch_id)
        self.store.set_label(batch_id, label)

    async def retry_plan(
        self,
        batch_ids: Sequence[str],
        *,
        include_invalid: bool = False,
        refusals: bool = False,
        max_tokens: int | None = None,
    ) -> RetryPlan:
        """What a retry of these ended batches would resend, and what it would leave out.

        Downloads results that are not here yet: only they say which requests failed and
        how. `refusals` / `max_tokens` add the successes that stopped with a refusal / were
        cut at max_tokens (resent with this new max_tokens). Front ends announce
        `plan.resend` before asking, then send with `retry_failed` and the same options.
        """
        plans: list[RetryPlan] = []
        for batch_id in batch_ids:
            try:
                plans.append(
                    (await self._retry_choice(batch_id, include_invalid, refusals, max_tokens))[1]
                )
            except Conflict:
                if len(batch_ids) == 1:
                    raise
                # a job's batch still running: the others are retried without it
        plan = retry.merge(plans)
        if not plans:  # nothing ended: the options asked for are still the plan's
            plan = replace(plan, refusals=refusals, max_tokens=max_tokens)
        return plan

    async def _retry_choice(
        self, batch_id: str, include_invalid: bool, refusals: bool, max_tokens: int | None
    ) -> tuple[BatchView, RetryPlan, list[FailedRequest]]:
        retry.check_max_tokens(max_tokens)
        view = await self._fresh(self.require_batch(batch_id))
        assert view is not None
        if view.remote.is_active:
            raise Conflict(f"Batch {batch_id} has not ended yet: retry once it has ended.")
        if (refused := self.refusal("retry", batch_id, view)) is not None:
            raise Conflict(refused)
        if max_tokens is not None and view.model and self.provider == "anthropic":
            # the model catalogue and its output limits are Anthropic's
            await self._catalog_for_checks()
            problem = max_tokens_problem(view.model, max_tokens)
            if problem is not None and problem[0] == "error":
                raise UserError(problem[1])
        counts = view.remote.request_counts
        wants_successes = (refusals or max_tokens is not None) and counts.succeeded
        endpoint = view.remote.endpoint  # OpenAI's: the field a new budget goes to
        options = {"include_invalid": include_invalid, "refusals": refusals}
        # with no failures and nothing asked of the successes, their results are read only
        # when they are here (to say what a retry could resend: refusals, cuts)
        if not counts.failed and not wants_successes and not view.results_indexed:
            plan = retry.choose(batch_id, [], max_tokens=max_tokens, endpoint=endpoint, **options)[
                0
            ]
            return view, plan, []
        if not view.results_indexed:
            await self.download_results(batch_id)
            view = self.require_batch(batch_id)
        failed = await asyncio.to_thread(
            self.results.failed_requests, batch_id, view.remote.unlisted_outcome
        )
        plan, chosen = retry.choose(
            batch_id, failed, max_tokens=max_tokens, endpoint=endpoint, **options
        )
        if chosen:  # what they cost again, as a submit estimates (confirm_submit_above_usd)
            resent = [{"params": retry.resend_params(r, plan, endpoint)} for r in chosen]
            plan = replace(plan, estimate=self.estimate(resent, endpoint=endpoint))
        return view, plan, chosen

    async def retry_failed(
        self,
        batch_id: str,
        *,
        include_invalid: bool = False,
        refusals: bool = False,
        max_tokens: int | None = None,
    ) -> RetryOutcome:
        """A new batch, in the same job, of the failed requests a resend can fix (see
        `core/retry.py`; `include_invalid` resends the others too; `refusals` and
        `max_tokens` add refusals and max_tokens cuts, the cuts with the new max_tokens)."""
        self.require_key(batch_id)
        await self._ready()
        view, plan, chosen = await self._retry_choice(
            batch_id, include_invalid, refusals, max_tokens
        )
        if not chosen:
            if plan.unknown and not view.has_manifest:
                raise UserError(
                    f"Batch {batch_id} was not submitted by batchtop: its request parameters"
                    " are unknown, so it cannot be retried."
                )
            raise UserError(plan.nothing_to_retry(f"batch {batch_id}"))
        url = view.remote.endpoint  # OpenAI: the resent requests target the batch's endpoint
        requests = [
            {"custom_id": r.custom_id, "params": retry.resend_params(r, plan, url), "url": url}
            for r in chosen
        ]
        job_id = view.job_id
        if job_id is None:  # not batchtop's: its betas are unknown, none are sent
            job = await asyncio.to_thread(
                self.store.create_job, f"retry of {batch_id}", batch_id, self._now()
            )
            job_id = job.id
        intents = await asyncio.to_thread(self.store.intents, job_id)
        part_no = max([i.part for i in intents] + [view.job_part or 0]) + 1
        read_text: Callable[[Any], str | None] = user_text
        if self.provider == "openai":
            from .import_openai import input_text

            read_text = input_text
        from .submit import prepare_requests

        prepared = await asyncio.to_thread(prepare_requests, requests, read_text)
        submitted = await self._submit_parts(
            job_id,
            [(part_no, None, None)],
            model=view.model,
            label=view.label,
            parent_batch_id=batch_id,
            prepared=prepared,
            betas=view.betas,  # the job's: a retry is created as its batches were
        )
        return RetryOutcome(plan, submitted)

    # --- results ----------------------------------------------------------------------

    async def download_results(
        self,
        batch_id: str,
        progress: Callable[[int], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> ResultsDownload:
        """Download and index a batch's results (again, if asked); returns the indexed rows
        and whether another batchtop process downloaded them.

        `on_wait(note)`: called once if another process is downloading this batch into the
        same data directory (this one then waits for it and keeps what it indexed, and the
        outcome says so: `ResultsDownload.note`), with the one line to show the user."""
        self.require_key(batch_id)
        await self._ready()
        running = self._downloads.get(batch_id)
        if running is not None and not running.done():
            return await asyncio.shield(running)
        view = await self._fresh(self.store.get_batch(batch_id))
        if view is None:
            view = await self.fetch_batch(batch_id)
        if view.remote.is_active:
            raise Conflict(f"Batch {batch_id} has not ended yet: its results come when it ends.")
        if view.remote.results_never is not None:
            raise Conflict(_failed_without_results(view))
        if view.remote.archived_at is not None and view.remote.archived_at <= self._now():
            raise Conflict(
                f"The results of batch {batch_id} were archived and are no longer available."
            )
        task = asyncio.ensure_future(self._download(view, progress, on_wait))
        self._downloads[batch_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._downloads.pop(batch_id, None)

    async def _download(
        self,
        view: BatchView,
        progress: Callable[[int], None] | None,
        on_wait: Callable[[str], None] | None = None,
    ) -> ResultsDownload:
        from .results import download_and_ingest  # (and the ingest: not for a first frame)

        try:
            # Already indexed from a complete download: kept when the bytes are the same.
            outcome = await download_and_ingest(
                self._api,
                self.results,
                view.id,
                expected_lines=view.remote.result_lines or None,
                indexed=view.results_indexed if view.results_downloaded else 0,
                progress=progress,
                sleep=self._sleep,
                retry_not_found=self._now() - view.remote.created_at < YOUNG_BATCH,
                on_wait=on_wait,
            )
        except ApiError as err:
            if err.status == 404:
                raise NotFound(f"The API has no results for batch {view.id}: {err}") from None
            raise
        warning = await self.adopted_results_warning(view.id)
        if warning is not None:
            self._adopted_warnings[view.id] = warning
        self._emit(ResultsReady(view.id, outcome.rows))
        new_view = await asyncio.to_thread(self.store.get_batch, view.id)
        if new_view is not None:
            self._emit_changed(new_view)
        return outcome

    def results_page(
        self,
        batch_ids: Sequence[str],
        filt: ResultFilter,
        offset: int,
        limit: int,
        *,
        count: bool = True,
    ) -> ResultPage:
        return self.results.query_results(batch_ids, filt, offset, limit, count=count)

    def results_count(self, batch_ids: Sequence[str], filt: ResultFilter) -> int:
        """How many results match (cached per filter until new rows arrive)."""
        return self.results.count_results(batch_ids, filt)

    def result_detail(
        self, batch_id: str, custom_id: str
    ) -> tuple[ResultRow, str, str | None] | None:
        """(row, raw line, params JSON or None); a results file gone or changed since it was
        indexed raises a one-line `UserError` (never another line's bytes)."""
        return self.results.result_detail(batch_id, custom_id)

    def results_on_disk(self, batch_id: str) -> bool:
        """False when the batch's indexed rows point into a results file that is gone or has
        changed size: `download_results` then fetches and indexes its results again."""
        return self.results.raw_lines_present(batch_id)

    def result_summary(self, batch_ids: Sequence[str]) -> ResultSummary:
        return self.results.result_summary(batch_ids)

    def result_breakdown(self, batch_ids: Sequence[str]) -> ResultBreakdown:
        """Outcomes, stop reasons, cost by model and outcome (one SQL pass; the first charts)."""
        return self._statistics.result_breakdown(batch_ids)

    def result_distribution(
        self, batch_ids: Sequence[str], breakdown: ResultBreakdown
    ) -> ResultDistribution:
        """Token histograms and the longest / largest / most expensive requests."""
        return self._statistics.result_distribution(batch_ids, breakdown)

    def progress_series(self, batch_ids: Sequence[str]) -> ProgressSeries | None:
        """Completions over time since creation, with the expiry and the ETA (latest of the
        batches still running)."""
        series = self._statistics.progress_series(batch_ids, self._now())
        if series is None or series.ended:
            return series
        etas = [eta for eta in (self.eta(b) for b in batch_ids) if eta is not None]
        if not etas:
            return series
        return replace(series, eta_s=(max(etas) - series.start).total_seconds())

    def export_path(
        self, batch_ids: Sequence[str], fmt: ExportFormat, out: Path | str | None = None
    ) -> Path:
        """Where an export goes: `out` itself, or the default name (`<batch or job
        id>-results.<ext>`) in `out` when it is a directory (existing, or named with a
        trailing slash), else in the export directory."""
        from . import export

        ids = list(batch_ids)
        if not ids:
            raise UserError("Nothing to export: no batch chosen.")
        directory: Path | None = None
        if out is not None:
            text = os.fspath(out)
            path = Path(text).expanduser()
            is_dir = text.endswith(("/", os.sep)) or export.destination_kind(path) == "directory"
            if not is_dir:
                return path
            directory = path
        owner = ids[0]
        if len(ids) > 1:
            view = self.store.get_batch(ids[0])
            owner = view.job_id if view is not None and view.job_id else ids[0]
        return export.default_export_path(owner, fmt, directory)

    async def export(
        self,
        batch_ids: Sequence[str],
        fmt: ExportFormat,
        path: Path | None = None,
        filt: ResultFilter = ALL_RESULTS,
        progress: Callable[[int], None] | None = None,
        *,
        to: IO[bytes] | None = None,
        expand_json: bool = False,
    ) -> ExportResult:
        """Write the chosen results to a file (atomic) or, with `to`, stream them into that
        open binary stream; in a worker thread. `expand_json` (CSV, Parquet): the keys of
        outputs that are JSON objects (structured outputs) become columns of their own (a
        first pass over the rows finds them).

        Cancelled, the worker is told to stop and awaited before the cancel goes on: it
        reads the store, whose connections close right after (a thread still reading then
        crashes the process), and it removes its temp file on the way out.
        """
        from . import export

        ids = list(batch_ids)
        views = [self.store.get_batch(i) for i in ids]
        never = [v for v in views if v is not None and v.remote.results_never is not None]
        if never and len(never) == len(ids):  # nothing to write, ever: said as `results` says it
            raise Conflict(_failed_without_results(never[0]))
        target = self.export_path(ids, fmt, path) if to is None else None
        cancel = threading.Event()

        def work() -> ExportResult:
            keys: list[str] = []
            if expand_json and fmt in ("csv", "parquet"):
                keys = export.json_output_keys(self.results.iter_results(ids, filt))
            rows = self.results.iter_results(ids, filt)
            if to is not None:
                n = export.export_to_stream(rows, fmt, to, progress, cancel, expand=keys)
                return ExportResult(path=Path("-"), format=fmt, rows=n)
            assert target is not None
            result: ExportResult = export.export_results(
                rows, fmt, target, progress, cancel, expand=keys
            )
            return result

        worker = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            return await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancel.set()
            while not worker.done():
                with contextlib.suppress(BaseException):
                    await asyncio.shield(worker)
            with contextlib.suppress(BaseException):
                worker.result()
            raise


__all__ = ["BatchService", "BatchesView", "ProcessingStatus"]


def _failed_without_results(view: BatchView) -> str:
    """The refusal of a download or an export of a batch that failed as a whole (the one
    rule: `RemoteBatch.results_never`)."""
    return f"Batch {view.id} failed and has no results: {view.remote.failure}"

"""What can be done to the selected batch (or job) of the dashboard.

`BatchActions` is a mixin of `DashboardScreen` (`class DashboardScreen(BatchActions,
Screen)`): the `action_*` methods its bindings name, kept apart from the rendering. It reads
the selection through what the dashboard declares below (`table`, the batches and jobs it
shows) and asks it to `render_rows` or `reload` after a change.

Each action checks the batch's state first and explains when it cannot apply (cancel of an
ended batch, delete of a running one); irreversible ones ask through `ConfirmScreen`; network
calls run in workers and turn every failure into a notification, never a crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from batchtop.core.errors import BatchtopError
from batchtop.core.models import BatchView, Job, JobProgress
from rich.text import Text
from textual import work
from textual.markup import escape

from ..format import short_id, when
from ..safe_text import literal_line, safe_text
from ..widgets.batches_table import BatchesTable
from ..words import numbered, quantity
from .rows import JOB_PREFIX

if TYPE_CHECKING:
    from batchtop.core.fleet import Fleet
    from batchtop.core.service import BatchService
    from textual.screen import Screen

    _Screen = Screen[None]
else:
    _Screen = object  # a mixin: the screen class comes after it in DashboardScreen's bases

T = TypeVar("T")


def display_name(batch: BatchView) -> str:
    """How notifications name a batch: its label if it has one, else its short id."""
    if batch.label:
        return literal_line(batch.label)
    return short_id(batch.id, batch.remote.provider)


class BatchActions(_Screen):
    """The dashboard's `action_*` methods on the selection (a mixin of `DashboardScreen`)."""

    if TYPE_CHECKING:  # what the dashboard provides
        fleet: Fleet  # every provider's service: an action goes to the batch's owner
        provider_filter: str | None
        _batches: dict[str, BatchView]
        _jobs: dict[str, Job]
        _now: Callable[[], datetime]

        @property
        def table(self) -> BatchesTable: ...

        def render_rows(self) -> None: ...

        def reload(self) -> None: ...

    # --- the selection -----------------------------------------------------------------------

    def selected_batch(self) -> BatchView | None:
        key = self.table.selected_key
        return self._batches.get(key) if key else None

    def _selected_ids(self) -> tuple[list[str], str] | None:
        """Batch ids and a title for the selection (a job selects all its batches)."""
        key = self.table.selected_key
        if key is None:
            return None
        if key.startswith(JOB_PREFIX):
            job = self._jobs.get(key.removeprefix(JOB_PREFIX))
            if job is None:
                return None
            ids = [b.id for b in self._batches.values() if b.job_id == job.id]
            return ids, literal_line(job.name)
        batch = self._batches.get(key)
        return ([batch.id], display_name(batch)) if batch else None

    def _owner(self, batch_ids: list[str]) -> BatchService:
        """The service that owns the selection (a job's batches are all one provider's)."""
        return self.fleet.service_for(batch_ids[0]) if batch_ids else self.fleet.primary

    def _new_batch_service(self) -> BatchService:
        """Where a new batch goes: the provider shown alone, else the primary one."""
        return self.fleet.service_of(self.provider_filter) or self.fleet.primary

    def _need_batch(self) -> BatchView | None:
        batch = self.selected_batch()
        if batch is None:
            self.notify(
                "Select a batch first (jobs: pick one of their batches).", severity="warning"
            )
        return batch

    # --- actions -----------------------------------------------------------------------------

    def action_open_results(self) -> None:
        selection = self._selected_ids()
        if selection is None:
            return
        ids, title = selection
        from .results import ResultsScreen  # each screen is imported when first opened

        self.app.push_screen(ResultsScreen(self._owner(ids), batch_ids=ids, title=title))

    def action_statistics(self) -> None:
        selection = self._selected_ids()
        if selection is not None:
            from .statistics import StatisticsScreen  # (textual-plotext: ~0.1 s)

            self.app.push_screen(StatisticsScreen(self._owner(selection[0]), *selection))

    def action_export(self) -> None:
        selection = self._selected_ids()
        if selection is None:
            return
        from .export import ExportScreen

        service = self._owner(selection[0])
        self.app.push_screen(ExportScreen(service, batch_ids=selection[0]))

    def action_compose(self) -> None:
        from .compose import ComposeScreen

        self.app.push_screen(
            ComposeScreen(self._new_batch_service()), lambda _result: self.reload()
        )

    def action_import_file(self) -> None:
        from .importer import ImportScreen

        self.app.push_screen(ImportScreen(self._new_batch_service()), lambda _result: self.reload())

    def action_copy_id(self) -> None:
        if (batch := self._need_batch()) is None:
            return
        self.app.copy_to_clipboard(batch.id)
        self.notify(escape(batch.id), title="Copied batch id")

    def action_label(self) -> None:
        if (batch := self._need_batch()) is None:
            return

        owner = self._owner([batch.id])

        def save(label: str | None) -> None:
            if label is None:
                return
            try:
                owner.set_label(batch.id, label or None)
            except BatchtopError as exc:
                self.notify(escape(str(exc)), title="Label not saved", severity="error")
                return
            updated = owner.batch(batch.id)
            if updated is not None:
                self._batches[batch.id] = updated
            self.render_rows()

        from .label import LabelScreen  # dialogs too: none is needed for the first frame

        self.app.push_screen(LabelScreen(batch.id, batch.label), save)

    def action_cancel(self) -> None:
        if (batch := self._need_batch()) is None:
            return
        refused = self._owner([batch.id]).refusal(
            "cancel", batch.id, batch, name=display_name(batch)
        )
        if refused is not None:  # core's rule: said before anything is asked
            self.notify(escape(refused))
            return
        self._cancel_flow(batch)

    @work(group="batch-action", exit_on_error=False)
    async def _cancel_flow(self, batch: BatchView) -> None:
        from .confirm import ConfirmScreen

        body = Text.assemble(
            "Cancel ",
            safe_text(display_name(batch), "bold", one_line=True),
            f" ({batch.id})?\n\nRequests still processing will end as canceled; "
            "finished results are kept.",
        )
        if not await self.app.push_screen_wait(
            ConfirmScreen("Cancel batch", body, yes="Cancel it")
        ):
            return
        owner = self._owner([batch.id])
        view = await self._call("Cancel failed", owner.cancel(batch.id))
        if view is not None:
            self._batches[view.id] = view
            self.render_rows()
            self.notify(escape(f"Cancel requested for {display_name(view)}."))

    def action_delete(self) -> None:
        if (batch := self._need_batch()) is None:
            return
        refused = self._owner([batch.id]).refusal(
            "delete", batch.id, batch, name=display_name(batch)
        )
        if refused is not None:  # core's rule: said before anything is asked
            self.notify(escape(refused), severity="warning")
            return
        self._delete_flow(batch)

    @work(group="batch-action", exit_on_error=False)
    async def _delete_flow(self, batch: BatchView) -> None:
        from .confirm import ConfirmScreen

        body = Text.assemble(
            "Delete ",
            safe_text(display_name(batch), "bold", one_line=True),
            f" ({batch.id}) from the workspace?\n\nIts results can no longer be downloaded; "
            "results already downloaded stay in the local index.",
        )
        if not await self.app.push_screen_wait(ConfirmScreen("Delete batch", body, yes="Delete")):
            return

        async def delete() -> bool:
            await self._owner([batch.id]).delete(batch.id)
            return True

        if not await self._call("Delete failed", delete()):
            return
        self._batches.pop(batch.id, None)
        self.render_rows()
        self.notify(escape(f"Deleted {display_name(batch)}."))

    def action_retry(self) -> None:
        if (batch := self._need_batch()) is None:
            return
        if batch.remote.is_active:
            self.notify(
                "Wait until the batch ends to retry its failed requests.", severity="warning"
            )
            return
        refused = self._owner([batch.id]).refusal(
            "retry", batch.id, batch, name=display_name(batch)
        )
        if refused is not None:  # core's rule: a batch that failed as a whole
            self.notify(escape(refused), severity="warning")
            return
        counts = batch.remote.request_counts
        if not counts.failed and not counts.succeeded:  # successes: refusals and cuts count
            self.notify(escape(f"{display_name(batch)} has no failed requests to retry."))
            return
        self._retry_flow(batch)

    @work(group="batch-action", exit_on_error=False)
    async def _retry_flow(self, batch: BatchView) -> None:
        from .retry import retry_flow

        owner = self._owner([batch.id])
        if await retry_flow(self, owner, [batch.id], display_name(batch)):
            self.reload()

    def _selected_job_progress(self) -> JobProgress | None:
        """How far the selected job (or the selected batch's job) got in its submission."""
        key = self.table.selected_key
        if key is not None and key.startswith(JOB_PREFIX):
            job_id: str | None = key.removeprefix(JOB_PREFIX)
        else:
            batch = self.selected_batch()
            job_id = batch.job_id if batch is not None else None
        return self.fleet.job_progress(job_id) if job_id else None

    def action_resume_job(self) -> None:
        progress = self._selected_job_progress()
        if progress is None or progress.complete:
            self.notify("Select a partly submitted job (or one of its batches) first.")
            return
        self._resume_flow(progress.job.id, literal_line(progress.job.name))

    @work(group="batch-action", exit_on_error=False)
    async def _resume_flow(self, job_id: str, name: str) -> None:
        owner = self.fleet.service_for_job(job_id)
        outcome = await self._call("Resume failed", owner.resume_job(job_id))
        if outcome is None:
            return
        self.reload()
        sent = len(outcome.batch_ids)
        text = f"Resumed {name}: {quantity(sent, 'part')} sent"
        if outcome.errors:
            self.notify(escape(f"{text}; {'; '.join(outcome.errors)}"), severity="warning")
        else:
            self.notify(escape(text + "."))

    def action_abandon_parts(self) -> None:
        progress = self._selected_job_progress()
        if progress is None or not progress.open:
            self.notify(
                "Select a job with an unresolved part first (a create that was interrupted)."
            )
            return
        self._abandon_flow(progress)

    @work(group="batch-action", exit_on_error=False)
    async def _abandon_flow(self, progress: JobProgress) -> None:
        """Close the job's unresolved parts as not sent (core's reconcile, abandoning), once
        the user has read what it risks."""
        from .confirm import ConfirmScreen

        job = progress.job
        parts = numbered("part", progress.open)
        name = literal_line(job.name)
        until = progress.settles_by
        body = Text.assemble(
            f"Close {parts} of ",
            safe_text(name, "bold", one_line=True),
            f" ({job.id}) as not sent? u then sends {'it' if len(progress.open) == 1 else 'them'}.",
            "\n\nA create was interrupted and no batch of it is listed yet",
            f"; one may still appear until {when(until, self._now())}" if until else "",
            " (reconcile then adopts it, or closes the part by itself). Should a batch appear"
            " after all, the part is sent twice.",
            ("\n\nOn the command line (every job's): batchtop reconcile --abandon", "dim"),
        )
        if not await self.app.push_screen_wait(
            ConfirmScreen("Abandon unresolved parts", body, yes="Abandon")
        ):
            return
        owner = self.fleet.service_for_job(job.id)
        # each part closed (or found) is said by the service's notices
        reported = await self._call("Abandon failed", owner.reconcile(job.id, abandon=True))
        if reported is None:
            return
        self.reload()
        after = self.fleet.job_progress(job.id)
        unknown = {i.part for i in reported if i.unknown}  # a look-alike batch: said by its notice
        busy = [p for p in (after.open if after else ()) if p not in unknown]
        if busy:
            self.notify(
                escape(
                    f"{numbered('part', busy).capitalize()} of {name} left open: a batchtop"
                    " process is still sending it."
                ),
                severity="warning",
            )

    async def _call(self, title: str, call: Awaitable[T]) -> T | None:
        """Await a service call; failures become notifications, never crashes."""
        try:
            result = await call
        except BatchtopError as exc:
            self.notify(escape(str(exc)), title=title, severity="error")
            return None
        except Exception as exc:
            self.notify(escape(f"{type(exc).__name__}: {exc}"), title=title, severity="error")
            return None
        return result

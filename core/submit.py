"""Journaled submission: never lose a batch id, never create a duplicate, never adopt another's.

Before each create call an intent (job, part, request count, content hash, the server
clock's offset) is written to the store; the returned id is recorded right after. Creates
run without SDK retries because the API has no idempotency key: a retried create whose
first attempt reached the server makes a second batch. A 429 means nothing was created: it
is retried here, after `retry-after`, a bounded number of times.

After an ambiguous failure (timeout, dropped connection, 5xx, Ctrl-C mid-call) the batch is
looked for with `list`. The workspace is shared with other clients, so a batch is adopted
only when it is proven ours: created (by the server's clock) between the intent and the end
of the attempt, with the same request count, unclaimed here, and — read from its results,
which the API only gives once a batch has ended — with exactly the custom_ids the part sent,
the only such batch. A look-alike that cannot be proven (still running, or several alike)
is reported as "unknown: not adopted" with its id, and the intent stays open. With no
look-alike at all, sending once more is safe only after the server answered (a 500 or 529:
it had finished with the create). A create it never answered (a timeout, a cut connection, a
gateway's 502 or 504) may
still make its batch long after the client gave up: its part is not sent again, it stays
unresolved (`CreateUnresolved`) and reconcile looks for its batch as long as it waits
(`CRASH_WINDOW`), closing it as not sent only after that. Custom_ids a user named prove
nothing once the attempt's end is unknown (a crash, Ctrl-C, a timeout: another client may send
the same file within the window): the one such look-alike waits for the user (`reconcile --adopt` /
`--abandon`); ids batchtop numbered in this data directory (`row-<tag>-…`) still prove it.
Where batches carry the submission id (OpenAI), an untagged batch counts only when made from
the input file batchtop uploaded for the submission. Intents left open by a crash are resolved the
same way later (`reconcile_open`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from . import part_lock
from .api import is_ambiguous, server_finished
from .errors import ApiError, CreateUnresolved, UserError
from .manifest_rows import ManifestRow, manifest_row
from .models import (
    ABANDON_AFTER,
    ABANDON_HINT,
    ADOPT_COMMAND,
    CostEstimate,
    IntentState,
    ProcessingStatus,
    RemoteBatch,
    SubmitIntent,
)
from .part_writer import manifest_path as part_manifest
from .poller import backoff_delay
from .pricing import CostAccumulator
from .providers.base import BatchProvider, ListPage

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Allowed clock difference when the server's clock is not known (no `Date` seen yet).
CLOCK_SKEW = timedelta(minutes=5)
# With the server's clock known from `Date` (whole seconds) and a round trip of latency.
CLOCK_TOLERANCE = timedelta(seconds=2)
# How long after its intent a create whose answer was lost (a crash, Ctrl-C, a timeout or a
# cut connection) may still have been created. The end of the attempt is unknown then: the
# upload of a big part may have taken a while, and a server may hold a create well past
# the client's timeout. As long as its part stays unresolved (ABANDON_AFTER): a batch that
# appears late is found and adopted, never closed as "not sent" and sent a second time.
CRASH_WINDOW = ABANDON_AFTER
# After an ambiguous create, look for the batch after these pauses (a slow server may still
# be creating it when the client gives up).
SETTLE_DELAYS_S = (1.0, 4.0)
# 429 on create (nothing was created): retried this many times, waiting `retry-after` (or
# an exponential backoff) but never more than RATE_LIMIT_MAX_WAIT_S at once.
RATE_LIMIT_RETRIES = 8
RATE_LIMIT_MAX_WAIT_S = 60.0
UNKNOWN = "unknown: not adopted"
NOT_CREATED = (
    "The API lists no batch of it: it was not created, and a submit of the same file sends it."
)
NOT_SENT = (
    "Not sent: the API holds neither its batch nor its input file, and the batchtop that was"
    " sending it has stopped; a submit of the same file sends it."
)
ABANDONED = (  # `reconcile --abandon`, or the dashboard's abandon key: said by both
    "Not sent: abandoned as asked before the API listed a batch of it; a submit of the same"
    " file sends it."
)
NEVER_LISTED = (  # an unresolved create whose batch did not appear within ABANDON_AFTER
    "Not sent: the API listed no batch of it in the {minutes} minutes after the submit"
    " attempt; a submit of the same file sends it."
)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What `list` (and the results of ended look-alikes) tell about an intent's batch."""

    batch: RemoteBatch | None = None  # proven ours
    candidates: tuple[str, ...] = ()  # look-alikes that could be ours, not proven
    # One ended look-alike holding exactly the part's custom_ids, but ids the user named
    # (another client may send the same ones) and no known end of the create attempt: the
    # ids prove nothing, only the user can say (`reconcile --adopt` / `--abandon`).
    unprovable: bool = False


def unprovable_message(batch_id: str) -> str:
    return (
        f"{UNKNOWN}: {batch_id} holds exactly this part's custom_ids, but they are the ones"
        " your file names (another client on this workspace may send the same ones) and the"
        " create's answer was lost, so it cannot be proven this part's batch: if it is,"
        f" `{ADOPT_COMMAND} {batch_id}` records it; if it is not,"
        " `batchtop reconcile --abandon` closes the part (a submit then sends it)."
    )


def held_message(part: int, since: datetime) -> str:
    """What a part whose create went unanswered (a timeout, a cut connection, a gateway's
    502/504) says: the server may still make its batch, so it is not sent again; until when
    it is looked for."""
    settles = (since + ABANDON_AFTER).astimezone(UTC).strftime("%H:%M UTC")
    return (
        f"The API gave no final answer to part {part}'s create and may still make its batch"
        " (none is"
        " listed yet), so the part is not sent again: `batchtop reconcile` adopts the batch"
        f" as soon as it appears; if none has by {settles}, reconcile closes the part and a"
        f" submit of the same file sends it ({ABANDON_HINT})."
    )


def abandoned_lookalike(batch_id: str) -> str:
    return (
        f"Abandoned as asked ({batch_id}, which looked like it, is not this part's batch):"
        " a submit of the same file sends it again."
    )


def found_message(found: Lookup) -> str:
    """What an intent held with look-alikes says (see `Lookup`)."""
    if found.unprovable:
        return unprovable_message(found.candidates[0])
    return unknown_message(found.candidates)


def unknown_message(candidates: Sequence[str]) -> str:
    ids = ", ".join(candidates)
    return (
        f"{UNKNOWN}: {ids} could be this part's batch but could not be proven so (another"
        " client on this workspace may have made it); check it, and run `batchtop reconcile`"
        " again once it has ended."
    )


REQUESTS_PREFIX = b'{"requests":['
REQUESTS_SUFFIX = b"]}"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class PartBody:
    """A part file's create body, streamed from the file as it is sent: the prefix, the
    file's lines joined by commas, the suffix. Never held in memory whole (a part is up to
    256 MB). The file must be clean: one request per line, each ending with a newline."""

    path: Path
    size: int  # bytes of the whole body

    async def chunks(self) -> AsyncIterator[bytes]:
        yield REQUESTS_PREFIX
        with open(self.path, "rb") as fh:  # noqa: ASYNC230 - each read runs in a thread
            held = b""
            while chunk := await asyncio.to_thread(fh.read, _CHUNK):
                if held:
                    yield held
                held = chunk.replace(b"\n", b",")
            yield held[:-1]  # the last newline ends the list
        yield REQUESTS_SUFFIX


@dataclass(frozen=True, slots=True)
class PreparedPart:
    """A part ready for the create call: the request body, plus what we journal.

    The body is assembled from the part's JSON lines as they are, so a 256 MB part is never
    turned into Python objects (nor walked by the SDK's request transformer). A part read
    from a file (`read_part`) streams both its body and its manifest rows from the file, so
    submitting it costs a bounded amount of memory whatever its size.
    """

    body: bytes | PartBody
    request_count: int
    content_hash: str
    manifest_rows: Iterable[ManifestRow]  # may be iterated more than once
    models: frozenset[str] = frozenset()
    estimate: CostEstimate | None = None

    @property
    def model(self) -> str | None:
        return next(iter(self.models)) if len(self.models) == 1 else None


_Inputs = dict[str, tuple[str | None, str | None]]
"""custom_id → (input text, original id) given by a part's manifest file."""


def _read_inputs(manifest_path: Path) -> _Inputs:
    inputs: _Inputs = {}
    try:
        with manifest_path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    row = orjson.loads(line)
                    text = row.get("input_text")
                    original = row.get("original_id")
                    if text is not None or original is not None:
                        inputs[str(row["custom_id"])] = (
                            None if text is None else str(text),
                            None if original is None else str(original),
                        )
    except FileNotFoundError:
        pass
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"The manifest {manifest_path} is damaged: {exc}.") from exc
    return inputs


def _request(line: bytes, source: str, number: int) -> tuple[str, Any, str | None]:
    """(custom_id, params, url: the OpenAI endpoint a request targets, else None)."""
    try:
        req = orjson.loads(line)
        url = req.get("url")
        return str(req["custom_id"]), req["params"], url if isinstance(url, str) else None
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{source}:{number}: not a batch request ({exc}).") from exc


def _row(
    custom_id: str,
    params: Any,
    inputs: _Inputs | None,
    input_text: Callable[[Any], str | None] | None = None,
) -> ManifestRow:
    text, original = inputs.get(custom_id, (None, None)) if inputs else (None, None)
    if text is None and input_text is not None:
        text = input_text(params)
    return manifest_row(custom_id, params, original, text)


def prepare_lines(
    lines: Iterable[bytes],
    *,
    inputs: _Inputs | None = None,
    source: str = "part",
    input_text: Callable[[Any], str | None] | None = None,
) -> PreparedPart:
    """Build a `PreparedPart` in memory from native batch JSON lines (`{custom_id, params}`).

    Each manifest row's input text is what `inputs` gives, else `input_text(params)`, else
    the request's last user message."""
    digest = hashlib.sha256()
    kept: list[bytes] = []
    rows: list[ManifestRow] = []
    models: set[str] = set()
    acc = CostAccumulator()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        custom_id, params, url = _request(line, source, number)
        digest.update(line + b"\n")
        kept.append(line)
        _count(params, models, acc, url)
        rows.append(_row(custom_id, params, inputs, input_text))
    body = REQUESTS_PREFIX + b",".join(kept) + REQUESTS_SUFFIX
    return PreparedPart(body, len(kept), digest.hexdigest(), rows, frozenset(models), acc.result())


def _count(params: Any, models: set[str], acc: CostAccumulator, url: str | None) -> None:
    if isinstance(params, dict):
        model = params.get("model")
        if isinstance(model, str):
            models.add(model)
        acc.add_params(params, url)  # an OpenAI body (with its url) by OpenAI's fields


class _PartManifest:
    """The manifest rows of a part file, read from it each time they are iterated."""

    def __init__(self, path: Path, inputs: _Inputs) -> None:
        self._path = path
        self._inputs = inputs

    def __iter__(self) -> Iterator[ManifestRow]:
        source = str(self._path)
        with open(self._path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                custom_id, params, _url = _request(line, source, number)
                yield _row(custom_id, params, self._inputs)


def read_part(part_path: Path, manifest_path: Path | None = None) -> PreparedPart:
    """Read a prepared part (native batch JSONL) and its manifest.

    The file is read once here (to count, hash and estimate it, one line at a time); its
    body and manifest rows are read from it again when they are used. A part that is not
    clean (blank lines, surrounding spaces: not written by batchtop) is read into memory.
    An input text the manifest does not give (the importer's manifests hold none) is the
    request's last user message, as for composed requests.
    """
    inputs = _read_inputs(manifest_path or part_manifest(part_path))
    source = str(part_path)
    digest = hashlib.sha256()
    models: set[str] = set()
    acc = CostAccumulator()
    count = size = 0
    clean = True
    try:
        with open(part_path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if len(line) < 3 or line[-1] != 0x0A or line[:1].isspace() or line[-2:-1].isspace():
                    clean = False
                    break
                _custom_id, params, url = _request(line, source, number)
                digest.update(line)
                _count(params, models, acc, url)
                count += 1
                size += len(line)
        if not clean:
            data = part_path.read_bytes()
    except OSError as exc:
        raise UserError(f"Cannot read the prepared part {part_path}: {exc.strerror}.") from exc
    if not clean or not count:
        return prepare_lines(data.splitlines() if not clean else [], inputs=inputs, source=source)
    body = PartBody(part_path, len(REQUESTS_PREFIX) + size - 1 + len(REQUESTS_SUFFIX))
    return PreparedPart(
        body,
        count,
        digest.hexdigest(),
        _PartManifest(part_path, inputs),
        frozenset(models),
        acc.result(),
    )


def prepare_requests(
    requests: Sequence[dict[str, Any]], input_text: Callable[[Any], str | None] | None = None
) -> PreparedPart:
    """A `PreparedPart` from request dicts (compose, retry). A request's `url` (OpenAI: the
    endpoint it targets) is kept; Message Batches requests have none."""
    lines = (
        orjson.dumps(
            {"custom_id": r["custom_id"], "params": r["params"]}
            | ({"url": r["url"]} if r.get("url") else {})
        )
        for r in requests
    )
    return prepare_lines(lines, source="request", input_text=input_text)


def job_content_hash(parts: Sequence[tuple[int, Path]]) -> str:
    """The identity of a job's prepared requests: the hash of its part files, in order.

    The same input with the same options gives the same parts, hence the same job."""
    digest = hashlib.sha256(b"batchtop job v1\n")
    for index, path in parts:
        part = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    part.update(chunk)
        except OSError as exc:
            raise UserError(f"Cannot read the prepared part {path}: {exc.strerror}.") from exc
        digest.update(f"{index} {part.hexdigest()}\n".encode())
    return digest.hexdigest()


class Submitter:
    """Sends parts through the journal and recovers after ambiguous failures."""

    def __init__(
        self,
        api: Callable[[], BatchProvider],
        store: Store,
        *,
        now: Callable[[], datetime],
        sleep: Sleep | None = None,
        skew: timedelta = CLOCK_SKEW,
        settle_delays: Sequence[float] = SETTLE_DELAYS_S,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._api = api
        self._store = store
        self._now = now
        self._sleep: Sleep = sleep or asyncio.sleep
        self._skew = skew
        self._settle_delays = tuple(settle_delays)
        self._rng = rng
        # Parts whose create was sent (or may have been) when a Ctrl-C stopped them: their
        # batch may exist (`interrupted_message`).
        self.interrupted: list[SubmitIntent] = []

    async def submit_part(
        self,
        job_id: str,
        part: int,
        prepared: PreparedPart,
        *,
        model: str | None = None,
        estimated_cost_usd: float | None = None,
        parent_batch_id: str | None = None,
        betas: Sequence[str] = (),
    ) -> RemoteBatch:
        """Create one batch for one part (`betas`: its anthropic-beta header); raises
        `ApiError` if it was (probably) not created."""
        store = self._store
        api = self._api()
        api.check_key()  # a key that cannot be sent: nothing is journaled
        path = part_lock.lock_path(Path(store.path), job_id, part)
        # Held while this part's create may be sent: reconcile elsewhere can tell a create
        # still running here from one whose process is gone.
        async with part_lock.holding(path, lambda: store.check_part_free(job_id, part)):
            return await self._submit_locked(
                api, job_id, part, prepared, model, estimated_cost_usd, parent_batch_id, betas
            )

    async def _submit_locked(
        self,
        api: BatchProvider,
        job_id: str,
        part: int,
        prepared: PreparedPart,
        model: str | None,
        estimated_cost_usd: float | None,
        parent_batch_id: str | None,
        betas: Sequence[str],
    ) -> RemoteBatch:
        store = self._store
        await asyncio.to_thread(store.add_manifest, job_id, part, prepared.manifest_rows)
        intent = await asyncio.to_thread(
            lambda: store.add_intent(
                job_id,
                part,
                prepared.request_count,
                prepared.content_hash,
                self._now(),
                server_offset_s=api.server_offset_s,
            )
        )
        batch: RemoteBatch | None = None
        state = IntentState.SUBMITTED
        maybe_created = False  # an earlier attempt may have created the batch
        in_flight = False
        rate_limited = 0
        resent = False
        unanswered = False  # an attempt the server never answered may still make its batch
        try:
            while True:
                if intent.attempt_ended_at is not None:  # a resend: its end is not known
                    await asyncio.to_thread(store.note_attempt_end, intent.id, None)
                    intent = replace(intent, attempt_ended_at=None)
                in_flight = True
                try:
                    batch = await api.create_raw(
                        prepared.body, submission_id=submission_id(intent), betas=betas
                    )
                    break
                except ApiError as err:
                    in_flight = False
                    if err.kind == "rate_limited" and rate_limited < RATE_LIMIT_RETRIES:
                        rate_limited += 1  # a 429 created nothing: wait and send again
                        delay = min(
                            RATE_LIMIT_MAX_WAIT_S, self._rate_limit_delay(rate_limited, err)
                        )
                        log.info("create of %s part %s: 429, again in %.1f s", job_id, part, delay)
                        await self._sleep(delay)
                        continue
                    if not is_ambiguous(err) and not maybe_created:
                        await asyncio.to_thread(
                            store.resolve_intent, intent.id, IntentState.FAILED, None, str(err)
                        )
                        raise
                    log.warning("ambiguous create failure for %s part %s: %s", job_id, part, err)
                    maybe_created = True
                    unanswered = unanswered or not server_finished(err)
                    if server_finished(err):
                        # The server answered: it had finished with the request. (After a
                        # timeout, a cut connection or a gateway's 502/504 it may still
                        # create the batch later.)
                        intent = await self._note_end(intent)
                    found = await self._settle(intent)
                    if found is not None and found.batch is not None:
                        batch, state = found.batch, IntentState.RECONCILED
                        break
                    if found is not None and found.candidates:
                        message = found_message(found)
                        await asyncio.to_thread(
                            store.hold_intent, intent.id, found.candidates, message
                        )
                        raise CreateUnresolved(
                            f"{err} Part {part}: {message}", kind=err.kind, status=err.status
                        ) from None
                    if found is not None and resent and not unanswered and self._keeps_id(api):
                        # The server answered each attempt and lists no batch of them.
                        message = f"{err} {NOT_CREATED}"
                        await asyncio.to_thread(
                            store.resolve_intent, intent.id, IntentState.FAILED, None, message
                        )
                        raise ApiError(message, kind=err.kind, status=err.status) from None
                    if found is None or resent:
                        # We could not tell whether the batch exists: leave the intent open.
                        raise CreateUnresolved(
                            f"{err} The batch may or may not have been created: run"
                            " `batchtop reconcile` once the API is reachable.",
                            kind=err.kind,
                            status=err.status,
                        ) from None
                    if unanswered:
                        # The server never answered (a timeout, a cut connection): it may
                        # still be making the batch, however long after the client gave up.
                        # The list not showing it yet proves nothing: never sent again here.
                        raise CreateUnresolved(
                            f"{err} {held_message(part, intent.created_at)}",
                            kind=err.kind,
                            status=err.status,
                        ) from None
                    # The server answered (it had finished with the create) and the list
                    # shows no such batch: sending once more is safe.
                    resent = True
        except asyncio.CancelledError:
            self._interrupted(intent, in_flight or maybe_created, again=rate_limited > 0)
            raise
        await self._record(intent, batch, state, model, estimated_cost_usd, parent_batch_id)
        return batch

    @staticmethod
    def _keeps_id(api: BatchProvider) -> bool:
        """Whether the provider's batches carry their submission id (OpenAI's metadata):
        creates the server answered with an error (it had finished with them) and a list
        showing no batch carrying the id then prove that none was made."""
        return bool(getattr(api, "keeps_submission_id", False))

    async def proven_not_created(self, intent: SubmitIntent) -> bool:
        """Whether the provider proves that an open intent's create never happened, once a
        lookup (the list, past the intent's start) found no batch of it.

        Only where batches carry their submission id (OpenAI's metadata) and its input file
        is named after it: the process that journaled the intent is gone (its part lock is
        free: no create of it can be sent any more) and either the server answered its
        last create attempt or no input file of the submission was ever uploaded (a create
        needs one). Anthropic's batches carry nothing of batchtop's: never provable there.
        """
        api = self._api()
        uploaded = getattr(api, "input_uploaded", None)
        if uploaded is None or not self._keeps_id(api):
            return False
        path = part_lock.lock_path(Path(self._store.path), intent.job_id, intent.part)
        if await asyncio.to_thread(part_lock.is_free, path) is not True:
            return False  # a batchtop is still sending it (or this system cannot tell)
        if intent.attempt_ended_at is not None:
            return True
        return await uploaded(submission_id(intent)) is False

    async def _list_page(self, api: BatchProvider, after_id: str | None) -> ListPage:
        """A page of the list, waiting out 429s and overloads past the SDK's own retries (a
        reconcile in a rate-limited workspace finishes instead of failing on one page)."""
        failures = 0
        while True:
            try:
                return await api.list_page(after_id=after_id)
            except ApiError as err:
                if err.kind not in ("rate_limited", "server") or failures >= RATE_LIMIT_RETRIES:
                    raise
                failures += 1
                delay = min(RATE_LIMIT_MAX_WAIT_S, self._rate_limit_delay(failures, err))
                log.info("list for reconcile: %s, again in %.1f s", err.kind, delay)
                await self._sleep(delay)

    def _rate_limit_delay(self, failures: int, err: ApiError) -> float:
        """The server's `retry-after` when it gives one, else an exponential backoff."""
        if err.retry_after_s is not None:
            return err.retry_after_s
        return backoff_delay(failures, None, self._rng)

    async def _note_end(self, intent: SubmitIntent) -> SubmitIntent:
        at = self._now()
        await asyncio.to_thread(self._store.note_attempt_end, intent.id, at)
        return replace(intent, attempt_ended_at=at)

    def _interrupted(self, intent: SubmitIntent, maybe_created: bool, *, again: bool) -> None:
        """Ctrl-C: journal what is known, synchronously (the task is being cancelled).

        A create in flight (or an earlier ambiguous one) may have made the batch, even after
        this process is gone: the intent stays open for reconcile, with no end of attempt
        (like a crash). Otherwise nothing was created: it is closed.
        """
        if maybe_created:
            self.interrupted.append(intent)
        try:
            if not maybe_created:
                what = "sent again after a 429" if again else "sent"
                message = f"Interrupted before it was {what}: nothing was created."
                self._store.resolve_intent(intent.id, IntentState.FAILED, None, message)
        except Exception as exc:  # the store may be closing: reconcile copes with either
            log.warning("could not journal the interruption: %s", exc)

    async def _record(
        self,
        intent: SubmitIntent,
        batch: RemoteBatch,
        state: IntentState,
        model: str | None,
        estimated_cost_usd: float | None,
        parent_batch_id: str | None,
    ) -> None:
        store = self._store
        await asyncio.to_thread(store.upsert_remote, [batch], self._now())
        await asyncio.to_thread(
            lambda: store.set_batch_meta(
                batch.id,
                job_id=intent.job_id,
                job_part=intent.part,
                parent_batch_id=parent_batch_id,
                model=model,
                estimated_cost_usd=estimated_cost_usd,
            )
        )
        # Last, as the commit point: a crash before it leaves the intent pending, so
        # reconcile finds this batch again and records it (set_batch_meta is idempotent);
        # resolving first could leave a known id without its job and part.
        await asyncio.to_thread(store.resolve_intent, intent.id, state, batch.id, None)

    async def _settle(self, intent: SubmitIntent) -> Lookup | None:
        """Look for the batch of an ambiguous create, giving a slow server time to finish.

        None when no lookup succeeded (we cannot tell).
        """
        result: Lookup | None = None
        for delay in self._settle_delays:
            await self._sleep(delay)
            try:
                result = await self.lookup(intent)
            except ApiError as err:
                log.warning("reconcile lookup failed: %s", err)
                continue
            if result.batch is not None or result.candidates:
                return result
        return result

    def window(self, intent: SubmitIntent) -> tuple[datetime, datetime]:
        """When (by the server's clock) this intent's batch can have been created."""
        offset = intent.server_offset_s
        if offset is None:
            offset = self._api().server_offset_s
        slack = CLOCK_TOLERANCE if offset is not None else self._skew
        shift = timedelta(seconds=offset or 0.0)
        end = intent.attempt_ended_at or intent.created_at + CRASH_WINDOW
        return intent.created_at + shift - slack, end + shift + slack

    async def find_match(
        self, intent: SubmitIntent, *, claimed: set[str] | None = None
    ) -> RemoteBatch | None:
        """The batch proven to be this intent's, if any (see `lookup`)."""
        return (await self.lookup(intent, claimed=claimed)).batch

    async def lookup(self, intent: SubmitIntent, *, claimed: set[str] | None = None) -> Lookup:
        """Look-alikes of the intent's batch on the workspace, and the one proven ours."""
        api = self._api()
        lo, hi = self.window(intent)
        alike: list[RemoteBatch] = []
        tagged: list[RemoteBatch] = []  # carrying this intent's submission id (metadata)
        wanted = submission_id(intent)
        after_id: str | None = None
        while True:
            page = await self._list_page(api, after_id)
            lo, hi = self.window(intent)  # the first response may have told the server's time
            tagged.extend(b for b in page.batches if b.submission_id == wanted)
            # a batch tagged with another submission id (another client's, another attempt's)
            # is proven not this attempt's: never a look-alike
            alike.extend(
                b
                for b in page.batches
                if lo <= b.created_at <= hi
                and b.request_counts.total == intent.request_count
                and b.submission_id is None
            )
            if not page.has_more or not page.batches or page.last_id is None:
                break
            if page.batches[-1].created_at < lo:
                break
            after_id = page.last_id
        if tagged:
            # The provider kept the submission id batchtop sent with the create: that is
            # proof, whatever its counts say yet (OpenAI counts nothing while validating).
            mine = [b for b in tagged if claimed is None or b.id not in claimed]
            if len(mine) == 1:
                return Lookup(mine[0])
            if mine:
                return Lookup(None, tuple(b.id for b in mine))
        alike = [b for b in alike if lo <= b.created_at <= hi]
        if alike and self._keeps_id(api):
            alike = await self._from_own_input(api, wanted, alike)
        unclaimed: list[RemoteBatch] = []
        for batch in sorted(alike, key=lambda b: b.created_at):
            if claimed is not None and batch.id in claimed:
                continue
            owner = await asyncio.to_thread(self._owner, batch.id, intent)
            if owner == "this part":
                return Lookup(batch)  # recorded as this very part before a crash: ours
            if owner is None:
                unclaimed.append(batch)
        if not unclaimed:
            return Lookup()
        sent = await asyncio.to_thread(self._store.manifest_ids, intent.job_id, intent.part)
        proven: list[RemoteBatch] = []
        unsure: list[RemoteBatch] = []
        for batch in unclaimed:
            verdict = await self._same_requests(batch, sent)
            if verdict is True:
                proven.append(batch)
            elif verdict is None:
                unsure.append(batch)
        if len(proven) == 1 and not unsure:
            # The attempt's end is unknown (a crash, a timeout): the window stays open for
            # minutes. Ids batchtop numbered with this data directory's tag are proof; ids
            # the user named are not (another client may send the same file).
            if (
                intent.attempt_ended_at is None
                and not self._keeps_id(api)
                and not await asyncio.to_thread(self._numbered_here, sent)
            ):
                return Lookup(None, (proven[0].id,), unprovable=True)
            return Lookup(proven[0])
        return Lookup(None, tuple(b.id for b in proven + unsure))

    def _numbered_here(self, sent: set[str]) -> bool:
        """Whether every custom_id of a part is one batchtop numbered in this data directory
        (`row-<tag>-000001`, the tag its own): no other client makes those."""
        tag = self._store.meta("client_tag")
        if not tag:
            return False
        prefix = f"row-{tag}-"
        return all(cid.startswith(prefix) for cid in sent)

    @staticmethod
    async def _from_own_input(
        api: BatchProvider, wanted: str, alike: list[RemoteBatch]
    ) -> list[RemoteBatch]:
        """Where batches carry batchtop's submission id (OpenAI's metadata), an untagged one
        is this submission's only if it was made from the input file batchtop uploaded for it
        (named after the submission when uploaded). Another client's batch of the same
        custom_ids, made from its own file, is never a look-alike."""
        files = getattr(api, "submission_files", None)
        ours: set[str] = set(await files(wanted)) if files is not None else set()
        return [b for b in alike if b.input_file_id is not None and b.input_file_id in ours]

    def _owner(self, batch_id: str, intent: SubmitIntent) -> str | None:
        """'this part', 'other' (recorded here for another part or job) or None."""
        view = self._store.get_batch(batch_id)
        if view is not None and view.job_id is not None:
            same = (view.job_id, view.job_part) == (intent.job_id, intent.part)
            return "this part" if same else "other"
        if any(
            i.batch_id == batch_id and i.id != intent.id for i in self._store.intents(intent.job_id)
        ):
            return "other"
        return None

    async def _same_requests(self, batch: RemoteBatch, sent: set[str]) -> bool | None:
        """Whether an ended batch holds exactly the custom_ids sent (None: cannot tell).

        The API names a batch's requests only in its results, once it has ended.
        """
        if not sent or batch.processing_status is not ProcessingStatus.ENDED:
            return None
        seen: set[str] = set()
        rest = b""
        try:
            async for chunk, _resumed in self._api().iter_results(batch.id):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if not line.strip():
                        continue
                    cid = _custom_id(line)
                    if cid is None or cid not in sent:
                        return False  # not ours: stop reading
                    seen.add(cid)
        except ApiError as err:
            log.warning("cannot read the results of %s to check it: %s", batch.id, err)
            return None
        if rest.strip():
            cid = _custom_id(rest)
            if cid is None or cid not in sent:
                return False
            seen.add(cid)
        return seen == sent

    async def reconcile_open(
        self, job_id: str | None = None, *, abandon: bool = False
    ) -> list[SubmitIntent]:
        """Resolve intents left pending (crash, ambiguous failure); returns those resolved
        and those still unknown (look-alike batches not proven ours). A create the provider
        proves never happened is closed at once; `abandon` closes the others the list does
        not show either (the user said so) unless a batchtop is still sending them."""
        pending = await asyncio.to_thread(self._store.open_intents)
        if job_id is not None:
            pending = [i for i in pending if i.job_id == job_id]
        reported: list[SubmitIntent] = []
        claimed: set[str] = set()
        for intent in sorted(pending, key=lambda i: i.created_at):
            found = await self.lookup(intent, claimed=claimed)
            if found.batch is not None:
                claimed.add(found.batch.id)
                await self._adopt(intent, found.batch)
                reported.append(
                    replace(
                        intent,
                        state=IntentState.RECONCILED,
                        batch_id=found.batch.id,
                        error=None,
                        candidates=(),
                    )
                )
            elif (
                found.candidates
                and abandon
                and found.unprovable
                and await self._not_sending(intent)
            ):
                # the user says the look-alike is not this part's: closed as not sent
                closed = abandoned_lookalike(found.candidates[0])
                await asyncio.to_thread(
                    self._store.resolve_intent, intent.id, IntentState.FAILED, None, closed
                )
                reported.append(
                    replace(intent, state=IntentState.FAILED, batch_id=None, error=closed)
                )
            elif found.candidates:
                message = found_message(found)
                await asyncio.to_thread(
                    self._store.hold_intent, intent.id, found.candidates, message
                )
                reported.append(replace(intent, candidates=found.candidates, error=message))
            else:
                msg = await self._closing_message(intent, abandon=abandon)
                if msg is None:
                    continue
                await asyncio.to_thread(
                    self._store.resolve_intent, intent.id, IntentState.FAILED, None, msg
                )
                reported.append(replace(intent, state=IntentState.FAILED, batch_id=None, error=msg))
        return reported

    async def _not_sending(self, intent: SubmitIntent) -> bool:
        """Whether no batchtop holds the part's lock now (unknown counts as free)."""
        path = part_lock.lock_path(Path(self._store.path), intent.job_id, intent.part)
        return await asyncio.to_thread(part_lock.is_free, path) is not False

    async def adopt(self, batch_id: str) -> SubmitIntent:
        """Record a look-alike the user says is an open part's batch (`reconcile --adopt`):
        only a batch reconcile named as that part's look-alike, only while no batchtop is
        still sending the part."""
        intents = await asyncio.to_thread(self._store.open_intents)
        held = [i for i in intents if batch_id in i.candidates]
        if not held:
            raise UserError(
                f"{batch_id} is not a look-alike of any unresolved part: `batchtop reconcile`"
                " names the batches that can be adopted."
            )
        if len(held) > 1:
            parts = ", ".join(f"job {i.job_id} part {i.part}" for i in held)
            raise UserError(f"{batch_id} looks like more than one unresolved part ({parts}).")
        (intent,) = held
        path = part_lock.lock_path(Path(self._store.path), intent.job_id, intent.part)
        if await asyncio.to_thread(part_lock.is_free, path) is False:
            raise UserError(
                f"A batchtop is still sending job {intent.job_id} part {intent.part}: its"
                " batch is not adopted while it runs."
            )
        if await asyncio.to_thread(self._owner, batch_id, intent) == "other":
            raise UserError(f"{batch_id} is already recorded as another part's batch.")
        batch = await self._api().retrieve(batch_id)
        await self._adopt(intent, batch)
        return replace(
            intent, state=IntentState.RECONCILED, batch_id=batch.id, error=None, candidates=()
        )

    async def _adopt(self, intent: SubmitIntent, batch: RemoteBatch) -> None:
        """Record a found batch as its part's, with the model and estimate of the part's
        manifest (what its submit would have recorded)."""
        model, cost = await asyncio.to_thread(self._manifest_estimate, intent, batch.endpoint)
        await self._record(intent, batch, IntentState.RECONCILED, model, cost, None)

    def _manifest_estimate(
        self, intent: SubmitIntent, endpoint: str | None
    ) -> tuple[str | None, float | None]:
        """(the part's one model, its estimated batch cost) from its stored manifest, as a
        submit estimates a part (`endpoint`: an OpenAI body's)."""
        models: set[str] = set()
        acc = CostAccumulator()
        rows = 0
        for _cid, params_json in self._store.manifest_params(intent.job_id, intent.part):
            try:
                params = orjson.loads(params_json)
            except orjson.JSONDecodeError:
                continue
            _count(params, models, acc, endpoint)
            rows += 1
        if not rows:
            return None, None
        estimate = acc.result()
        model = next(iter(models)) if len(models) == 1 else None
        return model, estimate.batch_usd

    async def _closing_message(self, intent: SubmitIntent, *, abandon: bool) -> str | None:
        """Why an open intent whose batch the list does not show is closed now (None: it
        stays open)."""
        if await self.proven_not_created(intent):
            return NOT_SENT
        if self._now() - intent.created_at > ABANDON_AFTER:
            return NEVER_LISTED.format(minutes=int(ABANDON_AFTER.total_seconds() // 60))
        if abandon:
            path = part_lock.lock_path(Path(self._store.path), intent.job_id, intent.part)
            if await asyncio.to_thread(part_lock.is_free, path) is False:
                return None  # its submit is still running in a batchtop: not abandoned
            return ABANDONED
        return None


def interrupted_message(intents: Sequence[SubmitIntent]) -> str | None:
    """What to say when a submit stopped by Ctrl-C had a create in flight (None: none)."""
    if not intents:
        return None
    where = "; ".join(f"job {i.job_id} part {i.part}" for i in intents)
    return (
        f"Interrupted while its create was being sent ({where}): the batch may exist."
        " Run `batchtop reconcile` to find it (nothing is sent twice meanwhile)."
    )


def submission_id(intent: SubmitIntent) -> str:
    """The id batchtop gives one create attempt of a part (its job, part and intent): sent
    as the batch's metadata where the provider keeps metadata, found again by reconcile."""
    return f"{intent.job_id}/{intent.part}/{intent.id}"


def _custom_id(line: bytes) -> str | None:
    try:
        value = orjson.loads(line).get("custom_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None

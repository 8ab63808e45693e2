"""Journaled submission: never lose a batch id, never create a duplicate silently.

Before each create call an intent (job, part, request count, content hash) is written to the
store; the returned id is recorded right after. Creates run without SDK retries because the
API has no idempotency key: a retried create whose first attempt reached the server makes a
second batch. After an ambiguous failure (timeout, dropped connection, 5xx) we look for the
batch with `list` — one created at or after the intent (allowing some clock skew) with the
same request count and not claimed by another intent — and resubmit only if there is none.
Intents left open by a crash are resolved the same way on start (`reconcile_open`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .api import BatchApi, is_ambiguous
from .errors import ApiError, UserError
from .manifest_rows import ManifestRow, manifest_row
from .models import CostEstimate, IntentState, RemoteBatch, SubmitIntent
from .pricing import CostAccumulator

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

CLOCK_SKEW = timedelta(minutes=5)
# After an ambiguous create, look for the batch after these pauses (a slow server may still
# be creating it when the client gives up).
SETTLE_DELAYS_S = (1.0, 4.0)
# An open intent with no matching batch this long after it was written was never created.
ABANDON_AFTER = timedelta(minutes=30)


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


def manifest_path_for(part_path: Path) -> Path:
    return part_path.with_name(part_path.name.removesuffix(".jsonl") + ".manifest.jsonl")


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


def _request(line: bytes, source: str, number: int) -> tuple[str, Any]:
    try:
        req = orjson.loads(line)
        return str(req["custom_id"]), req["params"]
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
        custom_id, params = _request(line, source, number)
        digest.update(line + b"\n")
        kept.append(line)
        _count(params, models, acc)
        rows.append(_row(custom_id, params, inputs, input_text))
    body = REQUESTS_PREFIX + b",".join(kept) + REQUESTS_SUFFIX
    return PreparedPart(body, len(kept), digest.hexdigest(), rows, frozenset(models), acc.result())


def _count(params: Any, models: set[str], acc: CostAccumulator) -> None:
    if isinstance(params, dict):
        model = params.get("model")
        if isinstance(model, str):
            models.add(model)
        acc.add_params(params)


class _PartManifest:
    """The manifest rows of a part file, read from it each time they are iterated."""

    def __init__(self, path: Path, inputs: _Inputs) -> None:
        self._path = path
        self._inputs = inputs

    def __iter__(self) -> Iterator[ManifestRow]:
        source = str(self._path)
        with open(self._path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                custom_id, params = _request(line, source, number)
                yield _row(custom_id, params, self._inputs)


def read_part(part_path: Path, manifest_path: Path | None = None) -> PreparedPart:
    """Read a prepared part (native batch JSONL) and its manifest.

    The file is read once here (to count, hash and estimate it, one line at a time); its
    body and manifest rows are read from it again when they are used. A part that is not
    clean (blank lines, surrounding spaces: not written by batchtop) is read into memory.
    An input text the manifest does not give (the importer's manifests hold none) is the
    request's last user message, as for composed requests.
    """
    inputs = _read_inputs(manifest_path or manifest_path_for(part_path))
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
                _custom_id, params = _request(line, source, number)
                digest.update(line)
                _count(params, models, acc)
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
    """A `PreparedPart` from request dicts (compose, retry)."""
    lines = (orjson.dumps({"custom_id": r["custom_id"], "params": r["params"]}) for r in requests)
    return prepare_lines(lines, source="request", input_text=input_text)


def write_part(path: Path, requests: Sequence[dict[str, Any]]) -> None:
    """Write requests as a native batch JSONL part (used by compose and retry)."""
    with path.open("wb") as fh:
        for req in requests:
            fh.write(orjson.dumps({"custom_id": req["custom_id"], "params": req["params"]}))
            fh.write(b"\n")


class Submitter:
    """Sends parts through the journal and recovers after ambiguous failures."""

    def __init__(
        self,
        api: Callable[[], BatchApi],
        store: Store,
        *,
        now: Callable[[], datetime],
        sleep: Sleep | None = None,
        skew: timedelta = CLOCK_SKEW,
        settle_delays: Sequence[float] = SETTLE_DELAYS_S,
    ) -> None:
        self._api = api
        self._store = store
        self._now = now
        self._sleep: Sleep = sleep or asyncio.sleep
        self._skew = skew
        self._settle_delays = tuple(settle_delays)

    async def submit_part(
        self,
        job_id: str,
        part: int,
        prepared: PreparedPart,
        *,
        model: str | None = None,
        estimated_cost_usd: float | None = None,
        parent_batch_id: str | None = None,
    ) -> RemoteBatch:
        """Create one batch for one part; raises `ApiError` if it was (probably) not created."""
        store = self._store
        await asyncio.to_thread(store.add_manifest, job_id, part, prepared.manifest_rows)
        intent = await asyncio.to_thread(
            store.add_intent,
            job_id,
            part,
            prepared.request_count,
            prepared.content_hash,
            self._now(),
        )
        batch: RemoteBatch | None = None
        state = IntentState.SUBMITTED
        for attempt in (1, 2):
            try:
                batch = await self._api().create_raw(prepared.body)
                break
            except ApiError as err:
                if not is_ambiguous(err):
                    await asyncio.to_thread(
                        store.resolve_intent, intent.id, IntentState.FAILED, None, str(err)
                    )
                    raise
                log.warning("ambiguous create failure for %s part %s: %s", job_id, part, err)
                found, checked = await self._settle(intent)
                if found is not None:
                    batch, state = found, IntentState.RECONCILED
                    break
                if not checked or attempt == 2:
                    # We could not tell whether the batch exists: leave the intent open.
                    raise ApiError(
                        f"{err} The batch may or may not have been created: run"
                        " `batchtop reconcile` once the API is reachable.",
                        kind=err.kind,
                        status=err.status,
                    ) from None
                # The list showed no such batch: sending once more is safe.
        assert batch is not None
        await self._record(intent, batch, state, model, estimated_cost_usd, parent_batch_id)
        return batch

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

    async def _settle(self, intent: SubmitIntent) -> tuple[RemoteBatch | None, bool]:
        """Look for the batch of an ambiguous create, giving a slow server time to finish.

        Returns (batch or None, whether at least one lookup succeeded).
        """
        checked = False
        for delay in self._settle_delays:
            await self._sleep(delay)
            try:
                found = await self.find_match(intent)
            except ApiError as err:
                log.warning("reconcile lookup failed: %s", err)
                continue
            checked = True
            if found is not None:
                return found, True
        return None, checked

    async def find_match(
        self, intent: SubmitIntent, *, claimed: set[str] | None = None
    ) -> RemoteBatch | None:
        """The oldest unclaimed batch created since the intent with the same request count."""
        api = self._api()
        since = intent.created_at - self._skew
        candidates: list[RemoteBatch] = []
        after_id: str | None = None
        while True:
            page = await api.list_page(after_id=after_id)
            candidates.extend(
                b
                for b in page.batches
                if b.created_at >= since and b.request_counts.total == intent.request_count
            )
            if not page.has_more or not page.batches or page.last_id is None:
                break
            if page.batches[-1].created_at < since:
                break
            after_id = page.last_id
        for batch in sorted(candidates, key=lambda b: b.created_at):
            if claimed is not None and batch.id in claimed:
                continue
            if await asyncio.to_thread(self._is_claimed, batch.id, intent):
                continue
            return batch
        return None

    def _is_claimed(self, batch_id: str, intent: SubmitIntent) -> bool:
        view = self._store.get_batch(batch_id)
        if view is not None and view.job_id is not None:
            # Recorded as this very part before a crash cut the recording short: ours.
            return (view.job_id, view.job_part) != (intent.job_id, intent.part)
        return any(
            i.batch_id == batch_id and i.id != intent.id for i in self._store.intents(intent.job_id)
        )

    async def reconcile_open(self) -> list[SubmitIntent]:
        """Resolve intents left pending (crash between create and record); returns the resolved."""
        pending = await asyncio.to_thread(self._store.open_intents)
        resolved: list[SubmitIntent] = []
        claimed: set[str] = set()
        for intent in sorted(pending, key=lambda i: i.created_at):
            found = await self.find_match(intent, claimed=claimed)
            if found is not None:
                claimed.add(found.id)
                await self._record(intent, found, IntentState.RECONCILED, None, None, None)
                resolved.append(
                    replace(intent, state=IntentState.RECONCILED, batch_id=found.id, error=None)
                )
            elif self._now() - intent.created_at > ABANDON_AFTER:
                msg = "No batch was created for this part (found none after the submit attempt)."
                await asyncio.to_thread(
                    self._store.resolve_intent, intent.id, IntentState.FAILED, None, msg
                )
                resolved.append(replace(intent, state=IntentState.FAILED, batch_id=None, error=msg))
        return resolved

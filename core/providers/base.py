"""The seam between batchtop's core and a batch provider's API.

Everything above it (poller, submitter, results download, service) speaks this protocol and
the neutral dataclasses of `core/models.py`; each adapter maps its provider's objects,
statuses, files and errors onto them and keeps what only it has in the explicit fields of
`RemoteBatch` (None elsewhere). No adapter object or SDK object crosses the seam.

What an adapter provides:
- list pages (newest first, a cursor to continue) and `page_limit` (the provider's page
  size: the refresh policy plans its calls with it), retrieve, cancel, delete;
- create from a prepared part (batchtop's `{custom_id, params}` lines, as bytes of the
  `{"requests": [...]}` body or streamed from the part file), carrying the submission id
  where the provider keeps metadata, never retried by the SDK (a retried create can
  duplicate the batch);
- the results as the provider's own bytes (kept as they came: the JSONL export gives
  them back byte for byte), lines the results index reads in the Message Batches shape
  (`{"custom_id", "result": {...}}`) or through the provider's line reader
  (`openai_lines.neutral_result`), resumable where the provider allows;
- `classify`: any SDK or transport exception → `ApiError` with a one-line message and a
  kind front ends act on; `calls` (HTTP requests made), `scope` (what the API said about the
  workspace or project), `server_offset_s` (its clock);
- `limits`: requests and bytes per batch; `price_prefix`: where its models are in
  `prices.toml`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from ..errors import ApiError
from ..models import RemoteBatch


class StreamedBody(Protocol):
    """A request body sent as it is read (`submit.PartBody`): its length and its bytes."""

    @property
    def size(self) -> int: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a provider's batch list (newest first)."""

    batches: list[RemoteBatch]
    has_more: bool
    last_id: str | None


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What one batch may hold (the importer splits by these)."""

    max_requests: int
    max_bytes: int


class BatchProvider(Protocol):
    """One provider's batch API (see the module docstring)."""

    provider: str
    base_url: str
    calls: int
    page_limit: int
    scope: tuple[str | None, str | None] | None
    key_note: str | None
    limits: BatchLimits
    can_delete: bool  # the API has a call that deletes a batch
    # How the provider's batch ids begin (`ids.ID_SHAPES`): an example for a user ("pass one
    # such as …"), never a rule of whose an id is (`Fleet.locate` asks the stores and the APIs).
    batch_id_prefix: str

    @property
    def has_key(self) -> bool: ...

    @property
    def server_offset_s(self) -> float | None: ...

    def check_key(self) -> None: ...

    def warm_up(self) -> None: ...

    async def close(self) -> None: ...

    def classify(self, exc: BaseException) -> Any: ...

    async def list_page(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> ListPage: ...

    async def probe_scope(self) -> None: ...

    async def retrieve(self, batch_id: str) -> RemoteBatch: ...

    async def create_raw(
        self,
        body: bytes | StreamedBody,
        *,
        submission_id: str | None = None,
        betas: Sequence[str] = (),
    ) -> RemoteBatch: ...

    async def count_tokens(self, params: dict[str, Any], *, betas: Sequence[str] = ()) -> int:
        """The input tokens of one request's params, measured by the API (`UserError` where
        the API has no such endpoint)."""
        ...

    async def cancel(self, batch_id: str) -> RemoteBatch: ...

    async def delete(self, batch_id: str) -> None: ...

    async def models(self) -> list[str]: ...

    async def model_list(self) -> list[dict[str, Any]]: ...

    def iter_results(
        self, batch_id: str, *, start: int = 0, chunk_size: int = 1 << 16
    ) -> AsyncIterator[tuple[bytes, bool]]: ...


class _SdkClient(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=_SdkClient)  # the SDK client an adapter builds


class KeyedClient(Generic[C]):
    """What every SDK-backed adapter holds the same way: the key (in memory only) and its
    problem, the lazily built client, the server clock's offset from the `Date` header."""

    no_key_message = "No API key."
    can_delete = True
    _api_key: str | None
    _key_problem: str | None
    _server_offset_s: float | None
    _client: C | None
    _build_lock: threading.Lock
    _now: Callable[[], datetime]

    def _build(self) -> C:
        """Build the SDK client once (imports the SDK: seconds)."""
        raise NotImplementedError

    def client(self) -> C:
        """The lazily built SDK client."""
        self.check_key()
        with self._build_lock:
            return self._build()

    async def aclient(self) -> C:
        """`client()`, but the first (slow) build runs in a thread, off the loop.

        A daemon thread of its own, not the loop's executor: an app that quits while the SDK
        is still loading must not wait seconds for an import nobody needs any more (closing
        a loop waits for its executor's threads)."""
        if self._client is not None:
            return self._client
        self.check_key()
        loop = asyncio.get_running_loop()
        built: asyncio.Future[C] = loop.create_future()

        def settle(client: C | None, error: BaseException | None) -> None:
            if built.done():  # the awaiting task was cancelled
                return
            if error is not None:
                built.set_exception(error)
            elif client is not None:
                built.set_result(client)

        def build() -> None:
            client: C | None = None
            error: BaseException | None = None
            try:
                client = self.client()
            except BaseException as exc:  # delivered to the awaiting task
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (a quit)
                loop.call_soon_threadsafe(settle, client, error)

        threading.Thread(target=build, name="batchtop-sdk-load", daemon=True).start()
        return await built

    @property
    def has_key(self) -> bool:
        return self._api_key is not None

    @property
    def server_offset_s(self) -> float | None:
        """Server clock minus ours (`now`), from the last response's `Date` (±1 s)."""
        return self._server_offset_s

    def check_key(self) -> None:
        """Raise before any request when the base URL cannot be used or there is no usable
        key (nothing is sent)."""
        problem = getattr(self, "_url_problem", None)
        if problem is not None:  # a setting to fix: no call can go anywhere
            raise ApiError(problem, kind="invalid", sent=False)
        if self._api_key is None:
            raise ApiError(self.no_key_message, kind="auth", sent=False)
        if self._key_problem is not None:
            raise ApiError(self._key_problem, kind="auth", sent=False)

    def _note_server_time(self, date: str | None) -> None:
        if not date:
            return
        import email.utils

        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        # `Date` has whole seconds (truncated): the middle of its second is the best guess.
        self._server_offset_s = server + 0.5 - self._now().timestamp()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

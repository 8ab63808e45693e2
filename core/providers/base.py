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
- the results as bytes of neutral result lines (`{"custom_id", "result": {...}}`, the
  Message Batches shape the results index reads), resumable where the provider allows;
- `classify`: any SDK or transport exception → `ApiError` with a one-line message and a
  kind front ends act on; `calls` (HTTP requests made), `scope` (what the API said about the
  workspace or project), `server_offset_s` (its clock);
- `limits`: requests and bytes per batch; `price_prefix`: where its models are in
  `prices.toml`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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


class KeyedClient:
    """What every SDK-backed adapter holds the same way: the key (in memory only) and its
    problem, the lazily built client, the server clock's offset from the `Date` header."""

    no_key_message = "No API key."
    _api_key: str | None
    _key_problem: str | None
    _server_offset_s: float | None
    _client: Any
    _now: Callable[[], datetime]

    @property
    def has_key(self) -> bool:
        return self._api_key is not None

    @property
    def server_offset_s(self) -> float | None:
        """Server clock minus ours (`now`), from the last response's `Date` (±1 s)."""
        return self._server_offset_s

    def check_key(self) -> None:
        """Raise before any request when there is no usable key (nothing is sent)."""
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

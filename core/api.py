"""The only door to the Anthropic API: client setup, SDK → dataclass conversion, error mapping.

`anthropic` costs about 3 s to import here, so it is imported lazily (first network call),
never at module import. Nothing the SDK returns leaves this module: batches become
`RemoteBatch`, exceptions become `ApiError` with a one-line message and a `kind` front ends
can act on. The API key is held in memory only and never logged or stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .errors import ApiError
from .models import ProcessingStatus, RemoteBatch, RequestCounts
from .providers.base import BatchLimits, KeyedClient, ListPage, StreamedBody
from .providers.env import base_url_problem, url_variable
from .providers.ids import ID_SHAPES
from .redact import clean_api_key

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

DEFAULT_BASE_URL = "https://api.anthropic.com"
LIST_PAGE_LIMIT = 1000
# A Message Batch holds at most 100,000 requests or 256 MB.
LIMITS = BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024)
__all__ = ["DEFAULT_BASE_URL", "BatchApi", "ListPage", "StreamedBody"]
NO_KEY_MESSAGE = "No API key: set ANTHROPIC_API_KEY or run batchtop --demo."


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_remote_batch(obj: Any) -> RemoteBatch:
    """Convert an SDK `MessageBatch` into the store's dataclass."""
    counts = obj.request_counts
    created = _utc(obj.created_at)
    expires = _utc(obj.expires_at)
    assert created is not None
    assert expires is not None
    return RemoteBatch(
        id=str(obj.id),
        processing_status=ProcessingStatus(str(obj.processing_status)),
        request_counts=RequestCounts(
            processing=int(counts.processing),
            succeeded=int(counts.succeeded),
            errored=int(counts.errored),
            canceled=int(counts.canceled),
            expired=int(counts.expired),
        ),
        created_at=created,
        expires_at=expires,
        ended_at=_utc(obj.ended_at),
        cancel_initiated_at=_utc(obj.cancel_initiated_at),
        archived_at=_utc(obj.archived_at),
        results_url=obj.results_url,
    )


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def remote_batch_from_json(data: dict[str, Any]) -> RemoteBatch:
    """Convert a MessageBatch JSON object (as on the wire) into the store's dataclass.

    Used for list pages: building 1,000 SDK (pydantic) objects per refresh costs ten times
    more than the HTTP call itself.
    """
    counts = data.get("request_counts") or {}
    created = _parse_time(data["created_at"])
    expires = _parse_time(data["expires_at"])
    assert created is not None
    assert expires is not None
    return RemoteBatch(
        id=str(data["id"]),
        processing_status=ProcessingStatus(str(data["processing_status"])),
        request_counts=RequestCounts(
            processing=int(counts.get("processing") or 0),
            succeeded=int(counts.get("succeeded") or 0),
            errored=int(counts.get("errored") or 0),
            canceled=int(counts.get("canceled") or 0),
            expired=int(counts.get("expired") or 0),
        ),
        created_at=created,
        expires_at=expires,
        ended_at=_parse_time(data.get("ended_at")),
        cancel_initiated_at=_parse_time(data.get("cancel_initiated_at")),
        archived_at=_parse_time(data.get("archived_at")),
        results_url=data.get("results_url"),
    )


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` / `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    import email.utils  # rarely needed (an HTTP-date retry-after); ~2 ms to import at start

    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _connection_cause(exc: BaseException) -> str:
    """A short human reason from the exception chain of a connection error."""
    seen: list[str] = []
    cur: BaseException | None = exc
    while cur is not None and len(seen) < 6:
        if isinstance(cur, ConnectionRefusedError):
            return "connection refused"
        text = str(cur).strip()
        if text:
            seen.append(text)
        cur = cur.__cause__ or cur.__context__
    joined = " ".join(seen).lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("connect call failed", "connection refused"),
        ("errno 111", "connection refused"),
        ("name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("temporary failure in name resolution", "unknown host"),
        ("network is unreachable", "network unreachable"),
        ("timed out", "timed out"),
        ("connection reset", "connection reset"),
        ("peer closed connection", "the server closed the connection mid-response"),
        ("ssl", "TLS error"),
        ("certificate", "TLS certificate error"),
    ):
        if needle in joined:
            return reason
    return seen[-1].splitlines()[0][:120] if seen else "connection failed"


def _never_sent(exc: BaseException) -> bool:
    """Whether the chain holds a connect-phase failure: no byte of the request left."""
    import httpx2  # the SDKs' HTTP client (a dependency of both): loaded with them

    cur: BaseException | None = exc
    for _ in range(8):
        if cur is None:
            return False
        if isinstance(
            cur,
            httpx2.ConnectError
            | httpx2.ConnectTimeout
            | httpx2.LocalProtocolError  # refused by the client itself (e.g. a bad header)
            | ConnectionRefusedError,
        ):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _cut_mid_response(exc: BaseException) -> bool:
    """Whether the chain holds a transport failure while a response was being read.

    SDK 2.10 let such an `httpx2` error through; 2.17 wraps it in `APIConnectionError`.
    Either way the request reached the server and the failure is worth a retry.
    """
    import httpx2  # the SDKs' HTTP client (a dependency of both): loaded with them

    cur: BaseException | None = exc
    for _ in range(8):
        if cur is None:
            return False
        if isinstance(cur, httpx2.RemoteProtocolError | httpx2.ReadError):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def sentence(text: str) -> str:
    """`text` ended as a sentence: a full stop added unless it ends in one (`.`, `!`, `?`)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def status_error(
    status: int,
    msg: str,
    *,
    retry_after: float | None,
    request_id: str | None,
    key_hint: str,
) -> ApiError:
    """The `ApiError` of an HTTP error answer (any provider): its kind by status, one line."""
    if status in (401, 403):
        text = "The API key was rejected" if status == 401 else "Permission denied"
        return ApiError(
            sentence(f"{text} ({status}): {msg or key_hint}"),
            kind="auth",
            status=status,
            request_id=request_id,
        )
    if status == 429:
        return ApiError(
            sentence(f"Rate limited by the API (429){': ' + msg if msg else ''}"),
            kind="rate_limited",
            status=status,
            request_id=request_id,
            retry_after_s=retry_after,
        )
    if status >= 500:
        what = "The API is overloaded" if status == 529 else "The API had a server error"
        return ApiError(
            sentence(f"{what} ({status}){': ' + msg if msg else ''}"),
            kind="server",
            status=status,
            request_id=request_id,
            retry_after_s=retry_after,
        )
    return ApiError(
        sentence(f"The API refused the request ({status}){': ' + msg if msg else ''}"),
        kind="invalid",
        status=status,
        request_id=request_id,
    )


def transport_error(
    exc: BaseException,
    sdk: Any,
    base_url: str,
    timeout_s: float,
) -> ApiError | None:
    """The `ApiError` of a timeout or connection failure, else None. `sdk` is the SDK's
    module (`anthropic`, `openai`: both name these errors alike and run on httpx2)."""
    if isinstance(exc, sdk.APITimeoutError):
        return ApiError(
            f"Timed out waiting for {base_url} (after {timeout_s:g} s).",
            kind="offline",
            sent=not _never_sent(exc),
        )
    if isinstance(exc, sdk.APIConnectionError):
        what = "Connection to {} was interrupted" if _cut_mid_response(exc) else "Cannot reach {}"
        return ApiError(
            f"{what.format(base_url)}: {_connection_cause(exc)}.",
            kind="offline",
            sent=not _never_sent(exc),
        )
    return None


def other_error(exc: BaseException, base_url: str) -> ApiError:
    """The `ApiError` of an exception no SDK class describes (a bare transport error)."""
    import httpx2  # the SDKs' HTTP client (a dependency of both): loaded with them

    if isinstance(exc, httpx2.TimeoutException):
        return ApiError(f"Timed out waiting for {base_url}.", kind="offline")
    if isinstance(exc, httpx2.TransportError):
        return ApiError(
            f"Connection to {base_url} was interrupted: {_connection_cause(exc)}.",
            kind="offline",
        )
    if isinstance(exc, OSError):
        return ApiError(f"Network error talking to {base_url}: {exc}.", kind="offline")
    return ApiError(f"Unexpected API error: {type(exc).__name__}: {exc}"[:300], kind="other")


# Statuses that do not say the server had finished with the request: a gateway that gave up
# waiting for it (504; Anthropic's `timeout_error`, "the request timed out while processing")
# or had no good answer from it (502). A create answered so may still make its batch later.
GATEWAY_STATUSES = frozenset({502, 504})


def server_finished(err: ApiError) -> bool:
    """True when the server answered the request itself: whatever it did is done (an
    error after a timeout, a cut connection or a gateway's 502/504 says nothing of it)."""
    return err.status is not None and err.status not in GATEWAY_STATUSES


def is_ambiguous(err: ApiError) -> bool:
    """True when the server may have acted even though we saw an error."""
    if not err.sent:
        return False
    return err.kind == "offline" or (
        err.status is not None and (err.status >= 500 or err.status == 408)
    )


class BatchApi(KeyedClient["AsyncAnthropic"]):
    """Async wrapper around `anthropic.AsyncAnthropic` for the Message Batches endpoints:
    the Anthropic adapter of `providers.base.BatchProvider`.

    `calls` counts real HTTP requests (SDK retries included) via an httpx event hook.
    """

    provider = "anthropic"
    batch_id_prefix = ID_SHAPES["anthropic"].prefix
    limits = LIMITS
    no_key_message = NO_KEY_MESSAGE

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        cleaned = clean_api_key(api_key)
        self._now = now or (lambda: datetime.now(UTC))
        self._api_key = cleaned.key
        # Said once by the front end (e.g. "stripped a trailing line ending").
        self.key_note = cleaned.note
        self._key_problem = cleaned.problem
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._url_problem = base_url_problem(
            self.base_url, url_variable("anthropic", base_url or "")
        )
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.calls = 0
        self._server_offset_s: float | None = None
        # What the API says about the key's organization and workspace (response headers
        # `anthropic-organization-id`, `anthropic-workspace-id`): None until a response
        # came, then (workspace id, organization id), either None when not sent.
        self.scope: tuple[str | None, str | None] | None = None
        self.page_limit = LIST_PAGE_LIMIT
        self._client: AsyncAnthropic | None = None
        self._build_lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"BatchApi(base_url={self.base_url!r})"

    # --- plumbing ------------------------------------------------------------------------

    def _build(self) -> AsyncAnthropic:
        if self._client is None:
            import anthropic
            import httpx2

            async def _count(_request: Any) -> None:
                self.calls += 1

            async def _clock(response: Any) -> None:
                self._note_server_time(response.headers.get("date"))

            async def _scope(response: Any) -> None:
                headers = response.headers
                workspace = headers.get("anthropic-workspace-id") or None
                organization = headers.get("anthropic-organization-id") or None
                if workspace or organization or response.status_code < 400:
                    self.scope = (workspace, organization)

            http_client = anthropic.DefaultAsyncHttpxClient(
                event_hooks={"request": [_count], "response": [_clock, _scope]}
            )
            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                max_retries=self.max_retries,
                timeout=httpx2.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s)),
                http_client=http_client,
            )
        return self._client

    def warm_up(self) -> None:
        """Import the SDK and build the client now (call from a worker thread)."""
        import anthropic  # noqa: F401

        if self._api_key is not None and self._key_problem is None:
            self.client()

    def classify(self, exc: BaseException) -> ApiError:
        """Map any SDK/transport exception to an `ApiError` with a one-line message."""
        if isinstance(exc, ApiError):
            return exc
        import anthropic

        known = transport_error(exc, anthropic, self.base_url, self.timeout_s)
        if known is not None:
            return known
        if isinstance(exc, anthropic.APIStatusError):
            detail = (exc.api_message or "").strip().splitlines()
            return status_error(
                exc.status_code,
                detail[0][:300] if detail else "",
                retry_after=parse_retry_after(exc.response.headers),
                request_id=exc.request_id,
                key_hint="check ANTHROPIC_API_KEY",
            )
        if isinstance(exc, anthropic.AnthropicError):
            return ApiError(str(exc).splitlines()[0][:300] or "API error.", kind="other")
        return other_error(exc, self.base_url)

    # --- endpoints -----------------------------------------------------------------------

    async def list_page(self, *, after_id: str | None = None, limit: int | None = None) -> ListPage:
        """One page of batches, newest first; parsed with orjson, not pydantic (10× faster)."""
        client = await self.aclient()
        limit = limit or self.page_limit
        try:
            if after_id is None:
                raw = await client.messages.batches.with_raw_response.list(limit=limit)
            else:
                raw = await client.messages.batches.with_raw_response.list(
                    limit=limit, after_id=after_id
                )
            body = raw.http_response.content
        except Exception as exc:
            raise self.classify(exc) from None
        try:
            page = orjson.loads(body)
            batches = [remote_batch_from_json(b) for b in page["data"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ApiError(
                f"The API sent a batch list batchtop cannot read: {exc}", kind="other"
            ) from None
        return ListPage(
            batches=batches,
            has_more=bool(page.get("has_more")),
            last_id=page.get("last_id"),
        )

    async def probe_scope(self) -> None:
        """One list call of one batch, not retried, errors ignored: its answer's headers
        name the workspace (`scope`). A failure leaves `scope` as it was."""
        try:
            client = (await self.aclient()).with_options(max_retries=0)
            await client.messages.batches.with_raw_response.list(limit=1)
        except Exception:  # the action that follows will meet the same problem and say so
            return

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        client = await self.aclient()
        try:
            obj = await client.messages.batches.retrieve(batch_id)
        except Exception as exc:
            raise self.classify(exc) from None
        return to_remote_batch(obj)

    async def create(self, requests: Sequence[dict[str, Any]]) -> RemoteBatch:
        """Create a batch with no SDK retry: a retried create can duplicate the batch."""
        client = (await self.aclient()).with_options(max_retries=0)
        try:
            obj = await client.messages.batches.create(requests=list(requests))  # type: ignore[arg-type]
        except Exception as exc:
            raise self.classify(exc) from None
        return to_remote_batch(obj)

    async def create_raw(
        self,
        body: bytes | StreamedBody,
        *,
        submission_id: str | None = None,
        betas: Sequence[str] = (),
    ) -> RemoteBatch:
        """Create a batch from a ready JSON body (`{"requests": [...]}`), without SDK retry;
        `betas` go in the `anthropic-beta` header.

        A Message Batch has no metadata: `submission_id` is not sent (the journal proves
        ownership by time window, count and custom_ids instead).

        Skips the SDK's per-field request transform, which costs seconds per 100,000
        requests, and keeps large parts as bytes instead of Python objects; a streamed body is
        streamed from its file as it is sent (with its length, so no chunked encoding).
        """
        client = (await self.aclient()).with_options(max_retries=0)  # the SDK, off the loop
        from anthropic.types.messages import MessageBatch  # loaded with it: a dict lookup

        headers = {"content-type": "application/json"}
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        content: Any = body
        if not isinstance(body, bytes):
            headers["content-length"] = str(body.size)
            content = body.chunks()
        try:
            obj = await client.post(
                "/v1/messages/batches",
                content=content,
                cast_to=MessageBatch,
                options={"headers": headers},
            )
        except Exception as exc:
            raise self.classify(exc) from None
        return to_remote_batch(obj)

    async def cancel(self, batch_id: str) -> RemoteBatch:
        client = await self.aclient()
        try:
            obj = await client.messages.batches.cancel(batch_id)
        except Exception as exc:
            raise self.classify(exc) from None
        return to_remote_batch(obj)

    async def delete(self, batch_id: str) -> None:
        client = await self.aclient()
        try:
            await client.messages.batches.delete(batch_id)
        except Exception as exc:
            raise self.classify(exc) from None

    async def count_tokens(self, params: dict[str, Any], *, betas: Sequence[str] = ()) -> int:
        """The input tokens of one request's params (`POST /v1/messages/count_tokens`): only
        the fields the endpoint takes are sent (the SDK's own list; `max_tokens` and the
        sampling settings are refused there)."""
        from anthropic.types.message_count_tokens_params import MessageCountTokensParams
        from anthropic.types.message_tokens_count import MessageTokensCount

        accepted = MessageCountTokensParams.__annotations__
        body = {k: v for k, v in params.items() if k in accepted}
        client = await self.aclient()
        headers = {"anthropic-beta": ",".join(betas)} if betas else {}
        try:
            obj = await client.post(
                "/v1/messages/count_tokens",
                body=body,
                cast_to=MessageTokensCount,
                options={"headers": headers},
            )
        except Exception as exc:
            raise self.classify(exc) from None
        return int(obj.input_tokens)

    async def models(self) -> list[str]:
        return [str(m["id"]) for m in await self.model_list() if m.get("lifecycle") != "retired"]

    async def model_list(self) -> list[dict[str, Any]]:
        """Every model the Models API reports, retired ones included (as JSON dicts)."""
        client = await self.aclient()
        out: list[dict[str, Any]] = []
        try:
            page = await client.models.list(
                limit=1000, lifecycle=["active", "deprecated", "retired"]
            )
            async for model in page:
                out.append(model.model_dump(mode="json"))
        except Exception as exc:
            raise self.classify(exc) from None
        return out

    async def iter_results(
        self, batch_id: str, *, start: int = 0, chunk_size: int = 1 << 16
    ) -> AsyncIterator[tuple[bytes, bool]]:
        """Yield raw bytes of a batch's results JSONL (no parsing, no pydantic).

        The first item is `(b"", resumed)` where `resumed` says whether the server honoured
        a `Range` request from `start`; then the body in chunks. Errors (including a cut
        stream) surface as `ApiError`.
        """
        client = await self.aclient()
        headers = {"Range": f"bytes={start}-"} if start > 0 else None
        try:
            async with client.messages.batches.with_streaming_response.results(
                batch_id, extra_headers=headers
            ) as response:
                resumed = start > 0 and response.status_code == 206
                yield b"", resumed
                async for chunk in response.iter_bytes(chunk_size):
                    yield chunk, resumed
        except ApiError:
            raise
        except Exception as exc:
            raise self.classify(exc) from None

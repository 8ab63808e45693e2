"""OpenAI's Batch and Files APIs behind batchtop's provider seam (`base.BatchProvider`).

The only module that imports `openai`, lazily (first network call): without the optional
extra, asking for OpenAI says how to install it in one line. What batchtop does here:
- a prepared part (`{custom_id, params}` lines) becomes OpenAI's input file
  (`{custom_id, method: POST, url: <endpoint>, body: params}`), uploaded with purpose
  `batch`, then `POST /batches` (24 h window) with batchtop's submission id in its metadata
  (reconcile finds a batch whose create answer was lost by it). A create the API refused
  deletes the uploaded file again; one that may have happened keeps it (it is the batch's);
- OpenAI statuses and counts map onto the neutral ones: validating, in_progress and
  finalizing are in progress (the word itself stays in `provider_status`), cancelling is
  canceling, completed / failed / expired / cancelled have ended; `completed` requests are
  succeeded, `failed` ones errored, and those still without a result when a batch ended
  expired or canceled (by how it ended); a failed batch's `errors` (its input file did not
  validate) are kept as `RemoteBatch.errors`;
- results are the output file then the error file as OpenAI wrote them (the index reads
  each line through `openai_lines.neutral_result`; the JSONL export gives them back).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..api import other_error, parse_retry_after, status_error, transport_error
from ..errors import ApiError, UserError
from ..models import (
    BatchError,
    OrphanFile,
    ProcessingStatus,
    RemoteBatch,
    RequestCounts,
    TokenUsage,
)
from ..processes import named_pid, pid_alive
from ..redact import clean_api_key
from .base import BatchLimits, KeyedClient, ListPage, StreamedBody
from .env import OPENAI_DEFAULT_BASE_URL, base_url_problem, openai_org_project
from .ids import ID_SHAPES

if TYPE_CHECKING:
    from openai import AsyncOpenAI

INSTALL_HINT = "OpenAI batches need the openai package: pip install 'batchtop[openai]'"
NO_KEY_MESSAGE = "No API key: set OPENAI_API_KEY."
DEFAULT_ENDPOINT = "/v1/chat/completions"
ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings")
LIST_PAGE_LIMIT = 100  # the most a page of GET /v1/batches holds
# An input file holds at most 50,000 requests and 200 MB.
LIMITS = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
METADATA_KEY = "batchtop_submission"
NO_DELETE = "OpenAI batches cannot be deleted (the API has no such call); their files can."
FILE_PREFIX = "batchtop-"

_ACTIVE = {"validating": ProcessingStatus.IN_PROGRESS, "in_progress": ProcessingStatus.IN_PROGRESS}
_STATUS = {
    **_ACTIVE,
    "finalizing": ProcessingStatus.IN_PROGRESS,
    "cancelling": ProcessingStatus.CANCELING,
    "completed": ProcessingStatus.ENDED,
    "failed": ProcessingStatus.ENDED,
    "expired": ProcessingStatus.ENDED,
    "cancelled": ProcessingStatus.ENDED,
}


def input_file_name(submission_id: str | None) -> str:
    """The name an uploaded part carries: `batchtop-<job>_<part>_<intent>.jsonl`."""
    return f"{FILE_PREFIX}{(submission_id or 'part').replace('/', '_')}.jsonl"


def file_submission(filename: str) -> str | None:
    """The submission id (job/part/intent) an input file's name carries, else None."""
    if not filename.startswith(FILE_PREFIX) or not filename.endswith(".jsonl"):
        return None
    fields = filename[len(FILE_PREFIX) : -len(".jsonl")].rsplit("_", 2)
    if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
        return None
    return "/".join(fields)


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def remote_from_openai(data: dict[str, Any]) -> RemoteBatch:
    """An OpenAI Batch object (JSON, as on the wire) as batchtop's neutral `RemoteBatch`."""
    status = str(data["status"])
    try:
        neutral = _STATUS[status]
    except KeyError:
        raise ValueError(f"unknown batch status {status!r}") from None
    counts = data.get("request_counts") or {}
    total = int(counts.get("total") or 0)
    completed = int(counts.get("completed") or 0)
    failed = int(counts.get("failed") or 0)
    rest = max(0, total - completed - failed)
    if neutral is ProcessingStatus.ENDED:
        # Requests without a result when the batch ended: what ended them is the batch's.
        request_counts = RequestCounts(
            succeeded=completed,
            errored=failed + (rest if status in ("completed", "failed") else 0),
            canceled=rest if status == "cancelled" else 0,
            expired=rest if status == "expired" else 0,
        )
    else:
        request_counts = RequestCounts(processing=rest, succeeded=completed, errored=failed)
    created = _time(data["created_at"])
    assert created is not None
    expires = _time(data.get("expires_at")) or created + timedelta(hours=24)
    ended = None
    for key in ("completed_at", "failed_at", "expired_at", "cancelled_at"):
        ended = ended or _time(data.get(key))
    if neutral is ProcessingStatus.ENDED and ended is None:
        ended = _time(data.get("finalizing_at")) or created
    metadata = data.get("metadata")
    submission = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    model = data.get("model")
    return RemoteBatch(
        id=str(data["id"]),
        processing_status=neutral,
        request_counts=request_counts,
        created_at=created,
        expires_at=expires,
        ended_at=ended if neutral is ProcessingStatus.ENDED else None,
        cancel_initiated_at=_time(data.get("cancelling_at")),
        provider="openai",
        provider_status=status,
        endpoint=data.get("endpoint"),
        input_file_id=data.get("input_file_id"),
        output_file_id=data.get("output_file_id"),
        error_file_id=data.get("error_file_id"),
        submission_id=submission if isinstance(submission, str) else None,
        model=model if isinstance(model, str) and model else None,
        usage=_usage(data.get("usage")),
        errors=batch_errors(data.get("errors")),
    )


def batch_errors(errors: Any) -> tuple[BatchError, ...]:
    """A batch's `errors` (`{"object": "list", "data": [{code, message, param, line}]}`,
    why it failed) as `BatchError`s; () when it has none."""
    data = errors.get("data") if isinstance(errors, dict) else None
    out: list[BatchError] = []
    for item in data if isinstance(data, list) else ():
        if not isinstance(item, dict):
            continue
        line = item.get("line")
        param = item.get("param")
        out.append(
            BatchError(
                code=str(item.get("code") or ""),
                message=str(item.get("message") or ""),
                line=line if isinstance(line, int) and not isinstance(line, bool) else None,
                param=str(param) if param else None,
            )
        )
    return tuple(out)


def _usage(usage: Any) -> TokenUsage | None:
    """A batch's `usage` (input tokens with the cached ones among them, output tokens with
    the reasoning ones), or None when the batch reports none."""
    if not isinstance(usage, dict):
        return None

    def count(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    details = usage.get("input_tokens_details")
    cached = count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return TokenUsage(count(usage.get("input_tokens")), count(usage.get("output_tokens")), cached)


def part_lines(body: bytes | StreamedBody) -> Path | list[bytes]:
    """The prepared part's `{custom_id, params}` lines: its file, or the lines of a body."""
    path = getattr(body, "path", None)
    if isinstance(path, Path):
        return path
    assert isinstance(body, bytes)
    requests = orjson.loads(body)["requests"]
    return [orjson.dumps(r) for r in requests]


def write_input_file(source: Path | list[bytes], endpoint: str, target: Path) -> tuple[int, str]:
    """Write OpenAI's batch input JSONL from batchtop's prepared lines; returns its number
    of lines and the endpoint they target (the lines' own `url`, else `endpoint`)."""
    count = 0
    url = endpoint.encode()
    first: str | None = None
    with target.open("wb") as out:
        lines: Any = (
            source.open("rb") if isinstance(source, Path) else contextlib.nullcontext(source)
        )
        with lines as it:
            for line in it:
                if not line.strip():
                    continue
                req = orjson.loads(line)
                first = first or req.get("url")
                out.write(
                    b'{"custom_id":'
                    + orjson.dumps(req["custom_id"])
                    + b',"method":"POST","url":'
                    + orjson.dumps(req.get("url") or url.decode())
                    + b',"body":'
                    + orjson.dumps(req["params"])
                    + b"}\n"
                )
                count += 1
    return count, first or endpoint


class OpenAIBatchApi(KeyedClient["AsyncOpenAI"]):
    """Async adapter over `openai.AsyncOpenAI` for the Batch and Files endpoints."""

    provider = "openai"
    batch_id_prefix = ID_SHAPES["openai"].prefix
    limits = LIMITS
    no_key_message = NO_KEY_MESSAGE
    can_delete = False  # the Batch API has no such call (its files can be deleted)
    keeps_submission_id = True  # in the batch's metadata: reconcile's proof either way

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        now: Callable[[], datetime] | None = None,
        endpoint: str | None = None,
    ) -> None:
        cleaned = clean_api_key(api_key, "OPENAI_API_KEY")
        self._now = now or (lambda: datetime.now(UTC))
        self._api_key = cleaned.key
        self.key_note = cleaned.note
        self._key_problem = cleaned.problem
        self.base_url = (base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/")
        self._url_problem = base_url_problem(self.base_url, "OPENAI_BASE_URL")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.endpoint = endpoint or DEFAULT_ENDPOINT
        self.calls = 0
        self.page_limit = LIST_PAGE_LIMIT
        self.organization, self.project = openai_org_project()
        self.scope: tuple[str | None, str | None] | None = None
        self._server_offset_s: float | None = None
        self._client: AsyncOpenAI | None = None
        self._build_lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBatchApi(base_url={self.base_url!r})"

    def _build(self) -> AsyncOpenAI:
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise ApiError(INSTALL_HINT + ".", kind="invalid", sent=False) from None
            import httpx2

            async def _count(_request: Any) -> None:
                self.calls += 1

            async def _seen(response: Any) -> None:
                headers = response.headers
                self._note_server_time(headers.get("date"))
                project = headers.get("openai-project") or self.project
                organization = headers.get("openai-organization") or self.organization
                if project or organization or response.status_code < 400:
                    self.scope = (project, organization)

            http_client = openai.DefaultAsyncHttpxClient(
                event_hooks={"request": [_count], "response": [_seen]}
            )
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                organization=self.organization,
                project=self.project,
                max_retries=self.max_retries,
                timeout=httpx2.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s)),
                http_client=http_client,
            )
        return self._client

    def warm_up(self) -> None:
        with contextlib.suppress(ImportError):
            import openai  # noqa: F401
        if self._api_key is not None and self._key_problem is None:
            with contextlib.suppress(ApiError):
                self.client()

    def classify(self, exc: BaseException) -> ApiError:
        """Map any SDK/transport exception to an `ApiError` with a one-line message."""
        if isinstance(exc, ApiError):
            return exc
        import openai

        known = transport_error(exc, openai, self.base_url, self.timeout_s)
        if known is not None:
            return known
        if isinstance(exc, openai.APIStatusError):
            body = exc.body
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                body = body["error"]
            message = body.get("message") if isinstance(body, dict) else None
            detail = str(message or "").strip().splitlines()
            return status_error(
                exc.status_code,
                detail[0][:300] if detail else "",
                retry_after=parse_retry_after(exc.response.headers),
                request_id=exc.request_id,
                key_hint="check OPENAI_API_KEY",
            )
        if isinstance(exc, openai.OpenAIError):
            return ApiError(str(exc).splitlines()[0][:300] or "API error.", kind="other")
        return other_error(exc, self.base_url)

    async def _json(self, call: Any) -> Any:
        try:
            raw = await call
            body = raw.http_response.content
        except Exception as exc:
            raise self.classify(exc) from None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(
                f"The API sent an answer batchtop cannot read: {exc}", kind="other"
            ) from None

    def _remote(self, data: Any) -> RemoteBatch:
        try:
            return remote_from_openai(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(
                f"The API sent a batch batchtop cannot read: {exc}", kind="other"
            ) from None

    # --- batches -------------------------------------------------------------------------

    async def list_page(self, *, after_id: str | None = None, limit: int | None = None) -> ListPage:
        client = await self.aclient()
        args: dict[str, Any] = {"limit": limit or self.page_limit}
        if after_id is not None:
            args["after"] = after_id
        page = await self._json(client.batches.with_raw_response.list(**args))
        try:
            batches = [remote_from_openai(b) for b in page["data"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(
                f"The API sent a batch list batchtop cannot read: {exc}", kind="other"
            ) from None
        return ListPage(
            batches=batches,
            has_more=bool(page.get("has_more")),
            last_id=page.get("last_id") or (batches[-1].id if batches else None),
        )

    async def probe_scope(self) -> None:
        try:
            client = (await self.aclient()).with_options(max_retries=0)
            await client.batches.with_raw_response.list(limit=1)
        except Exception:
            return

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        client = await self.aclient()
        return self._remote(await self._json(client.batches.with_raw_response.retrieve(batch_id)))

    async def cancel(self, batch_id: str) -> RemoteBatch:
        client = await self.aclient()
        return self._remote(await self._json(client.batches.with_raw_response.cancel(batch_id)))

    async def delete(self, batch_id: str) -> None:
        raise ApiError(NO_DELETE, kind="invalid", sent=False)

    async def create_raw(
        self,
        body: bytes | StreamedBody,
        *,
        submission_id: str | None = None,
        betas: Sequence[str] = (),
    ) -> RemoteBatch:
        """Upload the part as an input file, then create the batch (no SDK retry).
        `betas` are Anthropic's header: OpenAI has none, they are not sent."""
        client = (await self.aclient()).with_options(max_retries=0)
        source = part_lines(body)
        directory = source.parent if isinstance(source, Path) else None
        fd, name = tempfile.mkstemp(prefix=input_copy_prefix(), suffix=".jsonl", dir=directory)
        os.close(fd)
        temp = Path(name)
        try:
            _count, endpoint = await asyncio.to_thread(
                write_input_file, source, self.endpoint, temp
            )
            label = input_file_name(submission_id)
            with temp.open("rb") as fh:  # noqa: ASYNC230 - the SDK reads it as it sends
                try:
                    uploaded = await self._json(
                        client.files.with_raw_response.create(file=(label, fh), purpose="batch")
                    )
                except ApiError as err:  # the create was never sent: no batch can exist
                    raise ApiError(
                        f"Uploading the input file failed: {err} No batch was created.",
                        kind=err.kind,
                        status=err.status,
                        request_id=err.request_id,
                        retry_after_s=err.retry_after_s,
                        sent=False,
                    ) from None
        finally:
            await asyncio.to_thread(temp.unlink, missing_ok=True)
        file_id = str(uploaded["id"])
        args: dict[str, Any] = {
            "input_file_id": file_id,
            "endpoint": endpoint,
            "completion_window": "24h",
        }
        if submission_id is not None:
            args["metadata"] = {METADATA_KEY: submission_id}
        try:
            data = await self._json(client.batches.with_raw_response.create(**args))
        except ApiError as err:
            from ..api import is_ambiguous

            if not is_ambiguous(err):  # nothing was created: the file would be an orphan
                with contextlib.suppress(ApiError):
                    await self.delete_file(file_id)
            raise
        return self._remote(data)

    # --- files ---------------------------------------------------------------------------

    async def delete_file(self, file_id: str) -> None:
        client = await self.aclient()
        await self._json(client.files.with_raw_response.delete(file_id))

    async def batch_files(self) -> list[dict[str, Any]]:
        """batchtop's uploaded input files (purpose `batch`, named `batchtop-…`)."""
        client = await self.aclient()
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            args: dict[str, Any] = {"purpose": "batch", "limit": 100}
            if after is not None:
                args["after"] = after
            page = await self._json(client.files.with_raw_response.list(**args))
            data = page.get("data") or []
            out.extend(f for f in data if str(f.get("filename", "")).startswith(FILE_PREFIX))
            if not page.get("has_more") or not data:
                return out
            after = str(data[-1]["id"])

    async def submission_files(self, submission_id: str) -> set[str]:
        """The ids of the input files batchtop uploaded for this submission (each is named
        after it when uploaded: `input_file_name`)."""
        name = input_file_name(submission_id)
        return {str(f["id"]) for f in await self.batch_files() if f.get("filename") == name}

    async def input_uploaded(self, submission_id: str) -> bool:
        """Whether an input file named after this submission is on the API (a create of it
        needs one: none means its create was never sent)."""
        return bool(await self.submission_files(submission_id))

    async def orphan_files(self) -> list[OrphanFile]:
        """batchtop's uploaded input files that no batch of the project uses (one walk of
        the batch list: ceil(N/100) calls)."""
        files = await self.batch_files()
        if not files:
            return []
        used: set[str] = set()
        after: str | None = None
        while True:
            page = await self.list_page(after_id=after)
            used.update(b.input_file_id for b in page.batches if b.input_file_id)
            if not page.has_more or not page.batches or page.last_id is None:
                break
            after = page.last_id
        return [
            OrphanFile(
                id=str(f["id"]),
                filename=str(f.get("filename") or ""),
                bytes=int(f.get("bytes") or 0),
                created_at=_time(f.get("created_at")) or datetime.fromtimestamp(0, UTC),
                submission_id=file_submission(str(f.get("filename") or "")),
            )
            for f in files
            if f.get("id") not in used
        ]

    # --- models and results --------------------------------------------------------------

    async def count_tokens(self, params: dict[str, Any], *, betas: Sequence[str] = ()) -> int:
        """The Batch API has no token-counting endpoint."""
        raise UserError("OpenAI has no token-counting endpoint: input tokens stay estimated.")

    async def models(self) -> list[str]:
        return [str(m["id"]) for m in await self.model_list()]

    async def model_list(self) -> list[dict[str, Any]]:
        client = await self.aclient()
        page = await self._json(client.models.with_raw_response.list())
        return [m for m in page.get("data") or [] if isinstance(m, dict)]

    async def iter_results(
        self, batch_id: str, *, start: int = 0, chunk_size: int = 1 << 16
    ) -> AsyncIterator[tuple[bytes, bool]]:
        """The output file then the error file, byte for byte (a newline between them when
        the first does not end in one): the results file and the index keep OpenAI's lines.

        Never resumed (`(b"", False)` first): a byte offset into the two files together is
        not one `Range` of either.
        """
        batch = await self.retrieve(batch_id)
        client = await self.aclient()
        yield b"", False
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id is None:
                continue
            last = b"\n"
            try:
                async with client.files.with_streaming_response.content(file_id) as response:
                    async for chunk in response.iter_bytes(chunk_size):
                        if chunk:
                            last = chunk[-1:]
                            yield chunk, False
            except ApiError:
                raise
            except Exception as exc:
                raise self.classify(exc) from None
            if last != b"\n":
                yield b"\n", False


# The upload copy of a part (`create_raw`): `.openai-input-<pid>-….jsonl` beside the part,
# removed once uploaded; a process killed meanwhile (kill -9) leaves it behind.
INPUT_COPY = ".openai-input-"


def input_copy_prefix() -> str:
    return f"{INPUT_COPY}{os.getpid()}-"


def remove_dead_input_copies(imports: Path, temp: Path) -> list[Path]:
    """Remove the upload copies left by processes that are gone: in the import folders
    under `imports` (a prepared part's) and at the top of `temp` (a composed part's); a
    live process's copy is never touched. Returns the removed."""
    removed = []
    pattern = f"{INPUT_COPY}*.jsonl"
    for path in (*_files_under(imports, pattern), *temp.glob(pattern)):
        pid = named_pid(path.name.removeprefix(INPUT_COPY).split("-", 1)[0])
        if pid is None or pid_alive(pid):
            continue  # a live process's, or not named by one (not batchtop's to judge)
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _files_under(top: Path, pattern: str) -> Iterator[Path]:
    """The files matching `pattern` anywhere under `top`. Unlike `Path.rglob` (3.11), a
    folder that vanishes mid-walk (another batchtop removing its finished import) is
    skipped, not raised."""
    for folder, _dirs, files in os.walk(top):
        for name in fnmatch.filter(files, pattern):
            yield Path(folder, name)

"""The aiohttp application: routes, auth, error envelopes, fault injection, streaming."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from typing import Any

import orjson
from aiohttp import web

from . import catalog, ids
from .behaviour import count_tokens
from .clock import Clock, ScaledClock, rfc3339, to_us
from .config import EmulatorConfig
from .envelope import ApiFailure, error_response, json_response
from .intake import prepare_batch
from .state import US, BatchRecord, EmulatorState
from .stats import EmulatorStats
from .wire import FaultPicker, SlowGate, abort, read_body, serve

log = logging.getLogger("batchtop.core.emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_BATCHES = "/v1/messages/batches"
_KEY_REQUEST_ID = web.RequestKey("request_id", str)
_KEY_WORKSPACE = web.RequestKey("workspace", str)  # "" is the default workspace


def _not_found(batch_id: str) -> ApiFailure:
    return ApiFailure(404, f"Message Batch {batch_id} not found.")


class EmulatorServer:
    """A Message Batches API server on a loopback port, state in SQLite."""

    def __init__(self, config: EmulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or ScaledClock(config.time_scale)
        self.stats = EmulatorStats()
        self.betas: dict[str, tuple[str, ...]] = {}  # batch id → anthropic-beta on create
        self.base_url = ""
        self._state: EmulatorState | None = None
        self._runner: web.AppRunner | None = None
        self._faults = FaultPicker(config.faults)
        self._slow_creates = SlowGate()
        self._slow_results = SlowGate()
        self._create_lock = asyncio.Lock()
        self.organization_id = config.organization_id or ids.organization_id(config.seed)
        self.workspace_id = config.workspace_id or ids.workspace_id(config.seed)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> str:
        """Open the state, bind (or serve on `sock`, a bound socket whose URL a client was
        given before the server started) and return the base URL (http://127.0.0.1:43123)."""
        self._state = EmulatorState(self.config.db_path)
        app = web.Application(
            middlewares=[self._middleware],
            client_max_size=self.config.max_body_bytes + 16 * 1024 * 1024,
        )
        app.on_response_prepare.append(self._add_request_id)
        self._add_routes(app)
        self._runner, root = await serve(app, self.config.host, self.config.port, sock)
        self.base_url = root
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._state is not None:
            self._state.close()
            self._state = None

    @property
    def state(self) -> EmulatorState:
        if self._state is None:
            raise RuntimeError("emulator is not running")
        return self._state

    def now_us(self) -> int:
        return to_us(self.clock.now())

    def seed_history(
        self, count: int, *, spacing_s: float = 1.0, active: frozenset[int] = frozenset()
    ) -> list[str]:
        """Add `count` batches of one request each, created before now (oldest first,
        `spacing_s` apart): ended a second after creation, except the indices in `active`,
        which stay in progress for 23 hours. Returns their ids, oldest first.

        For tests and benchmarks of large workspaces: 5,000 batches in a fraction of a
        second instead of 5,000 create calls. Call on the server's thread (handle.call).
        """
        now = self.now_us()
        body = orjson.dumps(
            {
                "requests": [
                    {
                        "custom_id": "history-1",
                        "params": {
                            "model": catalog.MODELS[0].id,
                            "max_tokens": 16,
                            "messages": [{"role": "user", "content": "an older batch"}],
                        },
                    }
                ]
            }
        )
        template, _done = prepare_batch(body, "msgbatch_history", now, self.config, [])
        first = self.state.next_seq()
        rows: list[tuple[int, str, int, int]] = []
        for i in range(count):
            seq = first + i
            created = now - int((count - i) * spacing_s * US)
            done = created + (23 * 3600 * US if i in active else US)
            rows.append((seq, ids.batch_id(self.config.seed, seq, created), created, done))
        self.state.insert_history(rows, template)
        return [bid for _seq, bid, _c, _d in rows]

    def retire(self, batch_id: str) -> bool:
        """Archive an ended batch's results now instead of 29 days after its creation (the
        demo, which runs for hours, keeps its emulator's memory bounded so); False when the
        batch is unknown, deleted or still running. Call on the server's thread."""
        record = self.state.get(batch_id)
        if record is None or record.deleted:
            return False
        now = self.now_us()
        record = self.state.settle(record, now)
        if record.ended_us is None:
            return False
        if record.archived_us is None:
            self.state.archive(record, now)
        return True

    # --- plumbing ------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post(_BATCHES, self._create, name="create")
        r.add_get(_BATCHES, self._list, name="list")
        r.add_get(_BATCHES + "/{batch_id}", self._retrieve, name="retrieve")
        r.add_delete(_BATCHES + "/{batch_id}", self._delete, name="delete")
        r.add_post(_BATCHES + "/{batch_id}/cancel", self._cancel, name="cancel")
        r.add_get(_BATCHES + "/{batch_id}/results", self._results, name="results")
        r.add_get("/v1/models", self._models, name="models")
        r.add_get("/v1/models/{model_id}", self._model, name="model")
        r.add_post("/v1/messages/count_tokens", self._count_tokens, name="count_tokens")

    async def _add_request_id(self, request: web.Request, response: web.StreamResponse) -> None:
        rid = request.get(_KEY_REQUEST_ID) or ids.request_id()
        response.headers.setdefault("request-id", rid)
        # The Date header tells the server's time, as the real API's does: from the
        # emulator's clock, so it agrees with the created_at of its batches.
        response.headers["Date"] = format_datetime(self.clock.now(), usegmt=True)
        workspace = request.get(_KEY_WORKSPACE)
        if workspace is not None:  # an authenticated request: the key's org and workspace
            response.headers.setdefault("anthropic-organization-id", self.organization_id)
            response.headers.setdefault("anthropic-workspace-id", workspace or self.workspace_id)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = ids.request_id()
        request[_KEY_REQUEST_ID] = rid
        route = request.match_info.route
        matched = request.match_info.http_exception is None
        endpoint = (route.name or "unknown") if matched else "unknown"
        status = 500
        self.stats.arrive(endpoint)
        try:
            try:
                if matched:
                    await self._inject_faults(endpoint)
                    key = self._authenticate(request)
                    request[_KEY_WORKSPACE] = self.config.key_workspaces.get(key, "")
                    if not self.config.example_mode:  # (the SDK's own tests send "string")
                        _check_version_and_betas(request)
                response = await handler(request)
            except ApiFailure as failure:
                response = error_response(failure, rid)
            except web.HTTPException as exc:
                response = self._http_exception(request, exc, rid)
            status = response.status
            return response
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's code for it)
            raise
        except ConnectionError:
            status = 499
            log.debug("emulator: client disconnected during %s %s", request.method, request.path)
            return error_response(ApiFailure(400, "Client disconnected"), rid)
        except Exception:
            log.exception("emulator: unhandled error on %s %s", request.method, request.path)
            status = 500
            return error_response(ApiFailure(500, "Internal server error"), rid)
        finally:
            self.stats.record(endpoint, status)

    @staticmethod
    def _http_exception(request: web.Request, exc: web.HTTPException, rid: str) -> web.Response:
        status = exc.status
        if status == 404:
            message = f"Not found: {request.method} {request.path}"
        elif status == 405:
            message = f"Method {request.method} is not allowed for {request.path}"
        elif status == 413:
            message = "Request exceeds the maximum allowed number of bytes."
        else:
            message = exc.reason or "Bad request"
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(ApiFailure(status, message, headers=headers), rid)

    async def _inject_faults(self, endpoint: str) -> None:
        fault = await self._faults.pick(endpoint)
        if fault is None:
            return
        if fault.status == 429:
            raise ApiFailure(
                429,
                "Number of requests has exceeded your rate limit. Please try again later.",
                headers=fault.headers,
            )
        if fault.status == 529:
            raise ApiFailure(529, "Overloaded", headers=fault.headers)
        if fault.status == 504:
            raise ApiFailure(504, "Request timed out while processing.")
        raise ApiFailure(500, "Internal server error", headers=fault.headers)

    def _authenticate(self, request: web.Request) -> str:
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                key = auth[7:].strip()
        if not key:
            raise ApiFailure(401, "x-api-key header is required")
        allowed = self.config.api_keys
        if allowed is not None and key not in allowed:
            raise ApiFailure(401, "API key is invalid.")
        return key

    async def _read_body(self, request: web.Request, limit: int) -> bytes:
        """The whole body, or a 413 once it passes `limit` (the rest is drained, not kept)."""
        return await read_body(
            request,
            limit,
            lambda: ApiFailure(413, "Request exceeds the maximum allowed number of bytes."),
        )

    # --- batch helpers -------------------------------------------------------------------

    @staticmethod
    def _workspace(request: web.Request) -> str:
        return str(request.get(_KEY_WORKSPACE, ""))

    def _load(self, request: web.Request, batch_id: str) -> BatchRecord | None:
        """The batch if it exists in the requesting key's workspace (another workspace's
        batch is as unknown as a missing one, as on the real API)."""
        record = self.state.get(batch_id, self._workspace(request))
        if record is None or record.deleted:
            return None
        return self.state.settle(record, self.now_us())

    def _check_transient_404(self, record: BatchRecord) -> None:
        window = self.config.faults.transient_404_s
        if window > 0 and self.now_us() < record.created_us + int(window * US):
            raise _not_found(record.id)

    def _render(
        self, request: web.Request, record: BatchRecord, *, fresh: bool = False
    ) -> dict[str, Any]:
        """The MessageBatch JSON; `fresh` renders the state at creation (create response)."""
        if fresh:
            counts = {
                "processing": record.total,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            }
        elif record.ended_us is not None:
            counts = {
                "processing": 0,
                "succeeded": record.n_succeeded,
                "errored": record.n_errored,
                "canceled": record.n_canceled,
                "expired": record.n_expired,
            }
        elif self.config.counters == "at-end":
            counts = {
                "processing": record.total,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            }
        else:
            live = self.state.live_counts(record, record.cutoff(self.now_us()))
            counts = {"processing": record.total - sum(live.values()), **live}
        ended = record.ended_us if not fresh else None
        results_url = None
        if ended is not None:
            results_url = f"{request.scheme}://{request.host}{_BATCHES}/{record.id}/results"
        return {
            "id": record.id,
            "type": "message_batch",
            "processing_status": "in_progress" if fresh else record.status,
            "request_counts": counts,
            "ended_at": rfc3339(ended),
            "created_at": rfc3339(record.created_us),
            "expires_at": rfc3339(record.expires_us),
            "archived_at": rfc3339(record.archived_us),
            "cancel_initiated_at": rfc3339(record.cancel_us),
            "results_url": results_url,
        }

    def _example(
        self, request: web.Request, batch_id: str, status: str = "ended"
    ) -> dict[str, Any]:
        now = self.now_us()
        ended = status == "ended"
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": {
                "processing": 0 if ended else 1,
                "succeeded": 1 if ended else 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": rfc3339(now) if ended else None,
            "created_at": rfc3339(now),
            "expires_at": rfc3339(now + 86_400 * US),
            "archived_at": None,
            "cancel_initiated_at": None if status != "canceling" else rfc3339(now),
            "results_url": f"{request.scheme}://{request.host}{_BATCHES}/{batch_id}/results"
            if ended
            else None,
        }

    # --- handlers: batches ---------------------------------------------------------------

    @property
    def held_creates(self) -> int:
        """Creates whose body has arrived, held by `create_latency_s` now."""
        return self._slow_creates.held

    def release_slow_creates(self) -> None:
        """Let every create now waiting out `create_latency_s` go on (on the server's loop)."""
        self._slow_creates.release()

    @property
    def held_results(self) -> int:
        """Results streams paused after their first piece by `results_latency_s` now."""
        return self._slow_results.held

    def release_slow_results(self) -> None:
        """Let every results stream now paused go on (on the server's loop)."""
        self._slow_results.release()

    async def _create(self, request: web.Request) -> web.StreamResponse:
        cfg = self.config
        raw = await self._read_body(request, cfg.max_body_bytes)
        await self._slow_creates.hold(cfg.faults.create_latency_s)
        async with self._create_lock:  # one create at a time: ids come from the sequence
            seq = self.state.next_seq()
            now = self.now_us()
            batch_id = ids.batch_id(cfg.seed, seq, now)
            # Parsing and synthesis are CPU work (seconds at 100k requests): off the loop,
            # so other clients keep getting answers meanwhile.
            rows, done_us = await asyncio.to_thread(
                prepare_batch, raw, batch_id, now, cfg, list(cfg.rules)
            )
            record = self.state.insert_batch(
                seq=seq,
                batch_id=batch_id,
                now_us=now,
                done_us=done_us,
                rows=rows,
                workspace=self._workspace(request),
            )
        betas = _betas(request)
        if betas:
            self.betas[batch_id] = betas
        return json_response(self._render(request, record, fresh=True))

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        record = self._load(request, batch_id)
        if record is None:
            if self.config.example_mode:
                return json_response(self._example(request, batch_id))
            raise _not_found(batch_id)
        self._check_transient_404(record)
        return json_response(self._render(request, record))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        limit = _parse_limit(q.get("limit"))
        after_id = q.get("after_id") or None
        before_id = q.get("before_id") or None
        page = self.state.page(limit, after_id, before_id, self._workspace(request))
        now = self.now_us()
        data = [self._render(request, self.state.settle(r, now)) for r in page.batches]
        return json_response(
            {
                "data": data,
                "has_more": page.has_more,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        record = self._load(request, batch_id)
        if record is None:
            if self.config.example_mode:
                return json_response(self._example(request, batch_id, "canceling"))
            raise _not_found(batch_id)
        if record.ended_us is not None:
            raise ApiFailure(
                400,
                f"Batch {batch_id} cannot be canceled because it has already finished processing.",
            )
        if record.cancel_us is None:
            now = self.now_us()
            record = self.state.cancel(record, now, int(self.config.cancel_delay_s * US))
            record = self.state.settle(record, now)
        return json_response(self._render(request, record))

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        record = self._load(request, batch_id)
        if record is None:
            if self.config.example_mode:
                return json_response({"id": batch_id, "type": "message_batch_deleted"})
            raise _not_found(batch_id)
        if record.ended_us is None:
            raise ApiFailure(
                400, "In progress batches cannot be deleted. Consider canceling the batch instead."
            )
        self.state.delete(record)
        return json_response({"id": batch_id, "type": "message_batch_deleted"})

    async def _results(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        record = self._load(request, batch_id)
        if record is None:
            if self.config.example_mode:
                line = b'{"custom_id":"my-custom-id-1","result":{"type":"canceled"}}\n'
                return web.Response(body=line, content_type="application/x-jsonl")
            raise _not_found(batch_id)
        self._check_transient_404(record)
        if record.ended_us is None or record.archived_us is not None:
            raise ApiFailure(404, f"Message Batch {batch_id} has no available results.")
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/x-jsonl"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        cut = self.config.faults.cut_results_after_bytes
        sent = 0
        for chunk in self.state.result_chunks(record):
            if cut is not None and sent + len(chunk) >= cut:
                await response.write(chunk[: max(0, cut - sent)])
                await abort(request)
                return response
            await response.write(chunk)
            if not sent:
                await self._slow_results.hold(self.config.faults.results_latency_s)
            sent += len(chunk)
        await response.write_eof()
        return response

    # --- handlers: models and token counting -----------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        limit = _parse_limit(q.get("limit"))
        wanted = set(q.getall("lifecycle", [])) or set(q.getall("lifecycle[]", []))
        wanted = wanted or {"active", "deprecated"}  # retired only when asked for
        models = [catalog.api_dict(m) for m in catalog.MODELS if m.lifecycle in wanted]
        ids_ = [m["id"] for m in models]
        after_id = q.get("after_id") or None
        before_id = q.get("before_id") or None
        if after_id is not None:
            models = models[ids_.index(after_id) + 1 :] if after_id in ids_ else []
            page, has_more = models[:limit], len(models) > limit
        elif before_id is not None:
            models = models[: ids_.index(before_id)] if before_id in ids_ else []
            page, has_more = models[-limit:], len(models) > limit
        else:
            page, has_more = models[:limit], len(models) > limit
        return json_response(
            {
                "data": page,
                "has_more": has_more,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    async def _model(self, request: web.Request) -> web.StreamResponse:
        model_id = request.match_info["model_id"]
        info = catalog.lookup(model_id)
        if info is None:
            raise ApiFailure(404, f"model: {model_id}")
        return json_response(catalog.api_dict(info))

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        raw = await self._read_body(request, 32 * 1024 * 1024)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ApiFailure(400, f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiFailure(400, "Input should be a valid dictionary")
        for name in ("messages", "model"):
            if name not in body:
                raise ApiFailure(400, f"{name}: Field required")
        extra = sorted(k for k in body if k not in COUNT_TOKENS_FIELDS)
        if extra:  # max_tokens, temperature, …: a create's fields are refused here
            raise ApiFailure(400, f"{extra[0]}: Extra inputs are not permitted")
        if not isinstance(body["messages"], list):
            raise ApiFailure(400, "messages: Input should be a valid list")
        model = body["model"]
        if not isinstance(model, str) or catalog.lookup(model) is None:
            raise ApiFailure(404, f"model: {model}")
        return json_response({"input_tokens": count_tokens(body)})


def _parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise ApiFailure(
            400, "limit: Input should be a valid integer, unable to parse string as an integer"
        ) from None
    if limit < 1:
        raise ApiFailure(400, "limit: Input should be greater than or equal to 1")
    if limit > 1000:
        raise ApiFailure(400, "limit: Input should be less than or equal to 1000")
    return limit


#: anthropic-version values the API accepts (the docs' and SDK 2.x's).
API_VERSIONS = frozenset({"2023-06-01", "2023-01-01", "2026-10-21"})

#: anthropic-beta values the API knows (SDK 2.10's AnthropicBetaParam); others are refused.
KNOWN_BETAS = frozenset(
    {
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "output-128k-2025-02-19",
        "mcp-client-2025-04-04",
        "mcp-client-2025-11-20",
        "dev-full-thinking-2025-05-14",
        "interleaved-thinking-2025-05-14",
        "code-execution-2025-05-22",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "model-context-window-exceeded-2025-08-26",
        "fast-mode-2026-02-01",
        "output-300k-2026-03-24",
        "user-profiles-2026-03-24",
        "user-profiles-2026-08-18",
        "user-profiles-2026-09-04",
        "advisor-tool-2026-03-01",
        "managed-agents-2026-04-01",
        "dreaming-2026-04-21",
        "thinking-token-count-2026-05-13",
        "server-side-fallback-2026-06-01",
        "server-side-fallback-2026-07-01",
        "fallback-credit-2026-06-01",
        "fallback-credit-2026-07-01",
        "agent-memory-2026-07-22",
        "mid-conversation-tool-changes-2026-07-01",
        "compact-2026-01-12",
        "computer-use-2025-11-24",
        "mcp-tunnels-2026-06-22",
        "structured-outputs-2025-11-13",
        "task-budgets-2026-03-13",
        "thinking-display-updates-2026-08-18",
        "mid-conversation-output-config-2026-07-01",
        "thinking-binding-controls-2026-08-01",
        "mid-conversation-system-clear-at-2026-08-21",
        "compact-2026-09-04",
        "inline-tools-2026-09-15",
        "mcp-client-2026-09-15",
        "ce-plugins-2026-09-01",
        "spend-limit-reads-2026-09-26",
        "telemetry-destinations-2026-08-11",
        "webhooks-2026-10-07",
        "admin-user-sign-out-2026-10-08",
        "message-threads-2026-08-12",
        "analytics-usage-cost-2026-08-24",
        "experimental-claude-tag-2026-10-21",
        "message-batches-2024-09-24",
        "prompt-caching-2024-07-31",
        "pdfs-2024-09-25",
        "token-counting-2024-11-01",
        "token-efficient-tools-2025-02-19",
        "files-api-2025-04-14",
        "extended-cache-ttl-2025-04-11",
        "skills-2025-10-02",
        "cache-diagnosis-2026-04-07",
        "ce-user-management-2026-07-13",
        "ce-claude-code-managed-settings-2026-10-06",
        "efs-2026-10-01",
        "google-managed-data-controls-2026-09-01",
        "user-profiles-billing-2026-10-01",
    }
)


#: the body fields `POST /v1/messages/count_tokens` takes (SDK 2.17's
#: MessageCountTokensParams, and the beta ones); any other is refused
COUNT_TOKENS_FIELDS = frozenset(
    {
        "messages",
        "model",
        "cache_control",
        "output_config",
        "speed",
        "system",
        "thinking",
        "tool_choice",
        "tools",
        "user_profile_id",
        "workspace_id",
        "mcp_servers",
        "context_management",
        "output_format",
    }
)


def _betas(request: web.Request) -> tuple[str, ...]:
    raw = ",".join(request.headers.getall("anthropic-beta", []))
    return tuple(v.strip() for v in raw.split(",") if v.strip())


def _check_version_and_betas(request: web.Request) -> None:
    """A bad anthropic-version or an unknown anthropic-beta is a 400, as on the API."""
    version = request.headers.get("anthropic-version")
    if version is not None and version.strip() not in API_VERSIONS:
        raise ApiFailure(400, f'anthropic-version: "{version}" is not a valid version')
    unknown = [b for b in _betas(request) if b not in KNOWN_BETAS]
    if unknown:
        listed = ", ".join(f"`{b}`" for b in unknown)
        raise ApiFailure(
            400,
            f"Unexpected value(s) {listed} for the `anthropic-beta` header. Please consult our"
            " documentation at docs.claude.com or try again without the header.",
        )

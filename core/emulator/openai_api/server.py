"""The OpenAI emulator's aiohttp application: Files and Batches routes, auth, faults."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.utils import format_datetime
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from ..clock import Clock, ScaledClock, to_us
from ..config import EmulatorConfig
from ..envelope import json_response
from ..ids import base58, digest
from ..stats import EmulatorStats
from ..wire import FaultPicker, SlowGate, abort, read_body, serve
from . import models
from .bodies import Synthesizer, hex_id
from .envelope import OpenAIFailure, error_response, invalid_value, missing
from .state import (
    FILE_TTL_US,
    US,
    BatchRecord,
    FileRecord,
    NewBatch,
    OpenAIState,
    PendingRequest,
)
from .validate import Limits, check_file

log = logging.getLogger("batchtop.core.emulator.openai")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The endpoints `POST /v1/batches` accepts (the Batch API reference, SDK 3.x's literal).
BATCH_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
#: The ones this emulator answers (the others are refused, saying so).
EMULATED_ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings")
#: FileObject.purpose values an upload may name (the Files API reference).
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: The Files API's size limit for one upload.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
METADATA_PAIRS, METADATA_KEY, METADATA_VALUE = 16, 64, 512
EXPIRY_MIN_S, EXPIRY_MAX_S = 3600, 2_592_000

_KEY_REQUEST_ID = web.RequestKey("oai_request_id", str)
_KEY_PROJECT = web.RequestKey("oai_project", str)  # "" is the default project


def _seconds(us: int | None) -> int | None:
    return None if us is None else us // US


def _no_file(file_id: str, param: str = "id") -> OpenAIFailure:
    return OpenAIFailure(404, f"No such File object: {file_id}", param=param)


def _no_batch(batch_id: str) -> OpenAIFailure:
    return OpenAIFailure(404, f"No batch found with id '{batch_id}'.")


class OpenAIServer:
    """An OpenAI Files + Batches API server on a loopback port, state in SQLite."""

    def __init__(self, config: EmulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or ScaledClock(config.time_scale)
        self.stats = EmulatorStats()
        self.limits = Limits()
        self.base_url = ""  # ends in /v1, as the openai SDK's base_url
        self._state: OpenAIState | None = None
        self._runner: web.AppRunner | None = None
        self._faults = FaultPicker(config.faults)
        self._create_lock = asyncio.Lock()
        self._slow_creates = SlowGate()
        self._slow_uploads = SlowGate()
        # Keys belong to projects, as OpenAI's do: files and batches are the project's, and
        # every answer names the organization and project (`openai-organization`,
        # `openai-project` headers). `key_workspaces` maps a key to its project id.
        seed = config.seed
        self.organization_id = config.organization_id or "org-" + base58(
            digest(seed, "organization"), 24
        )
        self.project_id = config.workspace_id or "proj_" + base58(digest(seed, "project"), 24)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> str:
        self._state = OpenAIState(self.config.db_path)
        app = web.Application(
            middlewares=[self._middleware], client_max_size=MAX_UPLOAD_BYTES + (16 << 20)
        )
        app.on_response_prepare.append(self._add_headers)
        self._add_routes(app)
        self._runner, root = await serve(app, self.config.host, self.config.port, sock)
        self.base_url = root + "/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._state is not None:
            self._state.close()
            self._state = None

    @property
    def state(self) -> OpenAIState:
        if self._state is None:
            raise RuntimeError("emulator is not running")
        return self._state

    def now_us(self) -> int:
        return to_us(self.clock.now())

    def seed_history(
        self, count: int, *, spacing_s: float = 1.0, active: frozenset[int] = frozenset()
    ) -> list[str]:
        """Add `count` chat batches of one request each, created before now (oldest first,
        `spacing_s` apart): completed a second after creation, except the indices in
        `active`, which stay in progress for 23 hours. Returns their ids, oldest first.

        For tests and benchmarks of many batches without as many uploads and creates (the
        Anthropic server's `seed_history`, same contract). Call on the server's thread."""
        now = self.now_us()
        line = {
            "custom_id": "history-1",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "an older batch"}],
            },
        }
        content = orjson.dumps(line) + b"\n"
        file_id = "file-" + base58(digest(self.config.seed, "history", now, count), 22)
        self.state.add_file(file_id, now, "history.jsonl", "batch", content, None)
        first = self.state.next_seq("oai_batches")
        batches: list[NewBatch] = []
        for i in range(count):
            created = now - int((count - i) * spacing_s * US)
            batch_id = "batch_" + hex_id(self.config.seed, "batch", first + i, created)
            new = self._prepare(
                content,
                batch_id,
                created,
                "/v1/chat/completions",
                None,
                30 * 86_400 * US,
                file_id,
            )
            done = created + (23 * 3600 * US if i in active else US)
            request = replace(new.requests[0], ready_us=done)
            batches.append(
                replace(new, validated_us=created, done_us=done, final_us=done, requests=[request])
            )
        self.state.insert_batches(batches)
        return [b.id for b in batches]

    def retire(self, batch_id: str) -> bool:
        """Expire an ended batch's input, output and error files now instead of when their
        time is up (the demo, which runs for hours, keeps its emulator's memory bounded so);
        False when the batch is unknown or still running. Call on the server's thread."""
        record = self.state.batch_any_project(batch_id)
        if record is None:
            return False
        record = self._settle(record)
        if record.ended_us is None:
            return False
        self.state.expire_files(record, self.now_us())
        return True

    # --- plumbing ------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/v1/files", self._upload, name="file_upload")
        r.add_get("/v1/files", self._list_files, name="file_list")
        r.add_get("/v1/files/{file_id}", self._retrieve_file, name="file_retrieve")
        r.add_delete("/v1/files/{file_id}", self._delete_file, name="file_delete")
        r.add_get("/v1/files/{file_id}/content", self._content, name="file_content")
        r.add_post("/v1/batches", self._create, name="create")
        r.add_get("/v1/batches", self._list, name="list")
        r.add_get("/v1/batches/{batch_id}", self._retrieve, name="retrieve")
        r.add_post("/v1/batches/{batch_id}/cancel", self._cancel, name="cancel")
        r.add_get("/v1/models", self._models, name="models")
        r.add_get("/v1/models/{model_id}", self._model, name="model")

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("x-request-id", request.get(_KEY_REQUEST_ID) or _rid())
        response.headers.setdefault("openai-version", "2020-10-01")
        response.headers.setdefault("openai-processing-ms", "1")
        response.headers["Date"] = format_datetime(self.clock.now(), usegmt=True)
        project = request.get(_KEY_PROJECT)
        if project is not None:  # an authenticated request: the key's organization, project
            response.headers.setdefault("openai-organization", self.organization_id)
            response.headers.setdefault("openai-project", project or self.project_id)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[_KEY_REQUEST_ID] = _rid()
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
                    request[_KEY_PROJECT] = self.config.key_workspaces.get(key, "")
                response = await handler(request)
            except OpenAIFailure as failure:
                response = error_response(failure)
            except web.HTTPException as exc:
                message = f"Invalid URL ({request.method} {request.path})"
                if exc.status == 413:
                    message = "The request body is too large."
                response = error_response(OpenAIFailure(exc.status, message))
            status = response.status
            return response
        except asyncio.CancelledError:
            status = 499
            raise
        except ConnectionError:
            status = 499
            return error_response(OpenAIFailure(400, "Client disconnected"))
        except Exception:
            log.exception("openai emulator: unhandled error on %s %s", request.method, request.path)
            status = 500
            return error_response(
                OpenAIFailure(500, "The server had an error while processing your request.")
            )
        finally:
            self.stats.record(endpoint, status)

    async def _inject_faults(self, endpoint: str) -> None:
        fault = await self._faults.pick(endpoint)
        if fault is None:
            return
        if fault.status == 429:
            raise OpenAIFailure(
                429,
                "Rate limit reached for requests. Please try again later.",
                code="rate_limit_exceeded",
                headers=fault.headers,
            )
        if fault.status == 529:  # OpenAI's "overloaded" is a 503
            raise OpenAIFailure(
                503, "The server is overloaded or not ready yet.", headers=fault.headers
            )
        if fault.status == 504:
            raise OpenAIFailure(504, "Gateway timeout.")
        raise OpenAIFailure(
            500,
            "The server had an error while processing your request. Sorry about that!",
            headers=fault.headers,
        )

    def _authenticate(self, request: web.Request) -> str:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not key:
            raise OpenAIFailure(
                401,
                "You didn't provide an API key. You need to provide your API key in an"
                " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        allowed = self.config.api_keys
        if allowed is not None and key not in allowed:
            raise OpenAIFailure(401, "Incorrect API key provided.", code="invalid_api_key")
        return key

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        raw = await read_body(
            request, 32 << 20, lambda: OpenAIFailure(413, "The request body is too large.")
        )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise OpenAIFailure(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means you"
                " aren't using your HTTP library correctly.)",
            ) from None
        if not isinstance(body, dict):
            raise OpenAIFailure(400, "The request body must be a JSON object.")
        return body

    # --- files ---------------------------------------------------------------------------

    def _file(self, request: web.Request, file_id: str, param: str = "id") -> FileRecord:
        record = self.state.file(file_id, _project(request))
        if record is None or record.gone(self.now_us()):
            raise _no_file(file_id, param)
        return record

    @staticmethod
    def _render_file(record: FileRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "object": "file",
            "bytes": record.bytes,
            "created_at": _seconds(record.created_us),
            "expires_at": _seconds(record.expires_us),
            "filename": record.filename,
            "purpose": record.purpose,
            "status": "processed",
            "status_details": None,
        }

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/"):
            raise OpenAIFailure(400, "The request must be multipart/form-data.")
        await self._slow_uploads.hold(self.config.faults.upload_latency_s)
        if request.transport is None or request.transport.is_closing():
            raise ConnectionError("the client is gone: the upload is dropped")
        fields: dict[str, str] = {}
        content: bytes | None = None
        filename = ""
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):  # nested multipart: ignored
                continue
            if part.name == "file":
                filename = part.filename or "upload"
                buf = bytearray()
                while chunk := await part.read_chunk(1 << 20):
                    buf += chunk
                    if len(buf) > MAX_UPLOAD_BYTES:
                        raise OpenAIFailure(
                            413, f"File is too large; the limit is {MAX_UPLOAD_BYTES} bytes."
                        )
                content = bytes(buf)
            elif part.name:
                fields[part.name] = (await part.read()).decode("utf-8", "replace")
        if content is None:
            raise missing("file")
        purpose = fields.get("purpose")
        if not purpose:
            raise missing("purpose")
        if purpose not in PURPOSES:
            raise invalid_value("purpose", purpose, PURPOSES)
        if purpose == "batch" and not filename.endswith(".jsonl"):
            raise OpenAIFailure(
                400, "Invalid file format for Batch API. Must be .jsonl", param="file"
            )
        now = self.now_us()
        expires: int | None = now + FILE_TTL_US if purpose == "batch" else None
        if "expires_after[seconds]" in fields or "expires_after[anchor]" in fields:
            seconds = _expiry_seconds(
                fields.get("expires_after[anchor]"),
                fields.get("expires_after[seconds]"),
                "expires_after",
            )
            expires = now + seconds * US
        async with self._create_lock:
            seq = self.state.next_seq("oai_files")
            file_id = "file-" + base58(digest(self.config.seed, "file", seq, now), 22)
            record = self.state.add_file(
                file_id, now, filename, purpose, content, expires, _project(request)
            )
        return json_response(self._render_file(record))

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        limit = _parse_limit(q.get("limit"), default=10_000, maximum=10_000)
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            raise invalid_value("order", order, ("asc", "desc"))
        records, has_more = self.state.files(
            self.now_us(),
            limit=limit,
            after=q.get("after") or None,
            ascending=order == "asc",
            purpose=q.get("purpose") or None,
            project=_project(request),
        )
        return _list_response([self._render_file(r) for r in records], has_more)

    async def _retrieve_file(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._render_file(self._file(request, request.match_info["file_id"])))

    async def _delete_file(self, request: web.Request) -> web.StreamResponse:
        record = self._file(request, request.match_info["file_id"])
        self.state.delete_file(record)
        return json_response({"id": record.id, "object": "file", "deleted": True})

    async def _content(self, request: web.Request) -> web.StreamResponse:
        record = self._file(request, request.match_info["file_id"])
        window = self.config.faults.transient_404_s
        if (
            window > 0
            and record.purpose == "batch_output"
            and self.now_us() < record.created_us + int(window * US)
        ):  # a batch's output or error file, just written: as a batch just created
            raise _no_file(record.id)
        data = self.state.content(record)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/octet-stream"}
        )
        response.content_length = len(data)
        await response.prepare(request)
        cut = self.config.faults.cut_results_after_bytes
        if cut is not None and cut < len(data):
            await response.write(data[:cut])
            await abort(request)
            return response
        await response.write(data)
        await response.write_eof()
        return response

    # --- batches -------------------------------------------------------------------------

    def _settle(self, record: BatchRecord) -> BatchRecord:
        seed = self.config.seed
        ids = (
            "file-" + base58(digest(seed, "output", record.id), 22),
            "file-" + base58(digest(seed, "error", record.id), 22),
        )
        return self.state.settle(record, self.now_us(), ids)

    def _load(self, request: web.Request, batch_id: str) -> BatchRecord:
        record = self.state.batch(batch_id, _project(request))
        if record is None:
            raise _no_batch(batch_id)
        return self._settle(record)

    def _render(self, record: BatchRecord, *, fresh: bool = False) -> dict[str, Any]:
        now = self.now_us()
        status = "validating" if fresh else record.status(now)
        ended = record.ended_us
        total = completed = failed = 0
        if status not in ("validating", "failed") and not (
            record.cancel_us is not None and record.cancel_us < record.validated_us
        ):
            total = record.total
            if ended is not None:
                completed, failed = record.n_completed, record.n_failed
            elif self.config.counters == "live":
                completed, failed = self.state.live_counts(record, record.cutoff(now))
        validated = not fresh and now >= record.validated_us
        in_progress_at = None
        early_cancel = record.cancel_us is not None and record.cancel_us < record.validated_us
        if validated and record.errors is None and not early_cancel:
            in_progress_at = record.validated_us
        finalizing_at = None
        if status in ("finalizing", "completed"):
            finalizing_at = record.done_us
        errors = None
        if record.errors is not None and status == "failed":
            errors = {"object": "list", "data": orjson.loads(record.errors)}
        usage_in, usage_out, usage_cached = (
            (record.in_tokens, record.out_tokens, record.cached_tokens) if ended else (0, 0, 0)
        )
        return {
            "id": record.id,
            "object": "batch",
            "endpoint": record.endpoint,
            "model": record.model if validated else None,
            "errors": errors,
            "input_file_id": record.input_file_id,
            "completion_window": "24h",
            "status": status,
            "output_file_id": record.output_file_id,
            "error_file_id": record.error_file_id,
            "created_at": _seconds(record.created_us),
            "in_progress_at": _seconds(in_progress_at),
            "expires_at": _seconds(record.expires_us),
            "finalizing_at": _seconds(finalizing_at),
            "completed_at": _seconds(ended) if status == "completed" else None,
            "failed_at": _seconds(ended) if status == "failed" else None,
            "expired_at": _seconds(ended) if status == "expired" else None,
            "cancelling_at": _seconds(record.cancel_us),
            "cancelled_at": _seconds(ended) if status == "cancelled" else None,
            "request_counts": {"total": total, "completed": completed, "failed": failed},
            "usage": {
                "input_tokens": usage_in,
                "input_tokens_details": {"cached_tokens": usage_cached},
                "output_tokens": usage_out,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage_in + usage_out,
            },
            "metadata": orjson.loads(record.metadata) if record.metadata else None,
        }

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if body.get(name) is None:
                raise missing(name)
        endpoint = body["endpoint"]
        if endpoint not in BATCH_ENDPOINTS:
            raise invalid_value("endpoint", endpoint, BATCH_ENDPOINTS)
        if endpoint not in EMULATED_ENDPOINTS:
            raise OpenAIFailure(
                400,
                f"batchtop's emulator does not answer {endpoint} batches; it emulates "
                + ", ".join(EMULATED_ENDPOINTS)
                + ".",
                param="endpoint",
                code="unsupported_value",
            )
        if body["completion_window"] != "24h":
            raise invalid_value("completion_window", body["completion_window"], ("24h",))
        metadata = _check_metadata(body.get("metadata"))
        ttl_us = 30 * 86_400 * US
        expiry = body.get("output_expires_after")
        if expiry is not None:
            if not isinstance(expiry, dict):
                raise invalid_value("output_expires_after", expiry)
            ttl_us = (
                _expiry_seconds(expiry.get("anchor"), expiry.get("seconds"), "output_expires_after")
                * US
            )
        file_id = body["input_file_id"]
        if not isinstance(file_id, str):
            raise invalid_value("input_file_id", file_id)
        source = self._file(request, file_id, "input_file_id")
        if source.purpose != "batch":
            raise OpenAIFailure(
                400,
                f"The input file {file_id} must be uploaded with purpose 'batch'.",
                param="input_file_id",
            )
        content = self.state.content(source)
        cfg = self.config
        await self._slow_creates.hold(cfg.faults.create_latency_s)
        async with self._create_lock:
            seq = self.state.next_seq("oai_batches")
            now = self.now_us()
            batch_id = "batch_" + hex_id(cfg.seed, "batch", seq, now)
            new = await asyncio.to_thread(
                self._prepare, content, batch_id, now, endpoint, metadata, ttl_us, file_id
            )
            record = self.state.insert_batch(replace(new, project=_project(request)))
        return json_response(self._render(record, fresh=True))

    @property
    def held_uploads(self) -> int:
        """Uploads held by `upload_latency_s` now."""
        return self._slow_uploads.held

    @property
    def held_creates(self) -> int:
        """Creates held by `create_latency_s` now (their input file is uploaded)."""
        return self._slow_creates.held

    def release_slow_uploads(self) -> None:
        """Let every upload now held go on (on the server's loop)."""
        self._slow_uploads.release()

    def release_slow_creates(self) -> None:
        """Let every create now waiting out `create_latency_s` go on (on the server's loop)."""
        self._slow_creates.release()

    def _prepare(
        self,
        content: bytes,
        batch_id: str,
        now: int,
        endpoint: str,
        metadata: dict[str, str] | None,
        ttl_us: int,
        file_id: str,
    ) -> NewBatch:
        """Validate the input file and decide every request's fate (CPU work, off the loop)."""
        cfg = self.config
        validated = now + int(cfg.start_delay_s * US)
        lines, errors, model = check_file(content, endpoint, self.limits)
        rows: list[PendingRequest] = []
        done = validated
        if not errors:
            synth = Synthesizer(list(cfg.rules), cfg.seed, endpoint, batch_id)
            rate = cfg.rate if cfg.rate is not None and cfg.rate > 0 else None
            for idx, line in enumerate(lines):
                ready = validated
                if rate is not None:
                    ready += math.ceil((idx + 1) * US / rate)
                decided = synth.reply(line.custom_id, line.body, ready // US)
                ready += int(decided.delay_s * US)
                if decided.body is None:  # never processed: the batch runs out its window
                    rows.append(PendingRequest(line.custom_id, "unprocessed", None, 0, 0, None))
                    done = max(done, now + 86_400 * US + 1)
                    continue
                done = max(done, ready)
                out = orjson.dumps(
                    {
                        "id": "batch_req_" + hex_id("req", batch_id, line.custom_id),
                        "custom_id": line.custom_id,
                        "response": {
                            "status_code": decided.status_code,
                            "request_id": hex_id("request", batch_id, line.custom_id),
                            "body": decided.body,
                        },
                        "error": None,
                    }
                )
                rows.append(
                    PendingRequest(
                        line.custom_id,
                        decided.kind,
                        ready,
                        decided.input_tokens,
                        decided.output_tokens,
                        out,
                        decided.cached_tokens,
                    )
                )
            if cfg.shuffle_results:
                random.Random(f"{cfg.seed}:{batch_id}").shuffle(rows)
        return NewBatch(
            id=batch_id,
            created_us=now,
            input_file_id=file_id,
            endpoint=endpoint,
            metadata=metadata,
            model=model if not errors else None,
            validated_us=validated,
            errors=errors or None,
            done_us=done,
            final_us=done + int(cfg.finalize_delay_s * US),
            output_ttl_us=ttl_us,
            requests=rows,
        )

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        record = self._load(request, request.match_info["batch_id"])
        window = self.config.faults.transient_404_s
        if window > 0 and self.now_us() < record.created_us + int(window * US):
            raise _no_batch(record.id)
        return json_response(self._render(record))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        limit = _parse_limit(q.get("limit"), default=20, maximum=100)
        records, has_more = self.state.batches(limit, q.get("after") or None, _project(request))
        data = [self._render(self._settle(r)) for r in records]
        return _list_response(data, has_more)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        record = self._load(request, request.match_info["batch_id"])
        if record.ended_us is not None:
            raise OpenAIFailure(409, f"Cannot cancel a batch with status '{record.end_status}'.")
        if record.cancel_us is None:
            now = self.now_us()
            record = self.state.cancel(record, now, int(self.config.cancel_delay_s * US))
            record = self._settle(record)
        return json_response(self._render(record))

    # --- models --------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        data = [models.api_dict(m) for m in models.MODELS]
        return json_response({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["model_id"]
        info = models.lookup(name)
        if info is None:
            raise OpenAIFailure(
                404,
                f"The model '{name}' does not exist",
                param="model",
                code="model_not_found",
            )
        return json_response(models.api_dict(info))


def _project(request: web.Request) -> str:
    return str(request.get(_KEY_PROJECT, ""))


def _rid() -> str:
    return "req_" + random.getrandbits(128).to_bytes(16, "big").hex()


def _list_response(data: list[dict[str, Any]], has_more: bool) -> web.Response:
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


def _parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise OpenAIFailure(
            400, f"Invalid 'limit': expected an integer, but got '{raw}' instead.", param="limit"
        ) from None
    if not 1 <= limit <= maximum:
        raise OpenAIFailure(
            400,
            f"Invalid 'limit': expected a value between 1 and {maximum}, got {limit}.",
            param="limit",
            code="invalid_value",
        )
    return limit


def _check_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_value("metadata", value)
    if len(value) > METADATA_PAIRS:
        raise OpenAIFailure(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most"
            f" {METADATA_PAIRS} properties, but got an object with {len(value)} properties"
            " instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > METADATA_KEY:
            raise OpenAIFailure(
                400,
                f"Invalid 'metadata': key longer than {METADATA_KEY} characters.",
                param="metadata",
                code="string_above_max_length",
            )
        if not isinstance(item, str):
            raise OpenAIFailure(
                400,
                f"Invalid type for 'metadata.{key}': expected a string.",
                param=f"metadata.{key}",
                code="invalid_type",
            )
        if len(item) > METADATA_VALUE:
            raise OpenAIFailure(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum"
                f" length {METADATA_VALUE}, but got a string with length {len(item)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )
    return dict(value)


def _expiry_seconds(anchor: Any, seconds: Any, param: str) -> int:
    if anchor != "created_at":
        raise invalid_value(f"{param}.anchor", anchor, ("created_at",))
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        raise invalid_value(f"{param}.seconds", seconds) from None
    if not EXPIRY_MIN_S <= value <= EXPIRY_MAX_S:
        raise OpenAIFailure(
            400,
            f"Invalid '{param}.seconds': expected a value between {EXPIRY_MIN_S} and"
            f" {EXPIRY_MAX_S}, got {value}.",
            param=f"{param}.seconds",
            code="invalid_value",
        )
    return value

"""HTTP plumbing both emulators share: fault picking, bounded body reads, cut streams.

Nothing here knows a provider: each server turns a `Fault` into its own error envelope
(the Anthropic one answers 529 as `overloaded_error`, the OpenAI one as a 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .config import FaultConfig


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected failure: 429 (rate limited), 529 (overloaded) or 500, with the headers
    the SDKs' retry logic reads (`retry-after`, `x-should-retry`)."""

    status: int
    headers: dict[str, str]


class FaultPicker:
    """Draws the configured faults per request, seeded (a changed seed restarts the draw)."""

    def __init__(self, faults: FaultConfig) -> None:
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._rng_seed = faults.seed

    async def pick(self, endpoint: str | None = None) -> Fault | None:
        """Wait the configured latency, then the fault this request meets (None: none;
        always None for a route outside `fault_endpoints`, when they are named)."""
        faults = self._faults
        if faults.latency_s > 0:
            await asyncio.sleep(faults.latency_s)
        if faults.fault_endpoints and endpoint not in faults.fault_endpoints:
            return None
        if faults.seed != self._rng_seed:
            self._rng = random.Random(faults.seed)
            self._rng_seed = faults.seed
        total = faults.rate_429 + faults.rate_529 + faults.rate_500 + faults.rate_504
        if total <= 0:
            return None
        u = self._rng.random()
        retry_after = {"retry-after": seconds_text(faults.retry_after_s)}
        retry = {"x-should-retry": "true", **(retry_after if faults.retry_after_all else {})}
        if u < faults.rate_429:
            return Fault(429, {**retry, **retry_after})
        if u < faults.rate_429 + faults.rate_529:
            return Fault(529, retry)
        if u < faults.rate_429 + faults.rate_529 + faults.rate_500:
            return Fault(500, retry)
        if u < total:
            return Fault(504, {})
        return None


class SlowGate:
    """Holds requests for a while unless released first: creates for
    `FaultConfig.create_latency_s` (the request has arrived, the batch is made later),
    results streams for `results_latency_s`. Used on the server's loop only."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.held = 0  # requests waiting now (whole bodies received): what a test waits for

    def release(self) -> None:
        """Let every request now held go on."""
        self._event.set()
        self._event = asyncio.Event()

    async def hold(self, seconds: float) -> None:
        if seconds > 0:
            self.held += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), seconds)
            finally:
                self.held -= 1


def seconds_text(value: float) -> str:
    """A header's seconds: "2" for whole numbers, else the shortest decimal ("0.5")."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


async def read_body(request: web.Request, limit: int, too_large: Callable[[], Exception]) -> bytes:
    """The whole body, or `too_large()` raised once it passes `limit` (the rest is drained,
    not kept, so the client reads the answer instead of a reset)."""
    declared = request.content_length
    buf = bytearray()
    too_big = declared is not None and declared > limit
    drained = 0
    async for chunk in request.content.iter_chunked(1 << 20):
        if too_big:
            drained += len(chunk)
            if drained > limit + (64 << 20):
                break  # stop reading; the connection will be closed
            continue
        buf += chunk
        if len(buf) > limit:
            too_big = True
            buf.clear()
    if too_big:
        raise too_large()
    return bytes(buf)


async def abort(request: web.Request) -> None:
    """Close the connection mid-body: the client sees a truncated chunked stream."""
    transport = request.transport
    if transport is not None:
        transport.close()
    await asyncio.sleep(0)


async def serve(
    app: web.Application, host: str, port: int, sock: socket.socket | None
) -> tuple[web.AppRunner, str]:
    """Start `app` on host:port (or on `sock`, a bound socket whose URL a client was given
    before the server started): its runner and root URL (http://127.0.0.1:43123)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site: web.BaseSite = (
        web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
    )
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    return runner, f"http://{shown}:{bound_port}"

"""Run the emulator in a background thread (tests, the demo, benchmarks)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .clock import Clock, ManualClock, ScaledClock
from .config import EmulatorConfig, Rule
from .server import EmulatorServer
from .stats import EmulatorStats

if TYPE_CHECKING:
    from .openai_api.server import OpenAIServer

T = TypeVar("T")
Api = Literal["anthropic", "openai"]


class EmulatorHandle:
    """A running emulator: its URL, clock, config and counters, plus runtime knobs.

    `server` is the Anthropic `EmulatorServer` or, started with `api="openai"`, the
    `OpenAIServer` (whose `base_url` ends in /v1, as the openai SDK takes it)."""

    def __init__(
        self,
        server: EmulatorServer | OpenAIServer,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
    ) -> None:
        self.server = server
        self._loop = loop
        self._thread = thread

    def stop(self) -> None:
        """Stop the server and its thread (idempotent); the context exit also does this."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def clock(self) -> Clock:
        return self.server.clock

    @property
    def manual_clock(self) -> ManualClock:
        """The clock as a ManualClock (tests); raises if the server runs on real time."""
        clock = self.server.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("this emulator does not run on a ManualClock")
        return clock

    def advance(self, seconds: float) -> None:
        """Move a ManualClock forward."""
        self.manual_clock.advance(seconds)

    @property
    def config(self) -> EmulatorConfig:
        return self.server.config

    def betas(self, batch_id: str) -> tuple[str, ...]:
        """The anthropic-beta values sent when `batch_id` was created."""
        return self._anthropic().betas.get(batch_id, ())

    def _anthropic(self) -> EmulatorServer:
        if not isinstance(self.server, EmulatorServer):
            raise TypeError("this is the OpenAI emulator")
        return self.server

    @property
    def stats(self) -> EmulatorStats:
        return self.server.stats

    def set_faults(self, **changes: Any) -> None:
        """Change FaultConfig fields on the running server (e.g. rate_529=1.0)."""
        self.call(lambda: self.server.config.faults.update(**changes))

    def clear_faults(self) -> None:
        self.call(self._reset_faults)

    def _reset_faults(self) -> None:
        faults = self.server.config.faults
        faults.update(
            rate_429=0.0,
            rate_529=0.0,
            rate_500=0.0,
            rate_504=0.0,
            latency_s=0.0,
            create_latency_s=0.0,
            upload_latency_s=0.0,
            fault_endpoints=(),
            results_latency_s=0.0,
            transient_404_s=0.0,
            cut_results_after_bytes=None,
        )

    def set_rules(self, rules: list[Rule]) -> None:
        """Replace the outcome rules; they apply to batches created from now on."""
        new = list(rules)
        self.call(lambda: setattr(self.server.config, "rules", new))

    def seed_history(
        self, count: int, *, spacing_s: float = 1.0, active: frozenset[int] = frozenset()
    ) -> list[str]:
        """Add `count` older batches at once (see `EmulatorServer.seed_history`)."""
        server = self.server
        return self.call(lambda: server.seed_history(count, spacing_s=spacing_s, active=active))

    def retire(self, batch_id: str) -> bool:
        """Drop an ended batch's results now (see the server's `retire`); False when it is
        unknown or still running."""
        server = self.server
        return self.call(lambda: server.retire(batch_id))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop thread (where its SQLite connection lives)."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=60)


def make_server(
    config: EmulatorConfig, clock: Clock | None = None, api: Api = "anthropic"
) -> EmulatorServer | OpenAIServer:
    """The server for `api`, on `clock` (default: real time scaled by `config.time_scale`)."""
    clock = clock or ScaledClock(config.time_scale)
    if api == "openai":
        from .openai_api.server import OpenAIServer

        return OpenAIServer(config, clock)
    return EmulatorServer(config, clock)


@contextmanager
def run_in_thread(
    config: EmulatorConfig,
    clock: Clock | None = None,
    sock: socket.socket | None = None,
    *,
    api: Api = "anthropic",
) -> Iterator[EmulatorHandle]:
    """Start a server on its own event loop thread; stop it when the block exits.

    `sock`: a bound, listening socket to serve on (its URL may already be in use).
    `api`: which API to emulate, Anthropic's Message Batches or OpenAI's Files + Batches."""
    server = make_server(config, clock, api)
    loop = asyncio.new_event_loop()
    started: Future[str] = Future()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.set_result(loop.run_until_complete(server.start(sock)))
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=main, name="batchtop-emulator", daemon=True)
    thread.start()
    started.result(timeout=30)
    handle = EmulatorHandle(server, loop, thread)
    try:
        yield handle
    finally:
        handle.stop()

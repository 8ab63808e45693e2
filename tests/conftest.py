"""Shared fixtures: env isolation for every test, and a real emulator on a loopback port.

Other helpers may ADD fixtures here; keep the existing ones' names and behaviour.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from batchtop.core.service import BatchService
from service_support import OPENAI_STORE_FILE, STORE_FILE, ServiceFactory, new_service
from signals_support import handle_sigint_for_children

EMULATOR_START = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
EMULATOR_API_KEY = "test-key"
_XDG = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")


def pytest_configure(config: pytest.Config) -> None:
    """Subprocesses get the SIGINT tests send them, even when the suite runs in the
    background (see signals_support)."""
    handle_sigint_for_children()


def _xdg_dirs(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    for name in _XDG:
        target = root / name.removeprefix("XDG_").removesuffix("_HOME").lower()
        monkeypatch.setenv(name, str(target))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test ever sees a real API key, base URL or the user's data/config directories."""
    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("BATCHTOP_CONFIG", raising=False)
    _xdg_dirs(monkeypatch, tmp_path / "xdg")


@pytest.fixture(autouse=True)
def _builtin_model_catalog() -> Iterator[None]:
    """A service makes the live model catalogue current for the process; each test starts
    from the built-in one, as a fresh process does."""
    from batchtop.core import model_catalog

    model_catalog.set_current(None)
    yield
    model_catalog.set_current(None)


def emulator_config(**overrides: object) -> EmulatorConfig:
    """The standard test configuration (rate 100/s, live counters), with overrides."""
    config = EmulatorConfig(
        rate=100.0,
        start_delay_s=0.0,
        counters="live",
        seed=1234,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """A running emulator: random port, in memory, ManualClock at 2026-11-25T12:00Z."""
    with run_in_thread(emulator_config(), ManualClock(EMULATOR_START)) as handle:
        yield handle


@pytest.fixture
def openai_emulator() -> Iterator[EmulatorHandle]:
    """A running OpenAI emulator (Files + Batches): random port, in memory, ManualClock at
    2026-11-25T12:00Z. Its `base_url` ends in /v1: pass it to `openai.OpenAI(base_url=...)`."""
    config = emulator_config()
    with run_in_thread(config, ManualClock(EMULATOR_START), api="openai") as handle:
        yield handle


@pytest.fixture
def emulator_env(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> EmulatorHandle:
    """Point the SDK (and batchtop) at the emulator through the environment."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", EMULATOR_API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    _xdg_dirs(monkeypatch, tmp_path / "xdg")
    return emulator


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., EmulatorHandle]]:
    """Start extra emulators: `emulator_factory(rate=None, counters="at-end", ...)`.

    Keyword arguments override the standard test config (EmulatorConfig fields); `clock=`
    passes a clock (default: a fresh ManualClock at 2026-11-25T12:00Z); `api="openai"` starts
    the OpenAI emulator. All are stopped at the end of the test.
    """
    with ExitStack() as stack:

        def start(
            clock: object = None, api: str = "anthropic", **overrides: object
        ) -> EmulatorHandle:
            config = emulator_config(**overrides)
            the_clock = clock if clock is not None else ManualClock(EMULATOR_START)
            return stack.enter_context(run_in_thread(config, the_clock, api=api))  # type: ignore[arg-type]

        yield start


@asynccontextmanager
async def _services(
    emulator: EmulatorHandle, default_home: Path, store_file: str, provider: str
) -> AsyncIterator[ServiceFactory]:
    made: list[BatchService] = []

    def make(
        *,
        home: Path | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **settings: object,
    ) -> BatchService:
        path = (home or default_home) / store_file
        service = new_service(emulator, path, sleep=sleep, provider=provider, **settings)
        made.append(service)
        return service

    try:
        yield make
    finally:
        for service in reversed(made):
            await service.close()


@pytest.fixture
async def make_service(emulator: EmulatorHandle, tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Services on the emulator, each with its store in `home` (default: the test's
    tmp_path), all closed after the test: `service = make_service(max_retries=2)`."""
    async with _services(emulator, tmp_path, STORE_FILE, "anthropic") as make:
        yield make


@pytest.fixture
async def make_openai_service(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> AsyncIterator[ServiceFactory]:
    """`make_service` for OpenAI: services on the OpenAI emulator through the official
    `openai` SDK, each with its store in `home` (`openai.sqlite3`), closed after the test."""
    async with _services(openai_emulator, tmp_path, OPENAI_STORE_FILE, "openai") as make:
        yield make

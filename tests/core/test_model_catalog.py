"""The model catalogue: fetched from GET /v1/models (the emulator, through the official SDK),
cached in the store, refreshed daily; checks before submit read it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from batchtop.core import model_catalog
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import UserError
from batchtop.core.models import ImportOptions
from service_support import STORE_FILE, ServiceFactory, new_service


def _line(custom_id: str, model: str, max_tokens: int = 100) -> str:
    params = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "hi"}],
    }
    return json.dumps({"custom_id": custom_id, "params": params})


async def test_retired_refused_deprecated_warned_limits_checked_with_their_lines(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text(
        "\n".join(
            [
                _line("ok", "claude-haiku-5-5"),
                _line("retired", "claude-sonnet-4-5"),
                _line("deprecated", "claude-opus-4-5"),
                _line("too-long", "claude-haiku-4-5", 100_000),
                _line("unknown", "claude-nope-1"),
            ]
        )
        + "\n"
    )
    service = make_service()
    await service.model_catalog()  # (analyse waits for it only briefly)
    report = await service.analyse(source, ImportOptions(format="jsonl"))
    found = {(i.line, i.severity, i.message) for i in report.issues}
    assert (
        2,
        "error",
        "Model 'claude-sonnet-4-5' is retired: the API refuses requests to it.",
    ) in found
    assert (
        3,
        "warning",
        "Model 'claude-opus-4-5' is deprecated and retires on 2027-01-22; choose a current model.",
    ) in found
    assert (
        4,
        "error",
        "max_tokens 100,000 is above 64,000, the maximum output of claude-haiku-4-5.",
    ) in found
    # the live catalogue is known: a model the API does not list is an error
    assert (5, "error", "Model 'claude-nope-1' is not in the API's list of models.") in found
    with pytest.raises(UserError):
        await service.submit(report)
    assert emulator.stats.count("create") == 0


async def test_catalogue_is_cached_in_the_store_and_refreshed_daily(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = new_service(emulator, tmp_path / STORE_FILE)
    try:
        catalog = await service.model_catalog()
        assert catalog.fetched_at is not None
        assert catalog.source == "the Models API"
        assert catalog.lookup("claude-sonnet-4-5") is not None  # retired ones are fetched too
        assert "claude-sonnet-4-5-20250929" not in await service.models()
        calls = service.api_calls
    finally:
        await service.close()
    model_catalog.set_current(None)
    again = new_service(
        emulator, tmp_path / STORE_FILE
    )  # same store: the cache is read, nothing fetched
    try:
        cached = await again.model_catalog()
        assert cached.fetched_at == catalog.fetched_at
        assert again.api_calls == 0
        emulator.advance(timedelta(days=1).total_seconds())
        fresh = await again.model_catalog()
        assert again.api_calls == 1
        assert fresh.fetched_at != catalog.fetched_at
    finally:
        await again.close()
    assert calls == 1


async def test_default_model_is_the_cheapest_current_one_unless_configured(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = new_service(emulator, tmp_path / STORE_FILE)
    try:
        await service.model_catalog()
        assert service.settings.resolved_default_model == "claude-haiku-5-5"
    finally:
        await service.close()
    configured = make_service(home=tmp_path / "b", default_model="claude-opus-5-5")
    assert configured.settings.resolved_default_model == "claude-opus-5-5"

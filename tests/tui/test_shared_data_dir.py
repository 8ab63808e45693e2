"""Two batchtop processes on one data directory: a running dashboard (the real `run_app`,
headless, against both emulators) learns at its next refresh of what another `batchtop`
process stored there — a batch it submitted, the batch's job, a label it set, a deletion —
though the API describes those batches exactly as the other process stored them (so the
dashboard's own refresh changes nothing in the store)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.tui import app as app_module
from batchtop.tui.app import BatchtopApp
from cli_support import run
from textual.pilot import Pilot
from waiting import async_wait

pytest.importorskip("openai")

MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-4o-mini"}
LIMIT_S = 90.0  # how long a failure takes to show on a loaded machine, not a timing


def test_a_refresh_shows_what_another_process_stored(
    monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorHandle,
    openai_emulator: EmulatorHandle,
    tmp_path: Path,
) -> None:
    for name, value in {
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": emulator.base_url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": openai_emulator.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    env = dict(os.environ)  # the same data directory (XDG, per test) for both processes
    (tmp_path / "prompts.txt").write_text("Name a colour.\nName a fruit.\n")

    def other(*args: str) -> subprocess.CompletedProcess[str]:
        proc = run(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc

    checked: list[str] = []

    async def headless(self: BatchtopApp, **kw: Any) -> int | None:
        async def look(pilot: Pilot[Any]) -> None:
            dashboard = self.dashboard
            # Both providers' first refreshes done and their workspaces known: each has
            # switched to its workspace's store, which the other process then opens (a
            # process started while a first-start store is being moved into its workspace
            # can fail to open it, with a one-line error: not what this test is about).
            await async_wait(
                lambda: (
                    dashboard.status.state.last_at is not None
                    and self.fleet.api_calls >= 2
                    and all(s.scope().named for s in self.fleet.services)
                ),
                LIMIT_S,
                what="the first refresh of both providers",
            )

            async def refreshed(cond: Any, what: str) -> None:
                await pilot.press("r")
                await async_wait(cond, LIMIT_S, what=what)

            ids: dict[str, str] = {}
            for provider, model in MODELS.items():
                proc = await asyncio.to_thread(
                    other, "submit", "--provider", provider, "prompts.txt", "--model", model,
                    "--yes", "--json",
                )  # fmt: skip
                (batch_id,) = json.loads(proc.stdout)["batch_ids"]
                ids[provider] = batch_id
                await refreshed(
                    lambda b=batch_id: b in dashboard._batches and b in dashboard.table.keys,
                    f"the {provider} batch another process submitted",
                )
                job_id = dashboard._batches[batch_id].job_id
                assert job_id is not None
                assert job_id in dashboard._jobs
                checked.append(f"{provider} submitted")

                await asyncio.to_thread(other, "label", batch_id, f"{provider} from elsewhere")
                await refreshed(
                    lambda b=batch_id, p=provider: (
                        dashboard._batches[b].label == f"{p} from elsewhere"
                    ),
                    f"the label another process set on the {provider} batch",
                )
                checked.append(f"{provider} labelled")

            emulator.advance(3600)  # the Anthropic batch ends; another process deletes it
            gone = ids["anthropic"]
            await asyncio.to_thread(other, "delete", gone, "--yes")
            await refreshed(
                lambda: gone not in dashboard._batches and gone not in dashboard.table.keys,
                "the deletion another process made",
            )
            checked.append("anthropic deleted")
            self.exit(0)

        return await run_async(self, headless=True, size=(120, 40), auto_pilot=look)

    run_async = BatchtopApp.run_async
    monkeypatch.setattr(BatchtopApp, "run_async", headless)
    assert app_module.run_app() == 0
    assert checked == [
        "anthropic submitted",
        "anthropic labelled",
        "openai submitted",
        "openai labelled",
        "anthropic deleted",
    ]

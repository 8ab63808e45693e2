"""A create the server holds past the client's timeout never becomes a second batch.

Real `batchtop submit` processes (a 5 s `request_timeout_s`) against each emulator, whose
`create_latency_s` gate holds the create (its body has arrived; the batch is made when the
gate lets it go), with later creates going through at once: a part sent again would make
its batch straight away. The submit looks for the batch, finds none yet, does not send the
part again and exits 1 saying the part is unresolved and until when it is looked for. Once
the held create makes its batch, `reconcile` records it (OpenAI: its submission id proves
it; Message Batches: the one look-alike holding the file's own ids, `reconcile --adopt`), a
submit of the same file sends nothing, and the server holds exactly one batch of the part.
(Before: the submit sent the part again after two short look-ups and exited 0; the held
create then made a second batch of the same requests.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from data_factory import openai_chat, request
from reliability_support import CliHome, server_custom_ids
from waiting import wait_until

COUNT = 4


def _requests(openai: bool) -> Iterator[dict[str, Any]]:
    line = openai_chat if openai else request
    for i in range(COUNT):
        yield line(f"held-{i:03d}", f"held create {i}")


@pytest.fixture(params=["anthropic", "openai"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(provider: str) -> Iterator[EmulatorHandle]:
    """Either API's emulator, its clock starting at the real time (the CLI's)."""
    live = {"counters": "live"} if provider == "openai" else {}
    config = EmulatorConfig(rate=None, start_delay_s=0.0, seed=23, **live)  # type: ignore[arg-type]
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with run_in_thread(config, clock, api=provider) as handle:  # type: ignore[arg-type]
        yield handle


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.timeout(600)
def test_a_create_held_past_the_client_timeout_makes_one_batch(
    provider: str, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    openai = provider == "openai"
    home = CliHome(
        tmp_path, emulator, _requests(openai), openai=openai, settings="request_timeout_s = 5\n"
    )
    assert home.cli("ls").returncode == 0  # its store bound to the workspace
    emulator.set_faults(create_latency_s=3600)
    proc = home.submit()
    held = lambda: emulator.call(lambda: emulator.server.held_creates) == 1  # noqa: E731
    wait_until(lambda: held() or proc.poll() is not None, 120, "the create held at the server")
    assert proc.poll() is None, proc.communicate()
    emulator.set_faults(create_latency_s=0)  # a part sent again would be created at once

    _out, err = proc.communicate(timeout=180)
    said = one_line(err)
    assert proc.returncode == 1, said
    assert "Timed out waiting for" in said, said
    assert "may still make its batch (none is listed yet), so the part is not sent again" in said
    assert re.search(r"if none has by \d\d:\d\d UTC", said), said
    assert "`batchtop reconcile --abandon` closes it now" in said, said
    assert emulator.stats.arrivals("create") == 1
    assert emulator.stats.count("list") >= 1  # it looked for the batch
    assert home.query("SELECT part, state FROM intents") == [(1, "pending")]

    emulator.call(emulator.server.release_slow_creates)  # the server makes the batch now
    wait_until(lambda: len(server_custom_ids(emulator)) == 1, 120, "the held create's batch")
    rec = home.cli("reconcile", "--json")
    entries = [e for e in json.loads(rec.stdout) if "part" in e]
    if provider == "anthropic":  # the file's own ids: only the user can say it is theirs
        (entry,) = entries
        assert entry["state"] == "unknown", entry
        rec = home.cli("reconcile", "--adopt", entry["candidates"][0], "--json")
    assert rec.returncode == 0, rec.stderr[-2000:]
    assert home.query("SELECT part, state FROM intents") == [(1, "reconciled")]

    again = home.cli("submit", "input.jsonl", "--yes")
    assert again.returncode == 1  # already submitted: sending it again bills it twice
    assert "already submitted" in one_line(again.stderr), again.stderr[-2000:]
    assert emulator.stats.arrivals("create") == 1
    (batch_id,) = server_custom_ids(emulator)  # exactly one batch: the part's
    assert home.query("SELECT batch_id FROM intents") == [(batch_id,)]

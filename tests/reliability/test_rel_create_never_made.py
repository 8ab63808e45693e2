"""A part whose create provably never happened is "not sent" at once, not blocked for
30 minutes; where nothing can be proven the user is told until when and how to override.
Real `batchtop` processes against the emulators (kill -9, SIGSTOP, injected 500s).

- OpenAI, kill -9 while the part's upload is held at the server (the emulator drops it: no
  file, no batch): while the process is only stopped (SIGSTOP: it could still send the
  create) the part stays unresolved; once it is killed, `reconcile` closes it as not sent
  (exit 0) and the same submit sends it.
- OpenAI, the upload answered 500: no create was sent, the part fails at once; every batch
  create answered 500 (twice): the list shows no batch carrying its submission id, the part
  fails as not created. Either way the same submit then goes ahead (no reconcile, no wait),
  and the message reads as one sentence ("Sorry about that!", never "!.").
- Message Batches (nothing tags a batch as batchtop's): kill -9 while the create is held at
  the server; the part is unresolved until a time said, with `reconcile --abandon` named;
  `--abandon` leaves a part whose submit is still running (stopped) alone and closes it once
  that process is gone; the same submit then sends it.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from data_factory import openai_chat, request
from reliability_support import (
    CliHome,
    realtime_openai_emulator,
    server_custom_ids,
    server_input_files,
)
from waiting import wait_until

PART = 2
PARTS = 2


def _requests(prefix: str, openai: bool) -> Iterator[dict[str, Any]]:
    line = openai_chat if openai else partial(request, max_tokens=8)
    for i in range(PART * PARTS):
        yield line(f"{prefix}-{i:03d}", f"never made {i}")


class Home(CliHome):
    """One data directory submitting a 2-part file (`p-000` … `p-003`) to one emulator."""

    def __init__(self, tmp: Path, emulator: EmulatorHandle, *, openai: bool) -> None:
        settings = f"max_requests_per_batch = {PART}\n"
        super().__init__(tmp, emulator, _requests("p", openai), openai=openai, settings=settings)

    def intents(self) -> list[tuple[Any, ...]]:
        return self.query("SELECT part, state FROM intents ORDER BY id")


def parts_on_server(emulator: EmulatorHandle) -> dict[int, int]:
    """Each part (by its custom_ids) → how many batches on the server hold it."""
    out: dict[int, int] = {}
    for cids in server_custom_ids(emulator).values():
        (part,) = {int(c.split("-")[1]) // PART + 1 for c in cids}
        out[part] = out.get(part, 0) + 1
    return out


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def openai_emulator() -> Iterator[EmulatorHandle]:
    with realtime_openai_emulator(seed=77) as handle:
        yield handle


def test_openai_kill_mid_upload_is_not_sent_once_the_process_is_gone(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator = openai_emulator
    home = Home(tmp_path, emulator, openai=True)
    emulator.set_faults(upload_latency_s=3600)  # the first upload waits at the server
    proc = home.submit()
    held = lambda: emulator.call(lambda: emulator.server.held_uploads) == 1  # noqa: E731
    wait_until(lambda: held() or proc.poll() is not None, 120, "the upload held at the server")
    assert proc.poll() is None, proc.communicate()
    emulator.set_faults(upload_latency_s=0)

    # Stopped, not dead: it could still send the create once its upload is answered.
    proc.send_signal(signal.SIGSTOP)
    try:
        stopped = home.cli("reconcile", "--json")
        assert stopped.returncode == 1, stopped.stderr[-2000:]
        assert home.intents() == [(1, "pending")]
        abandon = home.cli("reconcile", "--abandon", "--json")
        assert abandon.returncode == 1, abandon.stderr[-2000:]
        assert home.intents() == [(1, "pending")]
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    rec = home.cli("reconcile")
    assert rec.returncode == 0, (rec.stdout[-2000:], rec.stderr[-2000:])
    said = one_line(rec.stdout)
    assert re.search(r"job \S+ part 1: not sent: the API holds neither", said), said
    assert home.intents() == [(1, "failed")]
    assert server_custom_ids(emulator) == {}

    again = home.cli("submit", "input.jsonl", "--yes", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(json.loads(again.stdout)["batch_ids"]) == PARTS
    assert parts_on_server(emulator) == {1: 1, 2: 1}
    # the held upload, let go now that its client is gone, stores nothing
    emulator.call(emulator.server.release_slow_uploads)
    wait_until(lambda: emulator.stats.count("file_upload") >= PARTS + 1, 30, "the dropped upload")
    assert len(server_input_files(emulator)) == PARTS


@pytest.mark.parametrize("route", ["file_upload", "create"])
def test_openai_500_on_create_fails_the_part_and_a_resubmit_goes_ahead(
    route: str, openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator = openai_emulator
    home = Home(tmp_path, emulator, openai=True)
    emulator.set_faults(rate_500=1.0, fault_endpoints=(route,))
    first = home.cli("submit", "input.jsonl", "--yes")
    assert first.returncode != 0
    said = one_line(first.stdout + first.stderr)
    assert "Sorry about that!" in said, said
    assert "!." not in said, said
    if route == "file_upload":
        assert "No batch was created" in said, said
        assert emulator.stats.arrivals("create") == 0
    else:
        assert "it was not created, and a submit of the same file sends it" in said, said
    assert "may or may not" not in said
    assert {state for _part, state in home.intents()} == {"failed"}
    print(f"\n500 on {route}: {said}")

    emulator.clear_faults()
    again = home.cli("submit", "input.jsonl", "--yes", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert parts_on_server(emulator) == {1: 1, 2: 1}


def test_anthropic_unprovable_part_says_until_when_and_abandon_closes_it(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None)
    home = Home(tmp_path, emulator, openai=False)
    assert home.cli("ls").returncode == 0  # its store bound to the workspace
    emulator.set_faults(create_latency_s=3600)  # the create arrives, the batch comes later
    proc = home.submit()
    wait_until(
        lambda: emulator.server.held_creates == 1 or proc.poll() is not None,
        120,
        "the create held at the server",
    )
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGSTOP)
    try:
        kept = home.cli("reconcile", "--abandon")
        assert kept.returncode == 1, kept.stderr[-2000:]  # its submit could still go on
        assert home.intents() == [(1, "pending")]
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    emulator.set_faults(create_latency_s=0)  # the held one stays held

    refused = home.cli("submit", "input.jsonl", "--yes")
    assert refused.returncode == 1  # part 2 sent, part 1 not
    said = one_line(refused.stdout + refused.stderr)
    assert re.search(r"if none has by \d\d:\d\d UTC", said), said
    assert "`batchtop reconcile --abandon` closes it now" in said, said
    rec = home.cli("reconcile")
    assert rec.returncode == 1
    said = one_line(rec.stdout)
    assert re.search(r"a batch may still appear until \d\d:\d\d UTC", said), said
    assert "`batchtop reconcile --abandon` closes it now" in said, said

    closed = home.cli("reconcile", "--abandon")
    assert closed.returncode == 0, (closed.stdout[-2000:], closed.stderr[-2000:])
    assert "part 1: not sent: abandoned as asked" in one_line(closed.stdout)
    assert [state for part, state in home.intents() if part == 1] == ["failed"]
    again = home.cli("submit", "input.jsonl", "--yes", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert parts_on_server(emulator) == {1: 1, 2: 1}

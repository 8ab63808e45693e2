"""Reconcile never adopts another client's batch that merely looks like an open part's.

Real `batchtop` processes against the emulators: a submit is killed (kill -9) while its create
is held at the server (the emulator's `create_latency_s` gate: the create never happens), then
another client on the same workspace, with another key and through the official SDK, creates
a batch of the same custom_ids (user-named, as a user's own file names them) with other
prompts. Once that batch has ended, `batchtop reconcile` must not take it for the part's.

- OpenAI: batchtop uploaded its input file (`batchtop-<submission>.jsonl`) and the create never
  happened; the other client uploads its own file and creates an untagged batch. A batch is
  the part's only when it carries batchtop's submission id or was made from the input file
  batchtop uploaded for it.
- Message Batches (nothing on a batch says whose it is): the custom_ids prove a batch ours
  only when batchtop numbered them with this data directory's tag, or the create's end is
  known (a window of seconds). With ids the user named and the answer lost, the one ended
  look-alike is reported "unknown: not adopted" with both ways out: `reconcile --adopt ID`
  (the user knows it is theirs) records it, `reconcile --abandon` closes the part.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle, ManualClock
from data_factory import openai_chat, request, write_jsonl
from reliability_support import CliHome, realtime_openai_emulator
from waiting import wait_until

COUNT = 6


class Home(CliHome):
    """One data directory submitting a one-part file of user-named ids `a0` … `a5`."""

    def __init__(self, tmp: Path, emulator: EmulatorHandle, *, openai: bool) -> None:
        line = openai_chat if openai else partial(request, max_tokens=16)
        lines = [line(f"a{i}", f"topic number {i} " * 20) for i in range(COUNT)]
        super().__init__(tmp, emulator, lines, openai=openai, input="f.jsonl")

    def intents(self) -> list[tuple[Any, ...]]:
        return self.query("SELECT part, state, batch_id FROM intents ORDER BY id")

    def kill_with_create_held(self, emulator: EmulatorHandle) -> None:
        """Submit, and kill -9 it while its create is held at the server (never made)."""
        emulator.set_faults(create_latency_s=3600)
        proc = self.submit()
        wait_until(
            lambda: (
                emulator.call(lambda: emulator.server.held_creates) == 1 or proc.poll() is not None
            ),
            120,
            "the create held at the server",
        )
        assert proc.poll() is None, proc.communicate()
        proc.kill()
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        emulator.set_faults(create_latency_s=0)  # the held create stays held
        assert [state for _part, state, _bid in self.intents()] == ["pending"]


@pytest.fixture
def openai_emulator() -> Iterator[EmulatorHandle]:
    with realtime_openai_emulator(seed=91) as handle:
        yield handle


def test_openai_untagged_batch_of_another_input_file_is_never_adopted(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    openai = pytest.importorskip("openai")
    emulator = openai_emulator
    home = Home(tmp_path, emulator, openai=True)
    home.kill_with_create_held(emulator)

    other = openai.OpenAI(api_key="another-key", base_url=emulator.base_url, max_retries=0)
    mine = tmp_path / "mine.jsonl"
    write_jsonl(mine, [openai_chat(f"a{i}", f"foreign {i}") for i in range(COUNT)])
    with mine.open("rb") as fh:
        uploaded = other.files.create(file=("mine.jsonl", fh), purpose="batch")
    foreign = other.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    emulator.advance(60)
    wait_until(
        lambda: other.batches.retrieve(foreign.id).status == "completed", 60, "its batch ended"
    )

    rec = home.cli("reconcile", "--json")
    assert "Traceback" not in rec.stderr
    entries = json.loads(rec.stdout)
    assert not [e for e in entries if e.get("batch_id") == foreign.id], entries
    assert [(state, bid) for _part, state, bid in home.intents()] == [("pending", None)]
    adopted = home.query(f"SELECT job_id FROM batch_local WHERE batch_id = '{foreign.id}'")
    assert adopted in ([], [(None,)]), adopted
    # batchtop's own upload, which no batch uses, is reported as such
    files = [e for e in entries if e.get("file_id")]
    assert [f["filename"].startswith("batchtop-") for f in files] == [True], entries


def _foreign_anthropic(emulator: EmulatorHandle) -> str:
    """Another client (another key) creates a batch of the same custom_ids, other prompts,
    and lets it end."""
    anthropic = pytest.importorskip("anthropic")
    other = anthropic.Anthropic(api_key="another-key", base_url=emulator.base_url, max_retries=0)
    requests: Any = [
        {
            "custom_id": f"a{i}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"foreign {i}"}],
            },
        }
        for i in range(COUNT)
    ]
    batch = other.messages.batches.create(requests=requests)
    emulator.advance(3600)
    wait_until(
        lambda: other.messages.batches.retrieve(batch.id).processing_status == "ended",
        60,
        "its batch ended",
    )
    return str(batch.id)


@pytest.mark.parametrize("way_out", ["adopt", "abandon"])
def test_anthropic_lookalike_of_user_named_ids_is_not_adopted_without_the_user(
    way_out: str, emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    emulator = emulator_factory(rate=None, clock=clock)
    home = Home(tmp_path, emulator, openai=False)
    assert home.cli("ls").returncode == 0  # its store bound to the workspace
    home.kill_with_create_held(emulator)
    foreign = _foreign_anthropic(emulator)

    rec = home.cli("reconcile")
    assert rec.returncode == 1, (rec.stdout[-2000:], rec.stderr[-2000:])
    said = " ".join(rec.stdout.split())
    assert "reconciled" not in said, said
    assert f"unknown: not adopted: {foreign} holds exactly this part's custom_ids" in said, said
    assert f"`batchtop reconcile --adopt {foreign}` records it" in said, said
    assert "`batchtop reconcile --abandon` closes the part" in said, said
    assert [(state, bid) for _part, state, bid in home.intents()] == [("pending", None)]

    if way_out == "adopt":
        took = home.cli("reconcile", "--adopt", foreign)
        assert took.returncode == 0, (took.stdout[-2000:], took.stderr[-2000:])
        assert [(state, bid) for _p, state, bid in home.intents()] == [("reconciled", foreign)]
        # adopted wrongly: its results report far fewer input tokens than the part's requests
        # come to, and `results` says so before pairing the inputs with those outputs
        out = home.cli("results", foreign, "--format", "csv", "--out", "-")
        assert out.returncode == 0, out.stderr[-2000:]
        warned = " ".join(out.stderr.split())
        assert f"warning: The results of {foreign} may not be this part's" in warned, warned
    else:
        closed = home.cli("reconcile", "--abandon")
        assert closed.returncode == 0, (closed.stdout[-2000:], closed.stderr[-2000:])
        assert "part 1: abandoned as asked" in " ".join(closed.stdout.split()).lower()
        assert [state for _p, state, _bid in home.intents()] == ["failed"]
        again = home.cli("submit", "f.jsonl", "--yes", "--json")
        assert again.returncode == 0, again.stderr[-2000:]


def test_adopt_of_a_batch_no_part_looks_like_is_refused(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None)
    home = Home(tmp_path, emulator, openai=False)
    took = home.cli("reconcile", "--adopt", "msgbatch_nothing")
    assert took.returncode == 1
    assert "is not a look-alike of any unresolved part" in took.stderr
    assert "Traceback" not in took.stderr

"""`reconcile`'s words: counts agree with their nouns, a part that was not sent is said in
one sentence (core's `SubmitNotice`), for both front ends."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import IntentState, Job, JobProgress, SubmitIntent, SubmitNotice
from batchtop.core.submit import ABANDONED, NOT_SENT
from test_cli import run


def test_a_job_whose_one_part_was_refused(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    emulator_env.config.max_body_bytes = 2000  # the API refuses the part
    params = {"model": "claude-haiku-4-5", "max_tokens": 8}
    params["messages"] = [{"role": "user", "content": "long " + "x" * 3000}]
    (tmp_path / "in.jsonl").write_text(json.dumps({"custom_id": "r", "params": params}) + "\n")
    sent = run("submit", "in.jsonl", "--yes", cwd=tmp_path)
    assert sent.returncode == 1, sent.stderr
    proc = run("reconcile", cwd=tmp_path)
    said = " ".join(proc.stdout.split())
    assert "partly submitted: its one part not created; part 1 not sent" in said, said
    assert "1 parts" not in said


def _intent(error: str) -> SubmitIntent:
    now = datetime.now(UTC)
    return SubmitIntent(
        id=1,
        job_id="job_x",
        part=2,
        request_count=1,
        content_hash="h",
        created_at=now,
        state=IntentState.FAILED,
        error=error,
    )


def test_a_part_not_sent_is_one_sentence() -> None:
    for error in (NOT_SENT, ABANDONED):
        text = SubmitNotice(_intent(error)).text
        assert re.match(r"job job_x part 2: not sent: [a-z]", text), text
        assert text.count("ot sent") == 1, text
        assert text.endswith("a submit of the same file sends it."), text
    assert "API" in SubmitNotice(_intent("API down.")).text  # an acronym stays


def test_counts_of_parts_agree() -> None:
    job = Job(id="job_x", name="n", created_at=datetime.now(UTC))
    texts = [
        JobProgress(job, n, created, (), ()).created_text
        for n, created in ((1, ()), (3, ()), (3, (1,)))
    ]
    assert texts == [
        "its one part not created",
        "none of its 3 parts created",
        "part 1 of 3 created",
    ]


def test_an_id_to_adopt_is_read_without_the_spaces_around_it(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    """Pasted with spaces or a line end it is the same id (as `show` reads one); blank, it
    is a one-line error, not a plain reconcile."""
    padded = run("reconcile", "--adopt", "  msgbatch_nope \n", cwd=tmp_path)
    assert padded.returncode == 1
    assert "error: msgbatch_nope is not a look-alike" in padded.stderr, padded.stderr
    for blank in ("", " "):
        proc = run("reconcile", "--adopt", blank, cwd=tmp_path)
        assert proc.returncode == 1
        assert proc.stderr.strip().endswith("named as a part's look-alike."), proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr

"""`cancel`, `delete` and `label` take a job id, as the README says: every batch of the job
the action applies to, after a confirmation naming how many (it said "The API does not
know batch job_…" / "No batch job_… is known locally")."""

from __future__ import annotations

import json
import re
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from cli_support import config_env, run


def test_a_job_id_acts_on_each_of_its_batches(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    emulator_env.config.rate = 0.001  # in progress until canceled
    env = config_env(tmp_path, "max_requests_per_batch = 2\n")
    (tmp_path / "p.txt").write_text("a\nb\nc\nd\n")
    sent = run("submit", "p.txt", "--yes", "--json", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    job, ids = json.loads(sent.stdout)["job_id"], json.loads(sent.stdout)["batch_ids"]
    assert len(ids) == 2

    proc = run("label", job, "nightly", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"{job}: label set on 2 batches" in proc.stderr
    rows = json.loads(run("ls", "--offline", "--json", cwd=tmp_path, env=env).stdout)
    assert {r["id"]: r["label"] for r in rows} == dict.fromkeys(ids, "nightly")

    proc = run("delete", job, cwd=tmp_path, env=env)  # still running: nothing to delete
    assert proc.returncode == 1
    assert "None of the 2 batches of job" in proc.stderr, proc.stderr
    assert "cancel it first" in proc.stderr

    proc = run("cancel", job, cwd=tmp_path, env=env)  # no terminal, no --yes: asked, refused
    assert proc.returncode == 1
    assert f"Cancel 2 batches of job {job}?" in proc.stderr, proc.stderr
    proc = run("cancel", job, "--yes", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"msgbatch_\w+: canceling", proc.stderr)) == 2, proc.stderr

    emulator_env.advance(600)
    proc = run("delete", job, "--yes", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"id": bid, "deleted": True} for bid in ids]

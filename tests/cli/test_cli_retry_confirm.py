"""`retry` as `submit`: above `confirm_submit_above_usd` it resends only with `--yes` (or a
yes on the terminal), core's one rule (`CostEstimate.above_limit`); and "Nothing to retry"
names the refusals and max_tokens cuts a retry resends when asked."""

from __future__ import annotations

import json
import re
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle, Rule
from cli_support import config_env, run


def test_retry_confirms_its_cost_and_names_what_it_could_resend(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    env = config_env(tmp_path, "confirm_submit_above_usd = 0.0000001\n")
    (tmp_path / "p.txt").write_text("".join(f"prompt {i}\n" for i in range(1, 6)))
    emulator_env.set_rules(
        [Rule(pattern="[12]$", stop_reason="refusal"), Rule(pattern="3$", stop_reason="max_tokens")]
    )
    sent = run("submit", "p.txt", "--max-tokens", "100", "--yes", "--json", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    (bid,) = json.loads(sent.stdout)["batch_ids"]
    emulator_env.set_rules([])
    emulator_env.advance(600)
    assert run("results", bid, "--out", "r.jsonl", cwd=tmp_path, env=env).returncode == 0

    proc = run("retry", bid, cwd=tmp_path, env=env)  # nothing failed, nothing asked
    assert proc.returncode == 1
    said = " ".join(proc.stderr.split())
    assert "no failed requests" in said, said
    assert "1 request was cut at max_tokens: a retry with a higher max_tokens resends it" in said
    assert "2 requests stopped with a refusal" in said

    creates = emulator_env.stats.count("create")
    proc = run("retry", bid, "--max-tokens", "500", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert re.search(r"The estimated cost \(~.*\) is above .* \(confirm_submit_above_usd\)", line)
    assert "--yes" in line
    assert emulator_env.stats.count("create") == creates  # nothing was sent

    proc = run("retry", bid, "--max-tokens", "500", "--yes", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["requests"] == 1

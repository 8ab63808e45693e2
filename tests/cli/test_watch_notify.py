"""`batchtop watch --notify --exec CMD`: when the job ends, a fake `notify-send` on PATH and
the hook command record what they received (argv, and the summary JSON on stdin)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from cli_support import CLI, run
from waiting import wait_until


def _recorder(directory: Path, name: str) -> Path:
    """An executable that appends its argv (one per line, then '--end--') and its stdin."""
    directory.mkdir(exist_ok=True)
    script = directory / name
    script.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a" >> "{directory / name}.args"; done\n'
        f'echo --end-- >> "{directory / name}.args"\n'
        f'cat >> "{directory / name}.stdin"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_watch_notifies_and_runs_the_hook(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    requests = [
        {
            "custom_id": f"a-{i}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"Say {i}."}],
            },
        }
        for i in range(5)
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in requests))
    env = dict(os.environ)
    submitted = run("submit", "in.jsonl", "--name", "say numbers", cwd=tmp_path, env=env)
    assert submitted.returncode == 0, submitted.stderr
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", submitted.stdout)

    bin_dir = tmp_path / "bin"
    _recorder(bin_dir, "notify-send")
    hook = _recorder(bin_dir, "hook")
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", DISPLAY=":0", TERM="xterm-256color")
    env.pop("TERM_PROGRAM", None)
    watch = subprocess.Popen(
        [*CLI, "watch", "--interval", "0.1", "--notify", "--exec", f"{hook} --channel ops"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until(lambda: emulator_env.stats.count("list") >= 2, timeout=90)
        emulator_env.advance(3600)
        _out, err = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    line = "say numbers: 5 succeeded"
    assert line in err  # the one-line summary, on stderr
    args = (bin_dir / "notify-send.args").read_text().splitlines()
    assert args[:3] == ["--app-name=batchtop", "--", "Job ended"]
    assert args[3].startswith(line)
    assert args.count("--end--") == 1  # once per job, not per refresh
    assert (bin_dir / "hook.args").read_text().splitlines() == ["--channel", "ops", "--end--"]
    summary = json.loads((bin_dir / "hook.stdin").read_text())
    assert summary["kind"] == "job"
    assert summary["batch_ids"] == [bid]
    assert summary["counts"]["succeeded"] == 5
    assert summary["summary"].startswith(line)


def test_exec_with_an_unparsable_command_is_one_line(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    proc = run("watch", "--exec", "'unclosed", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.startswith("batchtop: error: --exec: cannot parse the command")
    assert len(proc.stderr.strip().splitlines()) == 1

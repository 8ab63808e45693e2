"""A results file truncated in place by another program while `batchtop results` exports
from it: the export ends with one line naming the file and exit 1, never a signal (the
file is read, not mapped: a mapped file cut short kills the reader with SIGBUS).

The export writes into a FIFO the test reads from: it is held in its first page's write
while the file is cut, so the cut falls between two pages, whatever the machine's speed. It
is a filtered export (`--status succeeded`, every result): an unfiltered one of a file this
small reads the whole file at its start, and then has nothing left to read from it.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.results.export_pages import RAW_PAGE
from reliability_support import CLI, cli_env, run_cli
from waiting import wait_until

pytestmark = pytest.mark.skipif(
    not hasattr(os, "mkfifo") or not Path("/proc/self/fd").is_dir(), reason="FIFOs and /proc"
)

ROWS = RAW_PAGE + 500  # more than the export's first page
LINE = 1_000  # characters of structured output per result (a first page of ~6 MB)


def _requests() -> bytes:
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string", "minLength": LINE}},
        "required": ["summary"],
        "additionalProperties": False,
    }
    out = []
    for i in range(ROWS):
        params = {
            "model": "claude-haiku-4-5",
            "max_tokens": LINE,
            "messages": [{"role": "user", "content": f"Summarise article {i}."}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}},
        }
        out.append(json.dumps({"custom_id": f"a-{i:05d}", "params": params}))
    return ("\n".join(out) + "\n").encode()


def _reads(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open or mapped."""
    target = str(path)
    try:
        if any(os.readlink(fd) == target for fd in Path(f"/proc/{pid}/fd").iterdir()):
            return True
        return target in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _drain(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    """Everything written into the FIFO until its writer closes it (or exits)."""
    got = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            if not sel.select(timeout=120):
                raise AssertionError(f"the export wrote nothing for 120 s (exit {proc.poll()})")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return bytes(got)
            got += chunk


def test_a_results_file_cut_short_during_an_export_is_one_line_not_a_signal(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 10.0  # requests a second of the emulator's clock
    env = cli_env(tmp_path, base_url=emulator.base_url)
    (tmp_path / "in.jsonl").write_bytes(_requests())
    proc = run_cli("submit", "in.jsonl", "--json", "--yes", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    (bid,) = json.loads(proc.stdout)["batch_ids"]
    emulator.advance(3600)
    proc = run_cli("results", bid, "--out", "whole.jsonl", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    exported = (tmp_path / "whole.jsonl").read_bytes()
    assert exported.count(b"\n") == ROWS
    assert len(exported) > ROWS * LINE
    (final,) = Path(env["XDG_DATA_HOME"]).rglob(f"{bid}.jsonl")

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the export's open goes through
    try:
        export = subprocess.Popen(
            [*CLI, "results", bid, "--status", "succeeded", "--out", str(fifo)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            # nothing read from the FIFO yet: the export fills it and waits in its first page
            wait_until(lambda: _reads(export.pid, final), 120, "the export reading the file")
            os.truncate(final, final.stat().st_size // 2)  # in place: same file, shorter
            os.set_blocking(reader, True)
            written = _drain(reader, export)
            _out, err = export.communicate(timeout=120)
        finally:
            if export.poll() is None:
                export.kill()
                export.wait()
    finally:
        os.close(reader)

    assert export.returncode == 1, (export.returncode, err[-2000:])  # not -SIGBUS
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("batchtop: error: The results file of ")
    assert str(final) in lines[0]
    assert "changed since its results were indexed" in lines[0]
    assert "Traceback" not in lines[0]
    assert exported.startswith(written)  # what came out before is the lines, byte for byte

"""Inputs that are not regular files: FIFOs, pipes, process substitution, devices.

Real `batchtop submit --dry-run` subprocesses: a stream is read once (spooled), a FIFO that
nobody writes to waits but Ctrl-C (SIGINT) always ends the process, and a device that never
ends (/dev/zero) is refused with one clear message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from reliability_support import CLI, cli_env
from waiting import wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")

OPTS = ("--model", "claude-haiku-4-5", "--max-tokens", "10", "--dry-run")


def _requests(n: int) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "custom_id": f"r{i}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": f"prompt {i}"}],
                },
            }
        )
        + b"\n"
        for i in range(n)
    )


def _holds_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (it is waiting on the FIFO)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:
        return False


def _spawn(args: list[str], cwd: Path, **kw: object) -> subprocess.Popen[str]:
    env = cli_env(cwd, base_url="http://127.0.0.1:9")  # a dry run never calls the API
    return subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def test_ctrl_c_ends_a_submit_waiting_on_a_fifo_without_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    proc = _spawn(["submit", str(fifo), *OPTS], tmp_path, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: _holds_open(proc.pid, fifo), timeout=60)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert list((tmp_path / "xdg").rglob("spooled-*")) == []  # the partial copy is removed


def test_a_fifo_whose_writer_comes_later_is_read_once(tmp_path: Path) -> None:
    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    proc = _spawn(["submit", str(fifo), *OPTS], tmp_path, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: _holds_open(proc.pid, fifo), timeout=60)
        with open(fifo, "wb") as writer:
            writer.write(_requests(3))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, err)
    assert "3 requests" in out
    assert "dry run: nothing was submitted." in out


def test_a_fifo_without_writer_says_on_stderr_that_it_waits(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    proc = _spawn(["submit", str(fifo), *OPTS], tmp_path, stdin=subprocess.DEVNULL)
    said: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: said.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_until(lambda: any("waiting for data on the pipe" in line for line in said), 60)
        (line,) = [line for line in said if "waiting for data" in line]
        assert line == (
            f"batchtop: waiting for data on the pipe {fifo}: nothing has been written to it"
            " yet (batchtop reads it to the end first; Ctrl-C stops)\n"
        )
        with open(fifo, "wb") as writer:
            writer.write(_requests(2))
        proc.wait(timeout=60)
        reader.join(timeout=30)
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, said)
    assert "2 requests" in out


def test_a_pipe_and_process_substitution_are_read_once(tmp_path: Path) -> None:
    src = tmp_path / "requests.jsonl"
    src.write_bytes(_requests(4))
    proc = _spawn(["submit", "/dev/stdin", *OPTS], tmp_path, stdin=subprocess.PIPE)
    out, err = proc.communicate(_requests(4).decode(), timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "4 requests" in out
    assert "not seekable" not in out + err
    bash = shutil.which("bash")
    if bash is None:
        return
    cmd = " ".join([*(f"'{c}'" for c in CLI), "submit", f"<(cat '{src}')", *OPTS])
    done = subprocess.run(
        [bash, "-c", cmd],
        cwd=tmp_path,
        env=cli_env(tmp_path, base_url="http://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "4 requests" in done.stdout


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/tty"])
def test_a_device_is_refused_clearly(tmp_path: Path, device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    proc = _spawn(["submit", device, *OPTS], tmp_path, stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in out + err
    assert out == ""  # no report of 0 requests in a guessed format: one line
    assert err == (
        f"batchtop: error: {device}: This is a device, not a file: batchtop reads regular"
        " files, pipes and FIFOs; nothing was submitted.\n"
    )


def test_an_openai_submit_on_a_fifo_says_it_waits_then_reads_it(tmp_path: Path) -> None:
    """The FIFO's waiting line is the same for OpenAI: its import spools the stream too."""
    import threading

    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    env = cli_env(
        tmp_path, OPENAI_API_KEY="test-key", OPENAI_BASE_URL="http://127.0.0.1:9/v1"
    )  # a dry run never calls the API
    proc = subprocess.Popen(
        [*CLI, "--provider", "openai", "submit", str(fifo), "--dry-run"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: said.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    line = {
        "custom_id": "q-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    }
    try:
        wait_until(lambda: any("waiting for data on the pipe" in s for s in said), 60)
        with open(fifo, "wb") as writer:
            writer.write(orjson.dumps(line) + b"\n" + orjson.dumps({**line, "custom_id": "q-2"}))
        proc.wait(timeout=60)
        reader.join(timeout=30)
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, said)
    assert "2 requests" in out
    assert str(fifo) in out  # the report names the FIFO, not its spooled copy

"""The command line's output files and streams, tried as a hostile user would.

Real `batchtop` subprocesses on a store seeded with an ended, indexed batch (no network):
- `--out` naming something that is not a regular file (a FIFO, a character device, a link
  to stdout) is written to, never replaced by a renamed temp file;
- an existing export is never replaced silently: refused without `--force` in scripts, asked
  on a terminal, its mode kept; `--out dir/` is a directory;
- data to stdout: piped, byte for byte; on a terminal (a real pty), what a terminal would act
  on (escape sequences, C1 controls, bidi overrides) is shown inert, Parquet is refused;
- Ctrl-C during an export exits 130 without a crash and leaves no temp file, every time.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.store import Store
from pty_run import Terminal
from reliability_support import CLI, cli_env, run_cli, store_file
from results_support import results_of
from waiting import try_wait

BID = "msgbatch_01CLIFILES" + "0" * 10
HOSTILE = (
    "\x1b]0;pwned title\x07 \x1b]52;c;ZXZpbA==\x07 \x1b]8;;https://evil.example\x07link"
    "\x1b]8;;\x07 \x1b[2J cleared \x9b31m c1 abc\u202edcba"
)
TERMINAL_ACTS_ON = ("\x1b", "\x07", "\x9b", "\u202e")


class Home:
    """A batchtop home (XDG dirs) with one ended batch whose results are indexed."""

    def __init__(self, tmp: Path, texts: list[str], label: str | None = None) -> None:
        self.tmp = tmp
        self.env = cli_env(tmp, base_url="http://127.0.0.1:9")  # never contacted
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.raw = tmp / "raw.jsonl"
        store = Store.open(store_file(tmp / "xdg" / "data" / "batchtop", "http://127.0.0.1:9"))
        t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        try:
            remote = RemoteBatch(
                id=BID,
                processing_status=ProcessingStatus.ENDED,
                request_counts=RequestCounts(succeeded=len(texts)),
                created_at=t0,
                expires_at=t0 + timedelta(hours=24),
                ended_at=t0 + timedelta(hours=1),
                results_url=f"https://api.anthropic.com/v1/messages/batches/{BID}/results",
            )
            store.upsert_remote([remote], t0 + timedelta(hours=1))
            with self.raw.open("wb") as fh:
                for i, text in enumerate(texts):
                    fh.write(orjson.dumps(_line(i, text)) + b"\n")
            assert results_of(store).ingest_results(BID, self.raw) == len(texts)
            results_of(store).set_results_file(BID, self.raw, downloaded=True)
            if label is not None:
                store.set_label(BID, label)
        finally:
            store.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.cwd, env=self.env)

    def cli_bytes(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*CLI, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=90,
        )


def _line(i: int, text: str) -> dict[str, object]:
    return {
        "custom_id": f"r-{i:06d}",
        "result": {
            "type": "succeeded",
            "message": {
                "id": f"msg_{i}",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5-20251001",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 20},
            },
        },
    }


# --- --out to things that are not regular files ------------------------------------------


def test_out_to_a_fifo_is_written_and_stays_a_fifo(tmp_path: Path) -> None:
    home = Home(tmp_path, [f"text {i}" for i in range(50)])
    fifo = home.cwd / "pipe.jsonl"
    os.mkfifo(fifo)
    got = bytearray()

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.extend(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = home.cli("results", BID, "--format", "jsonl", "--out", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
    assert bytes(got) == home.raw.read_bytes()
    assert sorted(p.name for p in home.cwd.iterdir()) == ["pipe.jsonl"]  # no temp file


def test_out_to_a_link_to_stdout_writes_to_stdout(tmp_path: Path) -> None:
    """`--out /dev/stdout` goes through a link to the process's fd 1 (here: a pipe)."""
    home = Home(tmp_path, [f"text {i}" for i in range(50)])
    link = home.cwd / "stdout.jsonl"
    link.symlink_to("/proc/self/fd/1")
    proc = home.cli_bytes("results", BID, "--format", "jsonl", "--out", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink(), "the link was replaced by a regular file"
    assert proc.stdout == home.raw.read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_out_to_a_character_device_is_not_replaced(tmp_path: Path) -> None:
    home = Home(tmp_path, [f"text {i}" for i in range(50)])
    null = home.cwd / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    proc = home.cli("results", BID, "--format", "csv", "--out", str(null))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode), "the device was replaced by a regular file"
    assert sorted(p.name for p in home.cwd.iterdir()) == ["null"]


# --- existing files and directories ------------------------------------------------------


def test_an_existing_export_is_not_replaced_without_force_and_keeps_its_mode(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path, [f"text {i}" for i in range(20)])
    out = home.cwd / "mine.csv"
    out.write_text("precious\n")
    out.chmod(0o640)
    proc = home.cli("results", BID, "--out", out.name)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("batchtop: error: "), lines
    assert "--force" in lines[0], lines
    assert out.read_text() == "precious\n"

    proc = home.cli("results", BID, "--out", out.name, "--force")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("custom_id,status,")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # the user's choice of mode stays


def test_out_with_a_trailing_slash_is_a_directory(tmp_path: Path) -> None:
    home = Home(tmp_path, [f"text {i}" for i in range(20)])
    proc = home.cli("results", BID, "--format", "csv", "--out", "exports/")
    assert proc.returncode == 0, proc.stderr
    made = home.cwd / "exports" / f"{BID}-results.csv"
    assert made.is_file()
    assert str(made.relative_to(home.cwd)) in proc.stderr  # said where it went
    assert proc.stdout == ""  # messages go to stderr
    again = home.cli("results", BID, "--format", "csv", "--out", "exports")  # existing dir
    assert again.returncode == 1
    assert "--force" in again.stderr


def test_a_terminal_is_asked_before_the_default_name_is_replaced(tmp_path: Path) -> None:
    home = Home(tmp_path, [f"text {i}" for i in range(20)])
    first = Terminal("results", BID, "--format", "csv", cwd=home.cwd, env=home.env)
    code, shown = first.finish()
    assert code == 0, shown
    made = home.cwd / f"{BID}-results.csv"
    assert made.is_file()
    made.write_text("edited by hand\n")

    no = Terminal("results", BID, "--format", "csv", cwd=home.cwd, env=home.env)
    no.answer("Replace it?", "n")
    code, shown = no.finish()
    assert code == 1, shown
    assert made.read_text() == "edited by hand\n"

    yes = Terminal("results", BID, "--format", "csv", cwd=home.cwd, env=home.env)
    yes.answer("Replace it?", "y")
    code, shown = yes.finish()
    assert code == 0, shown
    assert made.read_text().startswith("custom_id,status,")


# --- stdout: a pipe gets the bytes, a terminal sees them inert ---------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_piped_stdout_gets_the_data_byte_for_byte(tmp_path: Path, fmt: str) -> None:
    home = Home(tmp_path, [HOSTILE, "plain"])
    piped = home.cli_bytes("results", BID, "--format", fmt)  # no --out, stdout a pipe
    assert piped.returncode == 0, piped.stderr
    to_file = home.cli("results", BID, "--format", fmt, "--out", f"r.{fmt}")
    assert to_file.returncode == 0, to_file.stderr
    assert piped.stdout == (home.cwd / f"r.{fmt}").read_bytes()
    if fmt == "jsonl":
        assert piped.stdout == home.raw.read_bytes()
        assert "\u202e".encode() in piped.stdout  # data is not altered in a pipe


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "markdown"])
def test_a_terminal_never_receives_what_it_would_act_on(tmp_path: Path, fmt: str) -> None:
    home = Home(tmp_path, [HOSTILE, "plain"])
    term = Terminal("results", BID, "--format", fmt, "--out", "-", cwd=home.cwd, env=home.env)
    code, shown = term.finish()
    assert code == 0, shown
    for ch in TERMINAL_ACTS_ON:
        assert ch not in shown, (ch, shown[-500:])
    assert "pwned title" in shown  # the text is there, shown literally
    assert "\\u202e" in shown or "\\u202E" in shown


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_out_naming_the_terminal_is_written_as_dash_is(tmp_path: Path, fmt: str) -> None:
    """`--out /dev/stdout` on a terminal: the results' escape sequences were written to it
    as they are (a title set, the screen cleared); it is stdout, shown as `--out -` shows
    it. In a pipe it stays byte for byte, and a reader that leaves is no error."""
    home = Home(tmp_path, [HOSTILE, "plain"])
    term = Terminal(
        "results", BID, "--format", fmt, "--out", "/dev/stdout", cwd=home.cwd, env=home.env
    )
    code, shown = term.finish()
    assert code == 0, shown
    for ch in TERMINAL_ACTS_ON:
        assert ch not in shown, (ch, shown[-500:])
    assert "pwned title" in shown
    piped = home.cli_bytes("results", BID, "--format", fmt, "--out", "/dev/stdout")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == home.cli_bytes("results", BID, "--format", fmt).stdout


def test_ls_json_on_a_terminal_shows_controls_inert(tmp_path: Path) -> None:
    home = Home(tmp_path, ["x"], label="label \u202eevil \x9b31m")
    term = Terminal("ls", "--offline", "--json", cwd=home.cwd, env=home.env)
    code, shown = term.finish()
    assert code == 0, shown
    for ch in TERMINAL_ACTS_ON:
        assert ch not in shown, ch
    assert "\\u202e" in shown
    assert "\\u009b" in shown
    piped = home.cli("ls", "--offline", "--json")
    assert "label \u202eevil \x9b31m" in piped.stdout  # exact when piped


def test_parquet_is_not_written_to_a_terminal(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    home = Home(tmp_path, ["x"])
    term = Terminal("results", BID, "--format", "parquet", "--out", "-", cwd=home.cwd, env=home.env)
    code, shown = term.finish()
    assert code == 1
    assert "PAR1" not in shown
    assert "batchtop: error: Parquet is binary" in shown
    piped = home.cli_bytes("results", BID, "--format", "parquet")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith(b"PAR1")


# --- Ctrl-C during an export -------------------------------------------------------------

INTERRUPTS = 5


def sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_an_export_exits_cleanly_every_time(tmp_path: Path) -> None:
    """The export's worker thread stops before the store closes its connections (a thread
    still reading crashed the process with SIGSEGV), and its temp file is removed."""
    home = Home(tmp_path, [f"{i}: " + "lorem ipsum dolor sit amet " * 40 for i in range(20_000)])
    outcomes: list[int] = []
    for attempt in range(INTERRUPTS):
        out = home.cwd / f"out{attempt}.csv"
        proc = subprocess.Popen(
            [*CLI, "export", BID, "--format", "csv", "--out", out.name],
            cwd=home.cwd,
            env=home.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=sigint_default,
        )

        def writing(out: Path = out) -> bool:
            temps = [p for p in home.cwd.iterdir() if p.name.startswith(f".{out.name}.")]
            return any(p.stat().st_size > 200_000 for p in temps)

        assert try_wait(lambda p=proc: writing() or p.poll() is not None, 60)
        if proc.poll() is not None:
            proc.communicate()
            pytest.fail("the export ended before Ctrl-C: make it larger")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        outcomes.append(proc.returncode)
        assert proc.returncode == 130, (proc.returncode, err[-2000:])
        assert "Traceback" not in err
        assert sorted(p.name for p in home.cwd.iterdir()) == [], "a temp or partial file stayed"
    print(f"\nCtrl-C during export: exit codes {outcomes}")

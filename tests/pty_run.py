"""Running `batchtop` on a real pseudo-terminal (stdin, stdout and stderr), for what only a
terminal shows: prompts, Live displays, what the terminal would receive."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from waiting import wait_until

CLI = [sys.executable, "-m", "batchtop.tui.cli"]


class Terminal:
    """`batchtop ARGS` on a pty of `columns` × `rows`; everything it writes is collected."""

    def __init__(
        self, *args: str, cwd: Path, env: dict[str, str], columns: int = 200, rows: int = 50
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.master = master
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        self.proc = subprocess.Popen(
            [*CLI, *args],
            cwd=cwd,
            env={**env, "TERM": "xterm-256color"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the last holder of the terminal's other end exited
                return
            if not chunk:
                return
            with self._lock:
                self.seen += chunk

    def text(self) -> str:
        with self._lock:
            return self.seen.decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        wait_until(lambda: needle in self.text(), timeout, f"{needle!r} on the terminal")

    def answer(self, prompt: str, reply: str) -> None:
        self.wait_for(prompt)
        os.write(self.master, reply.encode() + b"\n")

    def interrupt(self) -> None:
        """Ctrl-C as the terminal sends it: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout: float = 90) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(timeout=30)
            os.close(self.master)
        return code, self.text()

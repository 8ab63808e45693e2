"""Quitting in a real terminal: `q` gives the shell its prompt back at once, having finished
or abandoned the background work cleanly (the demo's emulator stopped, its files removed).

The prompt is waited on, never timed (bench/cases/startup.py holds the figure). The hard case
is a quit while the demo is still starting: here the SDK import it waits for is held for good
(a `sitecustomize` on PYTHONPATH gates `import anthropic` on a file that never appears), so
only a quit that does not wait for that thread returns the prompt at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_tmux_journey import BATCHTOP, Tmux, _quote, pytestmark, terminal_env  # noqa: F401

GATE = """
import os, sys, threading

class _HoldTheSdk:
    def find_spec(self, name, path=None, target=None):
        if name == "anthropic":
            while not os.path.exists(os.environ["BATCHTOP_TEST_SDK_GATE"]):
                threading.Event().wait(0.05)
        return None

sys.meta_path.insert(0, _HoldTheSdk())
"""


class Shell(Tmux):
    """A tmux pane running an interactive shell, so the test can wait for its prompt."""

    PROMPT = "BATCHTOP-PROMPT> "

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        super().__init__(["bash", "--norc", "--noprofile"], cwd, env)
        self.keys(f"PS1='{self.PROMPT}'; clear", "Enter")
        self.wait_for(lambda s: s.strip().startswith(self.PROMPT.strip()), "the shell prompt")

    def run(self, command: list[str]) -> None:
        self.keys(" ".join(_quote(p) for p in command) + "; echo EXIT=$?", "Enter")

    def wait_prompt_after_exit(self) -> str:
        return self.wait_for(
            lambda s: "EXIT=" in s and s.rstrip().endswith(self.PROMPT.strip()),
            "the shell prompt after batchtop",
            timeout=60,
        )


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Callable[..., Shell]]:
    sessions: list[Shell] = []
    env = terminal_env(tmp_path, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def start(**extra: str) -> Shell:
        session = Shell(tmp_path, {**env, **extra})
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.kill()


def test_quit_returns_the_prompt_and_leaves_nothing_behind(
    shell: Callable[..., Shell], tmp_path: Path
) -> None:
    term = shell()
    term.run([*BATCHTOP, "--demo"])
    term.wait_text("translations-fr", timeout=120)
    term.wait_text("DEMO — local emulator")  # started and alive
    term.keys("q")
    screen = term.wait_prompt_after_exit()
    assert "EXIT=0" in screen
    assert "Traceback" not in screen
    assert not list((tmp_path / "tmp").glob("batchtop-demo-*"))  # its home is removed


def test_quit_while_the_demo_is_still_starting_does_not_wait_for_it(
    shell: Callable[..., Shell], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GATE)
    gate = tmp_path / "never"  # never created: the SDK import waits for good
    term = shell(
        PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        BATCHTOP_TEST_SDK_GATE=str(gate),
    )
    term.run([*BATCHTOP, "--demo"])
    term.wait_text("starting the local emulator", timeout=120)  # painted; seeding is held
    term.keys("q")
    screen = term.wait_prompt_after_exit()
    assert "EXIT=0" in screen
    assert "Traceback" not in screen
    assert not list((tmp_path / "tmp").glob("batchtop-demo-*"))
    assert not gate.exists()

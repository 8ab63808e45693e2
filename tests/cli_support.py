"""`batchtop` run as a real process for CLI tests: stdin closed, output captured as text.
Not a test module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "batchtop.tui.cli"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`batchtop *args` in `cwd` (env: this process's environment unless given)."""
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def config_env(tmp_path: Path, settings: str, **extra: str) -> dict[str, str]:
    """This process's environment with `settings` as batchtop's config file
    (`tmp_path/config.toml`, named by BATCHTOP_CONFIG), and `extra`."""
    config = tmp_path / "config.toml"
    config.write_text(settings)
    return dict(os.environ, BATCHTOP_CONFIG=str(config), **extra)

"""The core must run without the UI stack, and start-up must not pay for the SDK.

import-linter checks the static imports; these tests also catch deferred imports by running
each entry point in a fresh interpreter and looking at `sys.modules`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE_MODULES = [
    "batchtop.core",
    "batchtop.core.models",
    "batchtop.core.config",
    "batchtop.core.paths",
    "batchtop.core.errors",
]


def _loaded_after(statement: str, watched: tuple[str, ...]) -> list[str]:
    code = f"{statement}\nimport sys\nprint(','.join(m for m in {watched!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    return [m for m in out.split(",") if m]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_ui(module: str) -> None:
    assert _loaded_after(f"import {module}", ("textual", "rich", "batchtop.tui")) == []


def test_cli_version_does_not_import_the_sdk_or_textual() -> None:
    statement = (
        "import contextlib, io\n"
        "from batchtop.tui import cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['--version'])"
    )
    assert _loaded_after(statement, ("anthropic", "textual")) == []


def test_cli_dashboard_start_builds_no_command_arguments() -> None:
    """`batchtop` and `batchtop --demo` parse their line without adding every command's
    arguments: `batchtop emulator`'s alone imported the emulator and aiohttp (~0.5 s)."""
    statement = (
        "from batchtop.tui.cli.parser import build_parser\n"
        "assert build_parser().parse_args(['--demo']).demo"
    )
    assert _loaded_after(statement, ("batchtop.core.emulator", "aiohttp")) == []
    # a command still gets its arguments when it is the one run
    statement = (
        "from batchtop.tui.cli.parser import build_parser\n"
        "assert build_parser().parse_args(['emulator', '--port', '0']).port == 0"
    )
    assert _loaded_after(statement, ("batchtop.core.emulator",)) == ["batchtop.core.emulator"]

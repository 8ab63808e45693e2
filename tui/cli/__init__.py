"""Command-line front end: `batchtop` and its subcommands.

A second front end on `BatchService` (the TUI is the first), for scripts and CI. Exit codes:
0 ok, 1 a user-facing error (one line on stderr, never a traceback), 2 a usage error,
130 interrupted. Data goes to stdout, messages to stderr; `--json` prints machine-readable
output. With no subcommand, the Textual dashboard starts.

Layout: `entry.py` (main: parse, dispatch, turn errors into one line), `parser.py` (the
argparse tree; commands are named, not imported, so `--version` and `--help` stay instant),
`session.py` (opening the service, resolving ids, confirmations), `render.py` (Rich output
built on the TUI's formatters in `tui/format.py`), `report.py` (import reports), and one
module per command in `commands/`.
"""

from batchtop.tui.cli.commands.local import cmd_tui
from batchtop.tui.cli.entry import main

__all__ = ["cmd_tui", "main"]

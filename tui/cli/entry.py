"""`main`: parse the command line, run the command, turn every failure into one line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from batchtop.tui.cli.parser import build_parser, load_handler, version_parser


def fail(message: str) -> int:
    from batchtop.core.redact import redact
    from batchtop.tui.safe_text import clean

    sys.stderr.write(f"batchtop: error: {clean(redact(message), keep_newlines=False)}\n")
    sys.stderr.flush()
    return 1


def setup_logging() -> None:
    """Library warnings stay quiet on the command line unless BATCHTOP_DEBUG is set.

    asyncio's too: Ctrl-C while a thread call is in flight can make it log "Exception in
    callback … Traceback" through logging's last-resort handler after the run was stopped."""
    import logging

    if os.environ.get("BATCHTOP_DEBUG"):
        from batchtop.core.redact import RedactFilter

        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(levelname)s: %(message)s")
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactFilter())  # the key never reaches a log line
        return
    for name in ("batchtop", "asyncio"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
            logger.propagate = False


def debug_log_to_file() -> Path | None:
    """With BATCHTOP_DEBUG set, the dashboard's log goes to a file, not stderr (whose lines
    would be drawn over the screen); returns the file (0600, appended to), else None."""
    import logging

    if not os.environ.get("BATCHTOP_DEBUG"):
        return None
    from batchtop.core import paths
    from batchtop.core.redact import RedactFilter

    path = paths.ensure_private_dir(paths.log_dir()) / "debug.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:  # it may hold prompts (the SDK logs request bodies): private, whoever made it
        os.fchmod(fd, 0o600)
    except OSError:
        pass  # another user's file: the handler's open says so
    finally:
        os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(levelname)s: %(message)s"))
    handler.addFilter(RedactFilter())  # the key never reaches a log line
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return path


def _needs_full_parser(argv: list[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return args != ["--version"]


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before a command runs (the parser imports for seconds)
        sys.stderr.write("interrupted\n")
        return 130


def _main(argv: list[str] | None) -> int:
    setup_logging()
    parser = build_parser() if _needs_full_parser(argv) else version_parser()
    ns = parser.parse_args(argv)
    from batchtop.core.errors import BatchtopError

    try:
        handler: Callable[[argparse.Namespace], int]
        if getattr(ns, "handler", None) is None:
            from batchtop.tui.cli.commands.local import cmd_tui

            code = cmd_tui(ns)
            from batchtop.tui.app import leave_process

            leave_process(code)  # the prompt comes back at once (see leave_process)
        else:
            handler = load_handler(ns.handler)
        from batchtop.tui.cli import stdout

        stdout.guard()
        return handler(ns)
    except BatchtopError as err:
        return fail(str(err))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # the reader left (`| head -1`): nothing more to say
        from batchtop.tui.cli import stdout

        stdout.discard()
        return 0
    except OSError as exc:
        from batchtop.tui.cli import stdout

        if not isinstance(exc, stdout.StdoutError):
            return _unexpected(exc)
        stdout.discard()
        return fail(f"Cannot write to standard output: {exc.strerror}.")
    except Exception as exc:  # last resort: a one-line message, never a traceback
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    if os.environ.get("BATCHTOP_DEBUG"):
        raise exc
    return fail(f"unexpected {type(exc).__name__}: {exc} (set BATCHTOP_DEBUG=1 for details)")

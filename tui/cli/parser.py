"""The argparse tree. Commands are named ("module:function" under `commands/`), not imported:
building the parser stays cheap and `--help` instant. An `async def` command gets an open
`BatchService` (see session.run_with_service); a plain one runs as it is."""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any

from batchtop.core import package_version

EXPORT_FORMATS = ("jsonl", "csv", "json", "markdown", "parquet")
IMPORT_FORMATS = ("jsonl", "json", "records-jsonl", "csv", "txt")
RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")


def load_handler(name: str) -> Callable[[argparse.Namespace], int]:
    """ "results:cmd_results" → a function of the parsed arguments returning the exit code."""
    module_name, _, function = name.partition(":")
    module = importlib.import_module(f"batchtop.tui.cli.commands.{module_name}")
    fn = getattr(module, function)
    if inspect.iscoroutinefunction(fn):
        from batchtop.tui.cli.session import run_with_service

        return run_with_service(fn)
    return fn  # type: ignore[no-any-return]


class _Version(argparse.Action):
    """`--version`, reading the installed version only when asked (see package_version)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        sys.stdout.write(f"batchtop {package_version()}\n")
        parser.exit()


def version_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchtop")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    return parser


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _yes_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def _add_submit(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="JSONL (native batch), JSON/JSONL records, CSV or TXT")
    p.add_argument("--format", choices=IMPORT_FORMATS, help="input format (default: guess)")
    p.add_argument("--template", help='prompt template with {field} placeholders, e.g. "{content}"')
    p.add_argument("--model", help="model for requests that do not name one")
    p.add_argument("--max-tokens", type=int, help="max_tokens for requests that do not set it")
    p.add_argument("--system", help="system prompt for every request")
    p.add_argument("--id-field", help="record field to derive custom_id from")
    p.add_argument("--name", help="job name (default: the file name)")
    p.add_argument("--label", help="local label for the batches")
    p.add_argument(
        "--count-tokens",
        nargs="?",
        type=int,
        const=20,
        metavar="N",
        help="measure input tokens with the API's count_tokens on N requests spread over the"
        " input (default 20; all of them if it has fewer) instead of estimating them",
    )
    p.add_argument(
        "--beta",
        action="append",
        metavar="NAME",
        help="anthropic-beta value sent on create and recorded with the job (repeatable;"
        " added to the config's 'betas')",
    )
    p.add_argument("--dry-run", action="store_true", help="report and estimate only")
    p.add_argument(
        "--endpoint",
        choices=("/v1/chat/completions", "/v1/responses", "/v1/embeddings"),
        help="OpenAI: the endpoint requests made from a template target"
        " (default /v1/chat/completions; OpenAI-format lines name their own)",
    )
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="submit without asking, whatever the estimated cost (confirm_submit_above_usd)",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="submit the valid requests of a file with errors, leaving the invalid ones out"
        " (says how many)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="submit requests already submitted in full once more (billed twice)",
    )
    _json_flag(p)


def _add_reconcile(p: argparse.ArgumentParser) -> None:
    _json_flag(p)
    p.add_argument(
        "--delete-orphans",
        action="store_true",
        help="OpenAI: delete the input files batchtop uploaded that no batch uses",
    )
    p.add_argument(
        "--abandon",
        action="store_true",
        help="close parts still unresolved now, as not sent (a submit then sends them; should"
        " a batch of one appear after all, that part is sent twice)",
    )
    p.add_argument(
        "--adopt",
        metavar="BATCH_ID",
        help="record a batch reconcile named as an unresolved part's look-alike as that part's"
        " (when you know it is yours)",
    )


def _add_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("--active", action="store_true", help="only batches still in progress")
    p.add_argument("--offline", action="store_true", help="show the local store, no API call")
    _json_flag(p)


def _add_watch(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="batch or job id (default: everything active)")
    p.add_argument("--interval", type=float, help="seconds between refreshes")
    p.add_argument(
        "--notify",
        action="store_true",
        help="a desktop notification and a summary line (stderr) when a batch or job ends",
    )
    p.add_argument(
        "--exec",
        metavar="CMD",
        dest="exec_command",
        help="run CMD when a batch or job ends, its summary as JSON on stdin",
    )


def _add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="batch or job id")
    p.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="jsonl (raw lines), csv, json ({custom_id: text}), markdown, parquet"
        " (default: from --out's extension, else jsonl)",
    )
    p.add_argument(
        "--out",
        help="output file or directory/ ('-' for stdout; default: stdout when it is"
        " redirected, else <id>-results.<ext> in the current directory)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing file without asking")
    p.add_argument("--status", action="append", choices=RESULT_TYPES, help="only these outcomes")
    p.add_argument("--search", help="full-text filter over inputs and outputs")
    p.add_argument(
        "--expand-json",
        action="store_true",
        help="CSV/Parquet: outputs that are JSON objects (structured outputs) get a column"
        " per key (output.KEY)",
    )
    _json_flag(p)


def _add_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="batch or job id")
    p.add_argument("--offline", action="store_true", help="show the local store, no API call")
    _json_flag(p)


def _add_retry(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    p.add_argument(
        "--include-invalid",
        action="store_true",
        help="also resend requests that would fail the same way (invalid_request_error, …)",
    )
    p.add_argument(
        "--refusals",
        action="store_true",
        help="also resend the results that stopped with a refusal",
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="also resend the results cut at max_tokens, with max_tokens N (higher than theirs)",
    )
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="resend without asking, whatever the estimated cost (confirm_submit_above_usd)",
    )
    _json_flag(p)


def _add_confirmed(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    _yes_flag(p)
    _json_flag(p)


def _add_label(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    p.add_argument("text")


def _add_serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", action="store_true", help="serve the demo (a built-in emulator)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; default 8000)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; anything else"
        " exposes the dashboard and is warned about)",
    )


def _add_emulator(p: argparse.ArgumentParser) -> None:
    from batchtop.core import emulator

    emulator.add_arguments(p)


# name, help, handler ("module:function" under commands/), arguments
COMMANDS: tuple[tuple[str, str, str, Callable[[argparse.ArgumentParser], None]], ...] = (
    (
        "submit",
        "validate, split, estimate and submit an input file",
        "submit:cmd_submit",
        _add_submit,
    ),
    ("ls", "list batches (refreshes first when a key is set)", "ls:cmd_ls", _add_ls),
    ("show", "one batch (or a job's batches) in detail", "show:cmd_show", _add_show),
    (
        "watch",
        "live progress until the batches end, then download results",
        "watch:cmd_watch",
        _add_watch,
    ),
    (
        "results",
        "download (if needed) and export a batch's or job's results",
        "results:cmd_results",
        _add_results,
    ),
    (
        "export",
        "export results with filters (alias of results)",
        "results:cmd_results",
        _add_results,
    ),
    (
        "retry",
        "resubmit a batch's errored/expired/canceled requests",
        "retry:cmd_retry",
        _add_retry,
    ),
    ("cancel", "cancel a batch in progress", "manage:cmd_cancel", _add_confirmed),
    ("delete", "delete an ended batch from the API", "manage:cmd_delete", _add_confirmed),
    ("label", "set (or clear with '') a batch's local label", "manage:cmd_label", _add_label),
    (
        "reconcile",
        "resolve submissions left open by a crash or timeout",
        "reconcile:cmd_reconcile",
        _add_reconcile,
    ),
    ("locate", "print where config and data live", "local:cmd_locate", _json_flag),
    ("emulator", "serve a local Message Batches API emulator", "local:cmd_emulator", _add_emulator),
    (
        "serve",
        "the dashboard in a browser (prints the URL to open, with a one-time token)",
        "serve:cmd_serve",
        _add_serve,
    ),
)


class _CommandParser(argparse.ArgumentParser):
    """A command's parser that gets its arguments when it is used (parsed, or its help or
    usage shown): building the tree runs none of them, so `batchtop` and `batchtop --demo`
    no longer import the emulator (~0.5 s) just to describe `batchtop emulator`."""

    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None

    def _complete(self) -> None:
        add, self.add_arguments = self.add_arguments, None
        if add is not None:
            add(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._complete()
        return super().parse_known_args(args, namespace)

    def _parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        # what every parse goes through, whichever public method a Python version's
        # subparsers action calls
        self._complete()
        return super()._parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()

    def format_help(self) -> str:
        self._complete()
        return super().format_help()


def _and_provider(
    add_arguments: Callable[[argparse.ArgumentParser], None],
) -> Callable[[argparse.ArgumentParser], None]:
    def both(p: argparse.ArgumentParser) -> None:
        add_arguments(p)
        _provider_flag(p)

    return both


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchtop",
        description="A terminal dashboard and command line for LLM batch jobs (Anthropic"
        " Message Batches, OpenAI Batch API)."
        " With no command, opens the dashboard.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument(
        "--demo", action="store_true", help="open the dashboard against a built-in emulator"
    )
    _provider_flag(parser, dashboard=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    for name, help_text, handler, add_arguments in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_arguments = add_arguments if name in _NO_PROVIDER else _and_provider(add_arguments)
    return parser


# Commands that open no service (their own options say which API, if any).
_NO_PROVIDER = frozenset({"locate", "emulator", "serve"})
PROVIDERS = ("anthropic", "openai")


def _provider_flag(p: argparse.ArgumentParser, *, dashboard: bool = False) -> None:
    default = (
        "default: the dashboard shows every provider whose key is set (so do ls, watch,"
        " reconcile and a command given a batch or job id); submit uses the provider"
        " setting, anthropic"
        if dashboard
        else "default: ls, watch, reconcile and a command given a batch or job id cover every"
        " provider whose key is set (the one owning the id); submit uses the provider"
        " setting, anthropic"
    )
    p.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=argparse.SUPPRESS,
        help="the batch API: anthropic (ANTHROPIC_API_KEY) or openai (OPENAI_API_KEY,"
        " OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID; needs batchtop[openai])"
        f" ({default})",
    )

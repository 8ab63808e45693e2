"""Command-line glue: `batchtop emulator` options and the serve-until-signal loop."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
from pathlib import Path

from .clock import ScaledClock
from .config import EmulatorConfig, FaultConfig
from .handle import Api, make_server


def _rate(text: str) -> float | None:
    if text.lower() in ("instant", "none", "0"):
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("rate must be positive (or 'instant')")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a fault rate is a probability between 0 and 1")
    return value


def _key_workspace(text: str) -> tuple[str, str]:
    key, sep, workspace = text.partition("=")
    if not sep or not key or not workspace:
        raise argparse.ArgumentTypeError("expected KEY=WORKSPACE_ID")
    return key, workspace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define the emulator's options on `parser`."""
    parser.add_argument(
        "--api",
        choices=["anthropic", "openai"],
        default="anthropic",
        help="which API to emulate: Anthropic's Message Batches (default) or OpenAI's"
        " Files + Batches (the base URL printed then ends in /v1)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: in memory)")
    parser.add_argument(
        "--rate",
        type=_rate,
        default=None,
        help="requests processed per emulated second per batch, or 'instant' (default)",
    )
    parser.add_argument(
        "--counters",
        choices=["live", "at-end"],
        default=None,
        help="request counters move live or only when the batch ends (default: at-end for"
        " anthropic, live for openai, as each real API does)",
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="emulated seconds per real second"
    )
    parser.add_argument("--start-delay", type=float, default=0.0, help="emulated seconds")
    parser.add_argument("--cancel-delay", type=float, default=5.0, help="emulated seconds")
    parser.add_argument(
        "--finalize-delay",
        type=float,
        default=0.0,
        help="emulated seconds an OpenAI batch stays finalizing",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for ids, replies and order")
    parser.add_argument("--fail-429", type=_probability, default=0.0, metavar="P")
    parser.add_argument("--fail-529", type=_probability, default=0.0, metavar="P")
    parser.add_argument("--fail-500", type=_probability, default=0.0, metavar="P")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds sent with 429")
    parser.add_argument("--latency", type=float, default=0.0, help="added seconds per request")
    parser.add_argument("--transient-404", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--cut-results-after", type=int, default=None, metavar="BYTES")
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        help="accepted key (repeatable); default: any non-empty key",
    )
    parser.add_argument(
        "--workspace",
        action="append",
        default=None,
        type=_key_workspace,
        metavar="KEY=WORKSPACE_ID",
        help="batches created with KEY belong to that workspace (repeatable); other keys"
        " share the default workspace",
    )
    parser.add_argument(
        "--example-mode", action="store_true", help="unknown ids answer an example batch"
    )


def config_from_args(ns: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=ns.host,
        port=ns.port,
        db_path=ns.db,
        api_keys=frozenset(ns.api_key) if ns.api_key else None,
        counters=ns.counters or ("live" if ns.api == "openai" else "at-end"),
        rate=ns.rate,
        start_delay_s=ns.start_delay,
        cancel_delay_s=ns.cancel_delay,
        finalize_delay_s=ns.finalize_delay,
        time_scale=ns.time_scale,
        seed=ns.seed,
        faults=FaultConfig(
            rate_429=ns.fail_429,
            rate_529=ns.fail_529,
            rate_500=ns.fail_500,
            latency_s=ns.latency,
            retry_after_s=ns.retry_after,
            transient_404_s=ns.transient_404,
            cut_results_after_bytes=ns.cut_results_after,
            seed=ns.seed,
        ),
        example_mode=ns.example_mode,
        key_workspaces=dict(ns.workspace or []),
    )


async def _serve(config: EmulatorConfig, api: Api) -> None:
    server = make_server(config, ScaledClock(config.time_scale), api)
    base_url = await server.start()
    print(base_url, flush=True)
    variable = "OPENAI_BASE_URL" if api == "openai" else "ANTHROPIC_BASE_URL"
    print(
        f"batchtop emulator: export {variable}={base_url} (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def run_from_args(ns: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; the base URL is the first line on stdout."""
    config = config_from_args(ns)
    try:
        asyncio.run(_serve(config, ns.api))
    except sqlite3.Error as exc:
        print(f"batchtop emulator: cannot use database {config.db_path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{config.host}:{config.port}"
        print(f"batchtop emulator: cannot listen on {where}: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchtop.core.emulator",
        description="A local Anthropic Message Batches (or, with --api openai, OpenAI Files +"
        " Batches) API emulator.",
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))

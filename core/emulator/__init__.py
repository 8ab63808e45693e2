"""A faithful local Message Batches API server (aiohttp, SQLite-backed).

Used by the tests, the demo and the benchmarks: unmodified SDK clients work against it with
only the base URL changed. See `EmulatorConfig` for what can be tuned.
"""

from .cli import add_arguments, run_from_args
from .clock import Clock, ManualClock, ScaledClock
from .config import EmulatorConfig, FaultConfig, Rule
from .handle import EmulatorHandle, run_in_thread
from .server import EmulatorServer
from .stats import EmulatorStats

__all__ = [
    "Clock",
    "EmulatorConfig",
    "EmulatorHandle",
    "EmulatorServer",
    "EmulatorStats",
    "FaultConfig",
    "ManualClock",
    "Rule",
    "ScaledClock",
    "add_arguments",
    "run_from_args",
    "run_in_thread",
]

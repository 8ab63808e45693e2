"""A faithful local Message Batches API server (aiohttp, SQLite-backed).

Unmodified SDK clients work against it with only the base URL changed; tests, the demo and
the benchmarks all use it. Module map: `config` (EmulatorConfig, FaultConfig, Rule),
`clock` (ManualClock, ScaledClock), `behaviour` (create-time validation, per-request
outcomes and replies), `intake` (create body → stored rows), `state` (SQLite; lazy
lifecycle), `envelope` (error bodies), `server` (aiohttp routes, auth, faults, streaming),
`handle` (run_in_thread), `cli` (`batchtop emulator`, `python -m batchtop.core.emulator`),
`wire` (fault picking, slow creates, bounded body reads, cut streams, serving: shared
with the OpenAI emulator in `openai_api/`, which `run_in_thread(..., api="openai")` and
`batchtop emulator --api openai` start).

Endpoints (`?beta=true` routes identically): POST/GET /v1/messages/batches,
GET/DELETE /v1/messages/batches/{id}, POST …/{id}/cancel, GET …/{id}/results,
GET /v1/models[/{id}], POST /v1/messages/count_tokens.

Lifecycle is derived from the clock when a batch is read: request i of a batch finishes at
created + start_delay + (i+1)/rate (+ a rule's delay_s); cancel stops new completions and
ends the batch cancel_delay_s later; 24 h after creation unprocessed requests expire; 29 days
after creation results are archived (`EmulatorHandle.retire` archives an ended batch at once,
and expires an OpenAI batch's files: how the demo, open for hours, keeps its emulators'
memory bounded). Rules are applied when a batch is created.

`handle.stats.count(endpoint, status)` counts requests per route name: create, list,
retrieve, cancel, delete, results, models, model, count_tokens, unknown (499 = the client
hung up).
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

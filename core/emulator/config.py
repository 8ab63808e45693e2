"""Configuration of the emulator: what it accepts, how fast it works, which faults it injects."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Counters = Literal["live", "at-end"]
Outcome = Literal["succeeded", "errored", "canceled", "expired"]

#: The real API's body limit for batch creation (Cloudflare answers 413 above it).
MAX_BODY_BYTES = 256 * 1024 * 1024
#: The real API's limit on requests per batch.
MAX_REQUESTS = 100_000


@dataclass(slots=True)
class FaultConfig:
    """Injected failures; mutable while the server runs (tests flip them on and off).

    Rates are probabilities per API request. `transient_404_s` makes retrieve/results of a
    batch answer 404 for that many emulated seconds after its creation (seen on the real
    API; OpenAI: retrieve after the batch's creation, a batch's output and error files after
    they were written). `cut_results_after_bytes` closes the results stream abruptly after
    that many bytes.
    """

    rate_429: float = 0.0
    rate_529: float = 0.0
    rate_500: float = 0.0
    # A gateway's 504: the request is answered so without the server acting on it (a real
    # one may still be processing it: clients cannot tell the two apart).
    rate_504: float = 0.0
    latency_s: float = 0.0
    # A slow create: the request has arrived (counted in `EmulatorStats.arrivals`) and the
    # batch is made this many seconds later (a client that gives up meanwhile cannot know).
    create_latency_s: float = 0.0
    # OpenAI: a slow upload, held this many seconds before its body is read (the server's
    # `held_uploads` counts them; `release_slow_uploads`); one whose client is gone by then
    # is dropped, nothing stored (a client killed mid-upload leaves no file).
    upload_latency_s: float = 0.0
    # A slow results stream (Anthropic): the first piece is sent, then the rest waits this
    # many seconds (`EmulatorServer.held_results` counts them; `release_slow_results`).
    results_latency_s: float = 0.0
    # The routes the rates apply to (their names: "create", "file_upload", …); empty: all.
    fault_endpoints: tuple[str, ...] = ()
    retry_after_s: float = 1.0
    retry_after_all: bool = False
    transient_404_s: float = 0.0
    cut_results_after_bytes: int | None = None
    seed: int = 0

    def update(self, **changes: Any) -> None:
        """Set the named fields; unknown names are a programming error."""
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise TypeError(f"FaultConfig has no field {key!r}")
            setattr(self, key, value)


@dataclass(frozen=True, slots=True)
class Rule:
    """Scripted outcome for requests whose custom_id matches `pattern` (re.search).

    `outcome="succeeded"` with `text` fixes the reply text; `delay_s` makes the request slow
    (it finishes that many emulated seconds later). Validation errors of the request still
    win over a "succeeded" rule; errored/canceled/expired rules win over everything.
    """

    pattern: str
    outcome: Outcome = "succeeded"
    error_type: str | None = None
    error_message: str | None = None
    text: str | None = None
    delay_s: float | None = None
    # force a succeeded reply's stop reason ("refusal", "pause_turn", "max_tokens", ...)
    stop_reason: str | None = None


@dataclass(slots=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour (see the team brief's contract)."""

    host: str = "127.0.0.1"
    port: int = 0
    db_path: Path | None = None
    api_keys: frozenset[str] | None = None
    counters: Counters = "at-end"
    rate: float | None = None
    start_delay_s: float = 0.0
    cancel_delay_s: float = 5.0
    # OpenAI: how long a batch stays `finalizing` after its last request (emulated seconds)
    finalize_delay_s: float = 0.0
    time_scale: float = 1.0
    seed: int = 0
    shuffle_results: bool = True
    faults: FaultConfig = field(default_factory=FaultConfig)
    rules: list[Rule] = field(default_factory=list)
    example_mode: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    max_requests: int = MAX_REQUESTS
    # Workspaces: batches belong to the workspace of the key that created them, and every
    # response names the organization and the workspace (`anthropic-organization-id`,
    # `anthropic-workspace-id` headers, as the real API sends). Keys not listed in
    # `key_workspaces` use the default workspace. None: ids derived from the seed.
    organization_id: str | None = None
    workspace_id: str | None = None
    key_workspaces: dict[str, str] = field(default_factory=dict)

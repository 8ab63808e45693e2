"""Create-time work: parse and validate a create body, decide every request's fate."""

from __future__ import annotations

import math
import random

import orjson

from .behaviour import CreateError, Synthesizer, validate_requests
from .config import EmulatorConfig, Rule
from .envelope import ApiFailure
from .state import US, PendingRequest


def prepare_batch(
    raw: bytes, batch_id: str, now_us: int, cfg: EmulatorConfig, rules: list[Rule]
) -> tuple[list[PendingRequest], int]:
    """Validate a create body and decide every request's fate: (rows in stored order, the
    time the last processable request finishes). Raises ApiFailure for create-time errors."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiFailure(400, f"The request body is not valid JSON: {exc}") from None
    try:
        pairs = validate_requests(body, cfg.max_requests)
    except CreateError as exc:
        raise ApiFailure(400, str(exc)) from None
    synth = Synthesizer(rules, cfg.seed)
    start = now_us + int(cfg.start_delay_s * US)
    rate = cfg.rate if cfg.rate is not None and cfg.rate > 0 else None
    dumps = orjson.dumps
    rows: list[PendingRequest] = []
    done = start
    for idx, (custom_id, params) in enumerate(pairs):
        outcome = synth.outcome(batch_id, custom_id, params)
        ready: int | None = None  # scripted canceled/expired: never processed
        if outcome.line is not None:
            ready = start + int(outcome.delay_s * US)
            if rate is not None:
                ready += math.ceil((idx + 1) * US / rate)
            done = max(done, ready)
        rows.append(
            PendingRequest(
                idx, custom_id, dumps(params).decode(), outcome.kind, ready, outcome.line
            )
        )
    if cfg.shuffle_results:
        random.Random(f"{cfg.seed}:{batch_id}").shuffle(rows)
    return rows, done

"""Measured input tokens: the token-counting endpoint on a sample of an import's requests.

The estimate counts about 4 characters per token; the API's `POST /v1/messages/count_tokens`
says what a request really costs as input. A sample spread evenly over the prepared parts is
measured; when it is every request the input tokens are exact, otherwise the estimate's input
tokens (and the input share of its costs) are scaled by what the sample measured against what
it was estimated at. The estimate says which it is (`CostEstimate.input_basis`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import orjson

from .errors import UserError
from .models import CostEstimate, ImportReport
from .pricing import request_input_tokens

#: requests measured when no sample size is given
DEFAULT_SAMPLE = 20


def sample_positions(total: int, size: int) -> list[int]:
    """`size` request positions (0-based) spread evenly over `total` (all of them if fewer)."""
    if size <= 0 or total <= 0:
        return []
    if size >= total:
        return list(range(total))
    return sorted({(2 * k + 1) * total // (2 * size) for k in range(size)})


def read_sample(report: ImportReport, positions: Sequence[int]) -> Iterator[dict[str, Any]]:
    """The params of the requests at `positions` (import order), read from the prepared parts
    one line at a time."""
    if report.prepared_path is None:
        raise UserError("Nothing to measure: the import has no prepared requests.")
    wanted = iter(sorted(positions))
    target = next(wanted, None)
    seen = 0
    for part in report.parts:
        if target is None:
            return
        if target >= seen + part.request_count:
            seen += part.request_count
            continue
        path = part.path
        try:
            with open(path, "rb") as fh:
                for line in fh:
                    while target is not None and target == seen:
                        params = orjson.loads(line).get("params")
                        if isinstance(params, dict):
                            yield params
                        target = next(wanted, None)
                    seen += 1
                    if target is None:
                        return
        except OSError as exc:
            raise UserError(f"Cannot read the prepared part {path}: {exc.strerror}.") from exc


def calibrated(
    estimate: CostEstimate, measured: Sequence[int], estimated: Sequence[int], total: int
) -> CostEstimate:
    """The estimate with measured input tokens: `measured[i]` is what the endpoint counted for
    a request estimated at `estimated[i]`; `total` requests in all."""
    if not measured:
        return estimate
    ratio = sum(measured) / max(1, sum(estimated))
    # every request measured: the sum itself; else the estimate scaled (the input share of
    # the costs scales with it, at the tier each request was estimated in)
    tokens = sum(measured) if len(measured) >= total else round(estimate.input_tokens * ratio)
    extra_batch = estimate.input_only_batch_usd * (ratio - 1)
    extra_standard = estimate.input_only_standard_usd * (ratio - 1)
    return replace(
        estimate,
        input_tokens=tokens,
        batch_usd=estimate.batch_usd + extra_batch,
        standard_usd=estimate.standard_usd + extra_standard,
        input_only_batch_usd=estimate.input_only_batch_usd + extra_batch,
        input_only_standard_usd=estimate.input_only_standard_usd + extra_standard,
        exact=len(measured) >= total,
        measured_requests=len(measured),
        request_count=total,
    )


def estimated_tokens(params: dict[str, Any]) -> int:
    """What the estimate counted for one request (the sample's denominator)."""
    return request_input_tokens(params)

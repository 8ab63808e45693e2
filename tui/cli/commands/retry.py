"""`batchtop retry ID`: resubmit a batch's failed requests as a new batch.

Core decides what is resent (`core/retry.py`): requests that would fail the same way again
(invalid_request_error, not_found_error, …) are left out unless `--include-invalid`;
`--refusals` and `--max-tokens N` add the successes that stopped with a refusal or were cut at
max_tokens (resent with max_tokens N). The count is said before sending (stderr) and what was
sent after (stdout, or `--json`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batchtop.core.errors import UserError
from batchtop.tui.cli.render import clean, console, print_json
from batchtop.tui.cli.session import ask, can_ask, resolve, routed
from batchtop.tui.format import money
from batchtop.tui.words import (
    left_out_words,
    not_raised_words,
    quantity,
    resend_words,
    unknown_words,
)

if TYPE_CHECKING:
    from batchtop.core.models import RetryPlan
    from batchtop.core.service import BatchService


def _cost_confirmed(service: BatchService, ns: argparse.Namespace, plan: RetryPlan) -> bool:
    """As a submit: above `confirm_submit_above_usd` (core's `CostEstimate.above_limit`), a
    retry goes out with --yes or after a yes on the terminal; without one it is refused."""
    limit = service.settings.confirm_submit_above_usd
    cost = None if ns.yes or plan.estimate is None else plan.estimate.above_limit(limit)
    if cost is None:
        return True
    if not can_ask():
        raise UserError(
            f"The estimated cost ({cost}) is above {money(limit)} (confirm_submit_above_usd):"
            " nothing was resent; re-run with --yes to resend it."
        )
    return ask(f"Resend {quantity(plan.resend, 'request')} for about {cost}?")


@routed("id")
async def cmd_retry(service: BatchService, ns: argparse.Namespace) -> int:
    ids = await resolve(service, ns.id)
    if len(ids) != 1:
        raise UserError("retry takes one batch id (a job holds several batches).")
    [batch_id] = ids
    service.require_key(batch_id)
    options = {
        "include_invalid": ns.include_invalid,
        "refusals": ns.refusals,
        "max_tokens": ns.max_tokens,
    }
    plan = await service.retry_plan(ids, **options)
    notes = console(stderr=True)
    left_out = left_out_words(plan)
    if plan.resend:
        notes.print(f"resending {resend_words(plan)} of {clean(batch_id)}", highlight=False)
    if left_out:
        notes.print(f"left out: {left_out} (--include-invalid resends them)", highlight=False)
    if unknown := unknown_words(plan):
        notes.print(f"left out: {unknown}", highlight=False)
    if not_raised := not_raised_words(plan):
        notes.print(f"left out: {not_raised}", highlight=False)
    if plan.resend and not _cost_confirmed(service, ns, plan):
        notes.print("nothing was resent")
        return 1
    outcome = await service.retry_failed(batch_id, **options)
    submitted = outcome.submitted
    if ns.json:
        print_json(
            {
                "job_id": submitted.job_id,
                "batch_ids": list(submitted.batch_ids),
                "requests": outcome.sent,
                "refusals": outcome.plan.resend_by_stop.get("refusal", 0),
                "max_tokens_cuts": outcome.plan.resend_by_stop.get("max_tokens", 0),
                "left_out": outcome.plan.left_out,
                "unknown": outcome.plan.unknown,
            }
        )
    else:
        for bid in submitted.batch_ids:
            console().print(
                f"submitted {bid}: {quantity(outcome.sent, 'request')} (retry of {batch_id})",
                highlight=False,
            )
    for err in submitted.errors:
        notes.print(clean(err), highlight=False)
    return 0

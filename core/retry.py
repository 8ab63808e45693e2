"""Which failed requests a retry resends: the rule, in one place.

A request that errored because of the request itself (invalid parameters, a model it may not
use, too large) meets the same error when it is sent again; one that errored on the server's
side (overloaded, an internal error, a rate limit), expired or was canceled can succeed on a
resend. The first kind is left out unless asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from .models import FailedRequest, ResultType, RetryPlan

#: Error types a resend of the same request meets again.
UNRETRYABLE_ERRORS = frozenset(
    {"invalid_request_error", "not_found_error", "request_too_large", "permission_error"}
)


def would_fail_again(request: FailedRequest) -> bool:
    return request.type is ResultType.ERRORED and request.error_type in UNRETRYABLE_ERRORS


def choose(
    batch_id: str, failed: Iterable[FailedRequest], *, include_invalid: bool = False
) -> tuple[RetryPlan, list[FailedRequest]]:
    """The plan for one batch and the requests it resends (parameters known, in id order)."""
    chosen: list[FailedRequest] = []
    left_out: Counter[str] = Counter()
    unknown = 0
    for request in failed:
        if request.params_json is None:
            unknown += 1
        elif would_fail_again(request) and not include_invalid:
            left_out[request.error_type or ""] += 1
        else:
            chosen.append(request)
    chosen.sort(key=lambda r: r.custom_id)
    plan = RetryPlan(
        batch_ids=(batch_id,) if chosen else (),
        resend=len(chosen),
        resend_by_type=dict(Counter(r.type for r in chosen)),
        left_out=dict(left_out),
        unknown=unknown,
        include_invalid=include_invalid,
    )
    return plan, chosen


def merge(plans: Sequence[RetryPlan]) -> RetryPlan:
    """One plan for several batches (a job's)."""
    by_type: Counter[ResultType] = Counter()
    left_out: Counter[str] = Counter()
    for plan in plans:
        by_type.update(plan.resend_by_type)
        left_out.update(plan.left_out)
    return RetryPlan(
        batch_ids=tuple(b for plan in plans for b in plan.batch_ids),
        resend=sum(plan.resend for plan in plans),
        resend_by_type=dict(by_type),
        left_out=dict(left_out),
        unknown=sum(plan.unknown for plan in plans),
        include_invalid=any(plan.include_invalid for plan in plans),
    )

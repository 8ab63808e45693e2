"""Which failed requests a retry resends: the rule, in one place.

A request that errored because of the request itself (invalid parameters, a model it may not
use, too large) meets the same error when it is sent again; one that errored on the server's
side (overloaded, an internal error, a rate limit), expired or was canceled can succeed on a
resend. The first kind is left out unless asked for.

A succeeded request that stopped with `refusal`, or was cut at `max_tokens`, is resent only
when asked for: refusals as they were, cuts with a new, higher `max_tokens` (a cut whose own
`max_tokens` is already that high would be cut again, so it is left out and counted).

A cut is a result whose stop reason means `max_tokens` (`openai_lines.neutral_stop`): the
Message Batches stop reason, and OpenAI's cuts (a chat completion's `finish_reason:
"length"`, a response `incomplete` for `max_output_tokens`); a refusal one that means
`refusal` (OpenAI's `content_filter` too). The new budget
goes to the field the request's endpoint reads (`budget_fields`): `max_tokens` for Message
Batches, `max_output_tokens` for OpenAI responses, and for chat completions the fields the
body had (`max_completion_tokens`, or the older `max_tokens`), else `max_completion_tokens`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from .errors import UserError
from .models import FailedRequest, ResultType, RetryPlan
from .providers.openai_lines import neutral_stop

#: Error types a resend of the same request meets again.
UNRETRYABLE_ERRORS = frozenset(
    {"invalid_request_error", "not_found_error", "request_too_large", "permission_error"}
)


def would_fail_again(request: FailedRequest) -> bool:
    return request.type is ResultType.ERRORED and request.error_type in UNRETRYABLE_ERRORS


#: Stop reasons of succeeded requests a retry can resend when asked.
RESENDABLE_STOPS = ("refusal", "max_tokens")


def check_max_tokens(max_tokens: int | None) -> None:
    """A new max_tokens for cuts is a positive whole number (the model's limit is checked
    by the caller, which knows the model)."""
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise UserError(f"The new max_tokens must be a positive whole number, not {max_tokens!r}.")


def budget_fields(params: Mapping[str, Any], endpoint: str | None) -> tuple[str, ...]:
    """The fields of a request's `params` that hold its output budget (see the module):
    `endpoint` is the OpenAI batch's, None for Message Batches."""
    if endpoint is None:
        return ("max_tokens",)
    if endpoint.endswith("/responses"):
        return ("max_output_tokens",)
    present = tuple(f for f in ("max_completion_tokens", "max_tokens") if f in params)
    return present or ("max_completion_tokens",)


def budget_field_name(fields: Iterable[tuple[str, ...]], endpoint: str | None) -> str:
    """The budget field(s) a plan names (`RetryPlan.budget_field`): those of its cuts
    (`budget_fields` of each), else the endpoint's default; several: `a / b`."""
    found = sorted({f for names in fields for f in names})
    if found:
        return " / ".join(found)
    return budget_fields({}, endpoint)[0]


def _own_max_tokens(request: FailedRequest, endpoint: str | None) -> int | None:
    params = orjson.loads(request.params_json or "null")
    if not isinstance(params, dict):
        return None
    values = [params.get(f) for f in budget_fields(params, endpoint)]
    budgets = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return min(budgets) if budgets else None


def choose(
    batch_id: str,
    failed: Iterable[FailedRequest],
    *,
    include_invalid: bool = False,
    refusals: bool = False,
    max_tokens: int | None = None,
    endpoint: str | None = None,
) -> tuple[RetryPlan, list[FailedRequest]]:
    """The plan for one batch and the requests it resends (parameters known, in id order).

    `refusals` adds the succeeded requests that stopped with `refusal`; `max_tokens` adds
    those cut at `max_tokens`, to be resent with that value (see `resend_params`);
    `endpoint`: the OpenAI batch's (None: Message Batches).
    """
    check_max_tokens(max_tokens)
    chosen: list[FailedRequest] = []
    left_out: Counter[str] = Counter()
    unknown = not_raised = 0
    seen: Counter[str] = Counter()
    cut_fields: set[tuple[str, ...]] = set()
    for request in failed:
        stop = neutral_stop(request.stop_reason) if request.type is ResultType.SUCCEEDED else None
        if stop in RESENDABLE_STOPS:
            seen[stop or ""] += 1
        if stop == "max_tokens" and endpoint is not None and request.params_json is not None:
            params = orjson.loads(request.params_json)
            if isinstance(params, dict):
                cut_fields.add(budget_fields(params, endpoint))
        if request.type is ResultType.SUCCEEDED and not (
            (stop == "refusal" and refusals) or (stop == "max_tokens" and max_tokens is not None)
        ):
            continue  # a success, or a stop the retry was not asked to resend
        if request.params_json is None:
            unknown += 1
        elif would_fail_again(request) and not include_invalid:
            left_out[request.error_type or ""] += 1
        elif (
            stop == "max_tokens"
            and max_tokens is not None
            and ((own := _own_max_tokens(request, endpoint)) is not None and own >= max_tokens)
        ):
            not_raised += 1
        else:
            chosen.append(request)
    chosen.sort(key=lambda r: r.custom_id)
    failures = [r for r in chosen if r.type is not ResultType.SUCCEEDED]
    stops = [neutral_stop(r.stop_reason) or "" for r in chosen if r.type is ResultType.SUCCEEDED]
    plan = RetryPlan(
        batch_ids=(batch_id,) if chosen else (),
        resend=len(chosen),
        resend_by_type=dict(Counter(r.type for r in failures)),
        left_out=dict(left_out),
        unknown=unknown,
        include_invalid=include_invalid,
        resend_by_stop=dict(Counter(stops)),
        refusals=refusals,
        max_tokens=max_tokens,
        not_raised=not_raised,
        stops_seen=dict(seen),
        budget_field=budget_field_name(cut_fields, endpoint),
    )
    return plan, chosen


def resend_params(request: FailedRequest, plan: RetryPlan, endpoint: str | None = None) -> Any:
    """The parameters a chosen request is resent with: as sent before, except a cut at
    `max_tokens`, which gets the plan's new budget in its endpoint's field(s)
    (`budget_fields`; `endpoint` the OpenAI batch's, None for Message Batches)."""
    params = orjson.loads(request.params_json or "null")
    if (
        request.type is ResultType.SUCCEEDED
        and neutral_stop(request.stop_reason) == "max_tokens"
        and plan.max_tokens is not None
        and isinstance(params, dict)
    ):
        for name in budget_fields(params, endpoint):
            params[name] = plan.max_tokens
    return params


def merge(plans: Sequence[RetryPlan]) -> RetryPlan:
    """One plan for several batches (a job's)."""
    by_type: Counter[ResultType] = Counter()
    by_stop: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    for plan in plans:
        by_type.update(plan.resend_by_type)
        by_stop.update(plan.resend_by_stop)
        seen.update(plan.stops_seen)
        left_out.update(plan.left_out)
    return RetryPlan(
        batch_ids=tuple(b for plan in plans for b in plan.batch_ids),
        resend=sum(plan.resend for plan in plans),
        resend_by_type=dict(by_type),
        left_out=dict(left_out),
        unknown=sum(plan.unknown for plan in plans),
        include_invalid=any(plan.include_invalid for plan in plans),
        resend_by_stop=dict(by_stop),
        refusals=any(plan.refusals for plan in plans),
        max_tokens=next((p.max_tokens for p in plans if p.max_tokens is not None), None),
        not_raised=sum(plan.not_raised for plan in plans),
        stops_seen=dict(seen),
        budget_field=budget_field_name((tuple(p.budget_field.split(" / ")) for p in plans), None),
        estimate=plans[0].estimate if len(plans) == 1 else None,
    )

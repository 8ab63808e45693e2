"""Plain dataclasses passed between batchtop's layers.

The API client, the store and the service all speak these types; front ends render them.
No SDK (pydantic) object ever leaves `core`, so the TUI and the CLI never depend on the
wire format, and the store can rebuild every one of them offline.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from .redact import url_for_display
from .words import numbered, quantity

# --- batches ---------------------------------------------------------------------------


class ProcessingStatus(enum.StrEnum):
    """The three processing states of a Message Batch (there is no "failed" state)."""

    IN_PROGRESS = "in_progress"
    CANCELING = "canceling"
    ENDED = "ended"


class ResultType(enum.StrEnum):
    """The outcome of one request inside a batch."""

    SUCCEEDED = "succeeded"
    ERRORED = "errored"
    CANCELED = "canceled"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class RequestCounts:
    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired

    @property
    def done(self) -> int:
        """Requests that reached a final state."""
        return self.total - self.processing

    @property
    def failed(self) -> int:
        """Requests that ended without a result: errored, expired or canceled."""
        return self.errored + self.expired + self.canceled

    @property
    def has_errors(self) -> bool:
        """What the "with errors" view and the warnings go by: errored or expired requests
        (canceled ones were asked for)."""
        return bool(self.errored or self.expired)


@dataclass(frozen=True, slots=True)
class BatchError:
    """One reason a provider gives for failing a whole batch (OpenAI's `errors.data[]`: an
    input file that did not validate): its code and message, and where in the input file
    (1-based `line`, the `param` it is about) when the provider says."""

    code: str
    message: str
    line: int | None = None
    param: str | None = None

    @property
    def text(self) -> str:
        """`line 2 body.model: mismatched_model: …` (what is known of it, on one line)."""
        where = " ".join(
            part for part in (f"line {self.line}" if self.line else "", self.param or "") if part
        )
        head = f"{where}: " if where else ""
        body = ": ".join(part for part in (self.code, self.message) if part)
        return " ".join(f"{head}{body}".split())


PROVIDER_NAMES: dict[str, str] = {"anthropic": "Anthropic", "openai": "OpenAI"}
"""How a provider (`RemoteBatch.provider`, the lowercase id) is named to a user."""


BETA_PROVIDERS = frozenset({"anthropic"})
"""Providers whose batches are created with beta features (the `anthropic-beta` header):
only theirs have betas to show, even none."""


def provider_name(provider: str) -> str:
    """'OpenAI' for `openai`; an unknown id as it is."""
    return PROVIDER_NAMES.get(provider, provider)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The tokens a provider reports for a whole batch (OpenAI's batch `usage`): input
    tokens (the cached ones included, `cached_tokens` of them) and output tokens (reasoning
    included), of the requests that ran."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class RemoteBatch:
    """A batch exactly as its provider's API last described it, in batchtop's words.

    `processing_status` and `request_counts` are the provider-neutral ones every view and
    rule goes by (core/providers/ maps each provider's onto them). What only one provider
    has is explicit and None elsewhere:
    - `provider_status`: the provider's own status word when it says more than the three
      neutral ones (OpenAI: validating, in_progress, finalizing, completed, failed, expired,
      cancelling, cancelled); None for Anthropic, whose status is `processing_status`.
    - `results_url`: Anthropic's results address (None until the batch ended).
    - `endpoint`, `input_file_id`, `output_file_id`, `error_file_id`: OpenAI's batch
      endpoint (`/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`) and files.
    - `submission_id`: batchtop's submission id, read back from the batch's metadata
      (OpenAI keeps metadata; a Message Batch has none).
    - `model`, `usage`: the model that ran the batch and the tokens it used (OpenAI's batch
      object; the store keeps the model and what the usage was billed, `costs.billed_usd`).
    - `errors`: why the provider failed the whole batch (OpenAI's `errors.data`), else ().
    """

    id: str
    processing_status: ProcessingStatus
    request_counts: RequestCounts
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    results_url: str | None = None
    provider: str = "anthropic"
    provider_status: str | None = None
    endpoint: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    submission_id: str | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    errors: tuple[BatchError, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.processing_status is not ProcessingStatus.ENDED

    @property
    def failed(self) -> bool:
        """The provider failed the whole batch (OpenAI's `failed`: its input file did not
        validate, `errors` say why): none of its requests ran."""
        return bool(self.errors) or self.provider_status == "failed"

    @property
    def failure(self) -> str | None:
        """Why the batch failed, on one line (its first error, and how many more), else None."""
        if not self.failed:
            return None
        if not self.errors:
            return "the provider gave no reason"
        more = len(self.errors) - 1
        return self.errors[0].text + (f" (and {quantity(more, 'more error')})" if more else "")

    @property
    def has_errors(self) -> bool:
        """What the "with errors" view and the warnings go by: errored or expired requests
        (`RequestCounts.has_errors`), or a batch the provider failed as a whole."""
        return self.request_counts.has_errors or self.failed

    @property
    def has_results(self) -> bool:
        """Whether the provider offers results to download (a results URL or files)."""
        return (
            self.results_url is not None
            or self.output_file_id is not None
            or self.error_file_id is not None
        )

    @property
    def results_never(self) -> str | None:
        """Why the batch will never have results, in words both front ends show (`show`'s
        results row, the statistics, an export's refusal); None when it has them or may
        still get them. A batch the provider failed as a whole has no output or error file:
        none of its requests ran."""
        if self.failed and not self.has_results:
            return "the batch failed, none of its requests ran"
        return None

    @property
    def status_text(self) -> str:
        """The status word to show: the provider's own when it has one (`validating`,
        `finalizing`), else the neutral one."""
        return self.provider_status or str(self.processing_status)

    @property
    def result_lines(self) -> int:
        """The fewest result lines a complete download of an ended batch holds (fewer: the
        download was cut): one per request, except (OpenAI) the requests a cancel or the
        expiry kept from running, which its output and error files need not list (a
        cancelled batch has "partial results (if any)" in its output file)."""
        counts = self.request_counts
        if self.provider == "openai":
            return counts.total - counts.canceled - counts.expired
        return counts.total

    @property
    def unlisted_outcome(self) -> ResultType | None:
        """What the requests an ended batch's results do not list ended as: OpenAI's
        cancelled batch → canceled, expired → expired (the requests they kept from
        running); None where every request has a result line."""
        if self.provider != "openai":
            return None
        return {"cancelled": ResultType.CANCELED, "expired": ResultType.EXPIRED}.get(
            self.provider_status or ""
        )


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch as the front ends show it: the remote state plus what batchtop knows locally.

    `seen_at` is when the remote state was last fetched; `deleted` marks batches that were
    deleted remotely (kept locally so their results stay browsable).
    """

    remote: RemoteBatch
    seen_at: datetime
    label: str | None = None
    note: str | None = None
    job_id: str | None = None
    job_part: int | None = None
    parent_batch_id: str | None = None
    model: str | None = None
    has_manifest: bool = False
    results_downloaded: bool = False
    results_indexed: int = 0
    estimated_cost_usd: float | None = None
    actual_cost_usd: float | None = None
    deleted: bool = False
    betas: tuple[str, ...] = ()  # the anthropic-beta values it was created with (its job's)
    # its estimate counts input only (requests without an output budget): at least that
    estimate_floor: bool = False

    @property
    def id(self) -> str:
        return self.remote.id


@dataclass(frozen=True, slots=True)
class BatchCost:
    """What a batch costs, as core decides it; front ends render it and never recompute it.

    `usd` is None when nothing is known (no estimate, or a model without a price);
    `unpriced` says it is the latter: front ends show "unknown", never a zero.
    `is_estimate` stays True until the results' usage is known: front ends mark such a
    figure (`~`). Canceled, expired and errored requests are not billed, so they count
    for nothing in either case. `standard_usd`/`savings_usd` are derived from `usd` (what
    was, or is expected to be, billed), never from the pre-submit upper bound alone.
    """

    usd: float | None
    is_estimate: bool
    standard_usd: float | None = None
    price_source: str = ""
    unpriced: bool = False  # the batch's model has no price: its cost is unknown
    # an estimate of input only (no output budget): what it will cost at least ("~$0.03+")
    floor: bool = False

    @property
    def savings_usd(self) -> float | None:
        if self.usd is None or self.standard_usd is None:
            return None
        return self.standard_usd - self.usd


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model as the Models API (`GET /v1/models`) describes it.

    `lifecycle` is the API's: "active", "deprecated" (still callable, retiring at
    `retires_at`) or "retired" (requests fail). `batch_max_tokens_beta` and `thinking` are
    not in the API's answer: they come from batchtop's catalogue file (model pages).
    """

    id: str
    display_name: str
    created_at: str
    lifecycle: str = "active"
    max_input_tokens: int | None = None
    max_tokens: int | None = None
    deprecated_at: str | None = None
    retires_at: str | None = None
    line: str | None = None
    aliases: tuple[str, ...] = ()
    batch_max_tokens_beta: int | None = None
    thinking: str = "off"


@dataclass(frozen=True, slots=True)
class CountSnapshot:
    """Request counts observed at one moment; the history feeds ETA and sparklines."""

    batch_id: str
    at: datetime
    counts: RequestCounts


JOB_ID_PREFIX = "job_"

# A batch's local label: one line of plain text, this long at most (both front ends)
LABEL_MAX_CHARS = 200
_LABEL_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


def checked_label(text: str | None) -> str | None:
    """A label as it is kept (surrounding blanks stripped; None: no label), or a one-line
    `UserError`: longer than `LABEL_MAX_CHARS`, or holding a line break or another control
    character (a label is one line, shown as typed)."""
    from .errors import UserError

    value = (text or "").strip()
    if not value:
        return None
    if len(value) > LABEL_MAX_CHARS:
        raise UserError(
            f"A label is at most {LABEL_MAX_CHARS} characters: this one has {len(value):,}."
        )
    if (bad := _LABEL_CONTROL.search(value)) is not None:
        shown = repr(bad.group())[1:-1]
        raise UserError(
            f"A label is one line of plain text: this one holds a control character ({shown})."
        )
    return value


"""How batchtop's job ids begin (the store mints them; no provider's API knows them)."""


@dataclass(frozen=True, slots=True)
class Job:
    """Several batches that came from one import (split because of the per-batch limits)."""

    id: str
    name: str
    created_at: datetime
    source: str | None = None
    batch_ids: tuple[str, ...] = ()
    # Hash of the prepared requests (one job per content), its number of parts, and where
    # its prepared part files wait until every part is created (None once all were).
    content_hash: str | None = None
    part_count: int | None = None
    prepared_path: str | None = None
    # the anthropic-beta values its batches are created with (sent on every create)
    betas: tuple[str, ...] = ()


# --- import / validation ---------------------------------------------------------------

ImportFormat = Literal["jsonl", "json", "records-jsonl", "csv", "txt"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """One problem found in an input file, located as precisely as the format allows."""

    severity: Severity
    message: str
    path: str
    line: int | None = None
    column: int | None = None
    field: str | None = None
    # The file holds this other provider's requests: each front end says how to import it
    # there (the command line by its --provider flag, the dashboard by showing it alone).
    for_provider: str | None = None

    def location(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.field:
            where += f" ({self.field})"
        return where


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to turn a file into batch requests."""

    format: ImportFormat | None = None  # None: guess from the extension and content
    template: str | None = None  # "{field}" placeholders, for json/records-jsonl/csv/txt
    model: str | None = None
    max_tokens: int | None = None
    system: str | None = None
    id_field: str | None = None  # record field to derive custom_id from
    max_requests_per_batch: int = 100_000
    max_bytes_per_batch: int = 256 * 1024 * 1024
    # The provider endpoint the requests target (OpenAI: /v1/chat/completions,
    # /v1/responses, /v1/embeddings); None: the provider's default. Message Batches have one.
    endpoint: str | None = None
    # Added to the ids batchtop numbers requests with (`auto_custom_id`): one per data
    # directory and workspace, so two clients' numbered requests never share custom_ids
    # (reconcile proves a batch ours by its custom_ids; `row-000001…` alone proved nothing).
    id_tag: str = ""


def auto_custom_id(n: int, tag: str) -> str:
    """The custom_id of the n-th request of an import that names none: `row-<tag>-000001`."""
    return f"row-{tag}-{n:06d}" if tag else f"row-{n:06d}"


@dataclass(frozen=True, slots=True)
class SplitPart:
    """One batch-to-be of a job: where its requests are and how big it is."""

    index: int
    request_count: int
    byte_size: int
    first_line: int
    last_line: int
    path: Path  # its prepared part file (`part_writer.part_path`)


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Cost of a set of requests at batch and at standard price (USD)."""

    input_tokens: int
    max_output_tokens: int
    batch_usd: float
    standard_usd: float
    exact: bool = False  # True when input tokens came from the token-counting endpoint
    unknown_models: tuple[str, ...] = ()
    # batch_usd/standard_usd assume every request writes its full max_tokens (upper bound);
    # these count input alone (the floor).
    input_only_batch_usd: float = 0.0
    input_only_standard_usd: float = 0.0
    # requests whose input tokens the token-counting endpoint measured (`core/token_count.py`):
    # all of them → `exact`; some → the others are scaled by what the sample measured
    measured_requests: int = 0
    request_count: int = 0  # the requests estimated (for the words below)
    # requests that write output with no budget to bound it (an OpenAI chat or responses
    # body without its budget field): their output is in no figure above
    unbounded_requests: int = 0

    @property
    def input_basis(self) -> str:
        """How the input tokens are known, in words both front ends show beside them."""
        if self.exact:
            return f"measured: count_tokens on all {self.measured_requests:,} requests"
        if self.measured_requests:
            return (
                f"estimated, scaled by a count_tokens sample of {self.measured_requests:,}"
                f" of {self.request_count:,} requests"
            )
        return "estimated from characters (about 4 per token)"

    @property
    def output_unbounded(self) -> bool:
        """No request of it bounds its output: the figure is its input alone."""
        return self.unbounded_requests > 0 and self.unbounded_requests >= self.request_count

    def above_limit(self, limit_usd: float) -> str | None:
        """The estimated cost, as both front ends show it, when it is above `limit_usd`
        (`confirm_submit_above_usd`): a submit or a retry of it then goes out only after a
        yes (`--yes` on the command line); None at or below it."""
        if self.batch_usd <= limit_usd:
            return None
        from .money import usd_text

        cost = usd_text(self.batch_usd, approx=True)
        if self.unbounded_requests:  # the figure is not the whole cost: never read as one
            cost = f"{cost} ({self.covers})"
        return cost

    @property
    def covers(self) -> str:
        """What the figure covers, in words both front ends show beside it: an upper bound
        (every request writes its whole output budget), or input only when no budget
        bounds the output (never a figure that reads as the whole cost)."""
        if not self.unbounded_requests:
            return "upper bound: every request writes its max_tokens"
        if self.output_unbounded:
            return "input only: output not bounded (no request sets an output budget)"
        return (
            f"output not counted for {quantity(self.unbounded_requests, 'request')}"
            " without an output budget (not bounded)"
        )

    @property
    def output_words(self) -> str:
        """The output tokens the figure counts: `up to 1,200 output`, or that it is not
        bounded."""
        if self.output_unbounded:
            return "output not bounded"
        return f"up to {self.max_output_tokens:,} output"

    @property
    def unpriced_words(self) -> str:
        """What has no price, in words both front ends show: the models by name, and
        requests that name no model (an embeddings body has no default) as such, never an
        empty list (`no price for: a, b`, `no model given`)."""
        named = [m for m in self.unknown_models if m.strip()]
        said = [f"no price for: {', '.join(named)}"] if named else []
        if len(named) < len(self.unknown_models):
            said.append("no model given")
        return "; ".join(said)

    @property
    def savings_usd(self) -> float:
        return self.standard_usd - self.batch_usd

    @property
    def unpriced(self) -> bool:
        """No request of it is on a model with a known price: its cost is unknown, and
        front ends say so instead of a $0.00 (some unpriced: the figure leaves them out)."""
        return bool(self.unknown_models) and self.standard_usd == 0


@dataclass(slots=True)
class ImportReport:
    """Everything learned about an input before anything is sent."""

    path: str
    format: ImportFormat
    request_count: int = 0
    byte_size: int = 0
    issues: list[ImportIssue] = field(default_factory=list)
    parts: list[SplitPart] = field(default_factory=list)
    estimate: CostEstimate | None = None
    models: dict[str, int] = field(default_factory=dict)
    preview: list[dict[str, Any]] = field(default_factory=list)  # first rendered requests
    prepared_path: Path | None = None  # normalised native JSONL, ready to submit
    notes: list[str] = field(default_factory=list)  # facts to show (where custom_ids come from)
    invalid_requests: int = 0  # requests (lines, records, rows) left out for their errors
    whole_file_errors: int = 0  # errors that are not about one request (template, I/O, …)

    @property
    def errors(self) -> list[ImportIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def can_submit_valid(self) -> bool:
        """Whether the valid requests can be sent without the invalid ones: every error is
        about a request of its own, and the valid ones are prepared."""
        return self.request_count > 0 and bool(self.parts) and self.whole_file_errors == 0

    @property
    def valid_only_summary(self) -> str:
        """What submitting the valid requests alone sends and leaves out, in one sentence."""
        left = self.invalid_requests
        return (
            f"{quantity(self.request_count, 'valid request')} will be sent;"
            f" {left:,} with errors {'are' if left != 1 else 'is'} left out."
        )

    @property
    def ok(self) -> bool:
        return self.request_count > 0 and not self.errors


# --- submission ----------------------------------------------------------------------


class IntentState(enum.StrEnum):
    PENDING = "pending"  # written before the create call
    SUBMITTED = "submitted"  # batch id recorded
    FAILED = "failed"  # the API refused it; nothing was created
    RECONCILED = "reconciled"  # id recovered after an ambiguous failure or a crash


@dataclass(frozen=True, slots=True)
class SubmitIntent:
    id: int
    job_id: str
    part: int
    request_count: int
    content_hash: str
    created_at: datetime
    state: IntentState
    batch_id: str | None = None
    error: str | None = None
    # Server clock minus the client's when the intent was written (None: not known then).
    server_offset_s: float | None = None
    # When the last create attempt ended (None: unknown, e.g. the process died mid-call).
    attempt_ended_at: datetime | None = None
    # Batches that could be this part's but are not proven: "unknown: not adopted".
    candidates: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        """Pending with look-alike batches that could not be proven ours."""
        return self.state is IntentState.PENDING and bool(self.candidates)

    @property
    def adoptable(self) -> bool:
        """Unknown with one ended look-alike only the user can judge (its message says how:
        `reconcile --adopt` or `--abandon`); the others wait for their look-alikes to end."""
        return self.unknown and ADOPT_COMMAND in (self.error or "")


@dataclass(frozen=True, slots=True)
class OrphanFile:
    """An input file batchtop uploaded (OpenAI) that no batch uses: its create never
    happened (a crash between the upload and the create). Reported; deleted when asked."""

    id: str
    filename: str
    bytes: int
    created_at: datetime
    # the submission id (job/part/intent) its name carries, None when it carries none
    submission_id: str | None = None
    # younger than `orphan_min_age_s` (server time): another process may be between its
    # upload and its create, so it is not deleted
    too_recent: bool = False


@dataclass(frozen=True, slots=True)
class SubmitProgress:
    """Reported while a job's parts are sent."""

    job_id: str
    part: int
    parts: int
    batch_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    job_id: str
    batch_ids: tuple[str, ...]
    failed_parts: tuple[int, ...] = ()
    errors: tuple[str, ...] = ()
    # A resumed job: the parts created before this submit (only the others were sent).
    resumed_parts: tuple[int, ...] = ()
    # Parts not sent because an earlier create of theirs is unresolved (in flight elsewhere,
    # or interrupted): their batch may exist; nothing is sent twice.
    unresolved_parts: tuple[int, ...] = ()
    betas: tuple[str, ...] = ()  # the anthropic-beta values its creates were sent with

    @property
    def complete(self) -> bool:
        """Every part this submit was for is known to be created."""
        return not self.failed_parts and not self.unresolved_parts


# A create whose answer was lost (a crash, Ctrl-C, a timeout) and whose batch has not
# appeared this long after it was journaled was never made: reconcile then closes it.
ABANDON_AFTER = timedelta(minutes=30)
# How a user records a look-alike reconcile could not prove as the part's batch.
ADOPT_COMMAND = "batchtop reconcile --adopt"
# How a user closes an unresolved part before then (what both front ends say).
ABANDON_HINT = (
    "`batchtop reconcile --abandon` closes it now: should its batch appear after all,"
    " the part would then be sent twice"
)


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How far a job's submission got: parts created, parts unresolved, parts never sent."""

    job: Job
    part_count: int
    created: tuple[int, ...]
    open: tuple[int, ...]
    missing: tuple[int, ...]
    open_since: datetime | None = None  # the newest unresolved create was journaled then

    @property
    def settles_by(self) -> datetime | None:
        """When every unresolved part is known for sure (`batchtop reconcile` then closes
        those whose batch never appeared, and a submit of the same file sends them)."""
        return None if self.open_since is None else self.open_since + ABANDON_AFTER

    @property
    def created_text(self) -> str:
        """Which of its parts were created, in words: "part 1 of 3 created", "none of its 2
        parts created", "its one part not created" (both front ends)."""
        if self.created:
            return f"{numbered('part', self.created)} of {self.part_count} created"
        if self.part_count == 1:
            return "its one part not created"
        return f"none of its {self.part_count} parts created"

    @property
    def partly_submitted(self) -> bool:
        return bool(self.created) and bool(self.missing or self.open)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.open


@dataclass(frozen=True, slots=True)
class FailedRequest:
    """A request of an ended batch that a retry chooses from: one without a result
    (errored, expired, canceled), or a succeeded one that stopped with `refusal` or was cut
    at `max_tokens` (`stop_reason` says which)."""

    custom_id: str
    type: ResultType  # errored, expired, canceled, or succeeded with the stop reason below
    error_type: str | None
    params_json: str | None  # None: batchtop does not know its parameters (no manifest)
    stop_reason: str | None = None  # a succeeded request's: "refusal" or "max_tokens"


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """What a retry of failed requests sends and what it leaves out (`core/retry.py` decides).

    Both front ends announce `resend` before asking and after sending: the number announced
    is the number sent.
    """

    batch_ids: tuple[str, ...]  # the batches that have something to resend
    resend: int
    resend_by_type: dict[ResultType, int]
    left_out: dict[str, int]  # error type -> requests that would fail the same way again
    unknown: int = 0  # failed requests whose parameters batchtop does not know
    include_invalid: bool = False
    #: succeeded requests resent because they stopped so: "refusal" / "max_tokens" -> count
    resend_by_stop: dict[str, int] = field(default_factory=dict)
    refusals: bool = False  # refusals were asked for
    max_tokens: int | None = None  # cuts were asked for, resent with this max_tokens
    #: cuts left out because their own max_tokens is already this high or higher
    not_raised: int = 0
    #: refusals and max_tokens cuts among the results read, asked for or not (what to offer)
    stops_seen: dict[str, int] = field(default_factory=dict)
    #: the request field a cut's new budget goes to, as the front ends name it: `max_tokens`
    #: (Message Batches), `max_completion_tokens` / `max_output_tokens` (OpenAI's endpoints)
    budget_field: str = "max_tokens"
    #: what the resent requests are estimated to cost (None: not estimated, several batches)
    estimate: CostEstimate | None = None

    @property
    def left_out_total(self) -> int:
        return sum(self.left_out.values())

    def nothing_to_retry(self, name: str) -> str:
        """Why this plan sends nothing, one sentence both front ends show (`name`: how they
        name the batch): requests that would fail the same way, cuts not raised, failed
        requests of unknown parameters, else that there are no failed requests (and none of
        the refusals or cuts asked for)."""
        if self.left_out:
            kinds = ", ".join(sorted(self.left_out))
            return (
                f"Nothing to retry: the failed requests of {name} would fail the same way"
                f" again ({kinds}); include them to resend them anyway."
            )
        if self.not_raised and self.max_tokens is not None:
            field = self.budget_field  # the batch's endpoint's name for it
            return (
                f"Nothing to retry: the {field} cuts of {name} already had"
                f" {field} {self.max_tokens:,} or more; give a higher {field}."
            )
        if self.unknown:
            return (
                f"Nothing to retry: the {quantity(self.unknown, 'failed request')} of {name}"
                " have unknown parameters (not submitted by batchtop)."
            )
        asked = [
            w
            for w, on in (
                ("refusals", self.refusals),
                (f"{self.budget_field} cuts", self.max_tokens is not None),
            )
            if on
        ]
        what = f" and no {' or '.join(asked)}" if asked else ""
        return f"Nothing to retry: {name} has no failed requests{what}.{self._not_asked()}"

    def _not_asked(self) -> str:
        """The refusals and cuts a retry resends only when asked, when the batch has some."""
        offers = []
        cuts = self.stops_seen.get("max_tokens", 0)
        if cuts and self.max_tokens is None:
            field = self.budget_field
            offers.append(
                f" {quantity(cuts, 'request')} {'was' if cuts == 1 else 'were'} cut at {field}:"
                f" a retry with a higher {field} resends {'it' if cuts == 1 else 'them'}."
            )
        refused = self.stops_seen.get("refusal", 0)
        if refused and not self.refusals:
            offers.append(
                f" {quantity(refused, 'request')} stopped with a refusal: a retry of refusals"
                f" resends {'it' if refused == 1 else 'them'}."
            )
        return "".join(offers)


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    """A retry that was sent: its plan (`plan.resend` requests) and the submission."""

    plan: RetryPlan
    submitted: SubmitOutcome

    @property
    def sent(self) -> int:
        """Requests in the batches created (0 if the create failed)."""
        return self.plan.resend if self.submitted.batch_ids else 0


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One indexed result line joined with its input (when batchtop knows it)."""

    batch_id: str
    custom_id: str
    type: ResultType
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    model: str | None = None
    text: str = ""
    error_type: str | None = None
    error_message: str | None = None
    input_text: str | None = None  # the prompt, from the manifest; None if unknown
    original_id: str | None = None  # the input's own id, when custom_id was made from it
    cost_usd: float | None = None  # at batch price, from the usage; None: unknown or unbilled
    # what its blocks say (see `result_blocks.BlockFacts`)
    thinking: bool = False
    tool_calls: int = 0
    tool_names: str | None = None  # comma-separated, each once, in order
    citations: int = 0
    stop_details: str | None = None  # the API's stop_details, as JSON

    @property
    def first_line(self) -> str:
        source = self.text if self.type is ResultType.SUCCEEDED else (self.error_message or "")
        return source.strip().split("\n", 1)[0] if source else ""


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """Which results to show or export. Empty fields mean "no restriction"."""

    types: frozenset[ResultType] = frozenset()
    error_types: frozenset[str] = frozenset()
    search: str = ""  # full-text over output text and input text
    custom_ids: frozenset[str] = frozenset()  # explicit selection
    stop_reasons: frozenset[str] = frozenset()  # refusal, max_tokens, tool_use, pause_turn...


@dataclass(frozen=True, slots=True)
class ResultPage:
    rows: list[ResultRow]
    offset: int
    total: int  # rows matching the filter (a lower bound while `counted` is False)
    counted: bool = True  # False: asked for without a count (see ResultsIndex.query_results)


@dataclass(frozen=True, slots=True)
class ResultSummary:
    """Counts per outcome and tokens for a batch or a job."""

    by_type: dict[ResultType, int]
    by_error_type: dict[str, int]
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    standard_cost_usd: float = 0.0
    by_stop_reason: dict[str, int] = field(default_factory=dict)  # succeeded rows


ExportFormat = Literal["jsonl", "csv", "json", "markdown", "parquet"]


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    format: ExportFormat
    rows: int


# --- refresh events --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchChanged:
    batch: BatchView


@dataclass(frozen=True, slots=True)
class BatchEnded:
    batch: BatchView


@dataclass(frozen=True, slots=True)
class RefreshFailed:
    """A refresh could not complete; `kind` says how a front end should present it."""

    kind: Literal["auth", "offline", "rate_limited", "server", "other"]
    message: str
    retry_in_s: float | None = None
    provider: str | None = None  # whose refresh, when several providers are shown


@dataclass(frozen=True, slots=True)
class RefreshDone:
    """A refresh completed; carries the counters a status bar shows."""

    at: datetime
    api_calls_total: int
    api_calls_last: int
    active: int
    next_in_s: float | None  # None: paused (the timer waits for resume or `r`)
    idle: bool = False  # nothing active: the next refresh comes at the idle interval
    total: int = 0  # batches of the workspace known locally (deleted ones left out)
    listing_complete: bool = True  # False: the first listing is unfinished (more may exist)


@dataclass(frozen=True, slots=True)
class ListingProgress:
    """The first listing of a workspace walks its whole list, a page at a time: `listed`
    batches so far in this walk (older than the newest page), `total` known locally."""

    listed: int
    total: int
    complete: bool = False


@dataclass(frozen=True, slots=True)
class ResultsReady:
    batch_id: str
    rows: int


@dataclass(frozen=True, slots=True)
class ResultsDownload:
    """What a results download came to: the rows indexed, and whether another batchtop
    process had downloaded them (this one waited for that download, or found it complete,
    and fetched nothing itself)."""

    batch_id: str
    rows: int
    by_another_process: bool = False

    @property
    def note(self) -> str | None:
        """What to tell the user when another process did the download (None: this one did)."""
        if not self.by_another_process:
            return None
        return (
            f"The results of {self.batch_id} were already downloaded by another batchtop"
            f" process ({quantity(self.rows, 'result')}): nothing was downloaded again."
        )


@dataclass(frozen=True, slots=True)
class WorkspaceInfo:
    """Which endpoint and workspace the store holds, and how many batches it knows there.

    `batches` is the workspace's count once `listing_complete` (the whole list was walked
    once; deleted batches left out); before that it is a lower bound.
    """

    base_url: str
    workspace_id: str | None
    organization_id: str | None
    batches: int
    active: int
    listing_complete: bool
    named: bool = True  # the API has answered at least once (ids None: it named none)
    synced_at: datetime | None = None  # when a refresh last completed; None: never

    @property
    def endpoint(self) -> str:
        """The base URL without the scheme when it is https (what a user recognises), its
        credentials (`user:password@`) masked."""
        return url_for_display(self.base_url.rstrip("/")).removeprefix("https://")

    @property
    def host(self) -> str:
        """The endpoint's host name alone (a short label; `endpoint` is the full one)."""
        rest = self.base_url.split("://", 1)[-1]
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        if host.startswith("["):  # an IPv6 literal
            return host.split("]", 1)[0] + "]"
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def workspace_text(self) -> str:
        if not self.named:
            return "workspace not known yet"
        if self.workspace_id:
            return f"workspace {self.workspace_id}"
        if self.organization_id:
            return f"organization {self.organization_id}"
        return "workspace not named by the server"

    @property
    def where(self) -> str:
        """The endpoint and the workspace, e.g. 'api.anthropic.com, workspace wrkspc_01…'."""
        return f"{self.endpoint}, {self.workspace_text}"

    @property
    def label(self) -> str:
        """A short form for a status line: the host and the workspace id."""
        if not self.named:
            return f"{self.host} · workspace not known yet"
        ident = self.workspace_id or (
            f"org {self.organization_id}" if self.organization_id else "no workspace id"
        )
        return f"{self.host} · {ident}"

    @property
    def count_text(self) -> str:
        """'5,000 batches' or, while the first listing is unfinished, 'at least 3,000
        batches'."""
        noun = "batch" if self.batches == 1 else "batches"
        if self.listing_complete:
            return f"{self.batches:,} {noun}"
        return f"at least {self.batches:,} {noun} (listing not finished)"


@dataclass(frozen=True, slots=True)
class SubmitNotice:
    """Reconcile resolved a submission, or found look-alikes it could not prove ours."""

    intent: SubmitIntent

    @property
    def text(self) -> str:
        i = self.intent
        where = f"job {i.job_id} part {i.part}"
        if i.unknown:
            return f"{where}: unknown: not adopted; check {', '.join(i.candidates)}"
        if i.state is IntentState.RECONCILED:
            return f"{where}: found its batch {i.batch_id}"
        return f"{where}: {_clause(i.error or i.state.value)}"


def _clause(sentence: str) -> str:
    """A sentence continuing a line ("job … part 1: not sent: …"): its first word in lower
    case, unless it is an acronym ("API")."""
    if sentence[:2].istitle() and sentence[:2] != sentence[:2].upper():
        return sentence[0].lower() + sentence[1:]
    return sentence


@dataclass(frozen=True, slots=True)
class PartialJobsNotice:
    """Jobs whose parts were not all created: they can be resumed."""

    jobs: tuple[JobProgress, ...]

    @property
    def text(self) -> str:
        first = self.jobs[0]
        unresolved = f", {numbered('part', first.open)} unresolved" if first.open else ""
        state = "partly submitted" if first.created else "not submitted"
        more = f", and {len(self.jobs) - 1} more" if len(self.jobs) > 1 else ""
        actions = []
        if any(j.missing for j in self.jobs):
            actions.append("select it and press u to send the missing parts")
        # an unresolved part is not sent by u: A closes it first (after a confirmation)
        if any(j.open for j in self.jobs):
            actions.append("A closes an unresolved part")
        return (
            f"Job {first.job.name} is {state} ({first.created_text}{unresolved}{more}):"
            f" {'; '.join(actions)}."
        )


@dataclass(frozen=True, slots=True)
class ScopeChanged:
    """The API named another workspace (or endpoint) than the store shown: the service
    switched to that workspace's store; front ends read everything again."""

    workspace: WorkspaceInfo


Event = (
    BatchChanged
    | BatchEnded
    | RefreshFailed
    | RefreshDone
    | ResultsReady
    | ListingProgress
    | SubmitNotice
    | PartialJobsNotice
    | ScopeChanged
)


# --- statistics (core/stats.py) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    """One bar of a breakdown: how many requests, and what they cost."""

    label: str
    count: int
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Histogram:
    """Bin i counts the values in [edges[i], edges[i + 1]); the last bin also holds its end."""

    edges: tuple[int, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NotableRequest:
    """One request of a "top" list (longest answer, longest prompt, most expensive)."""

    batch_id: str
    custom_id: str
    type: ResultType
    stop_reason: str | None
    input_tokens: int  # cached prompt tokens included
    output_tokens: int
    cost_usd: float | None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ResultBreakdown:
    """What a batch's or a job's results came to, by outcome, stop reason and model."""

    total: int
    cost_usd: float
    unpriced: int  # succeeded rows without a known cost (the others are not billed)
    outcomes: tuple[Share, ...]  # succeeded, "errored: <type>"…, canceled, expired
    stop_reasons: tuple[Share, ...]  # of the succeeded requests
    cost_by_model: tuple[Share, ...]
    cost_by_outcome: tuple[Share, ...]
    max_output_tokens: int = 0
    max_input_tokens: int = 0

    @property
    def cost_notes(self) -> tuple[str, ...]:
        """What the cost leaves out, in words: succeeded requests without a price, and the
        requests that are not billed (errored, canceled, expired: the API bills none)."""
        notes = []
        if self.unpriced:
            notes.append(f"{self.unpriced:,} succeeded without a price")
        unbilled = [s for s in self.cost_by_outcome if s.label != "succeeded" and s.count]
        if unbilled:
            n = sum(s.count for s in unbilled)
            kinds = ", ".join(s.label for s in unbilled)
            notes.append(f"{n:,} not billed ({kinds})")
        return tuple(notes)


@dataclass(frozen=True, slots=True)
class ResultDistribution:
    """How long prompts and answers were, and which requests stand out."""

    output_tokens: Histogram
    input_tokens: Histogram
    longest: tuple[NotableRequest, ...]  # most output tokens
    largest_inputs: tuple[NotableRequest, ...]  # longest prompts
    priciest: tuple[NotableRequest, ...]


@dataclass(frozen=True, slots=True)
class ResultStats:
    breakdown: ResultBreakdown
    distribution: ResultDistribution


@dataclass(frozen=True, slots=True)
class ProgressPoint:
    seconds: float  # since the first batch was created
    done: int  # requests no longer processing


@dataclass(frozen=True, slots=True)
class ProgressSeries:
    """Completions over time for a batch or a job, from the stored snapshots."""

    start: datetime
    total: int
    done: int
    points: tuple[ProgressPoint, ...]
    expires_s: float  # the (earliest still running) batch's 24-hour expiry, from `start`
    now_s: float  # now, or when the last batch ended
    ended: bool
    eta_s: float | None = None  # projected end, from `start` (see BatchService.eta)

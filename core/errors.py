"""Errors batchtop reports to its users.

Every exception that reaches a front end is a `BatchtopError` carrying one plain sentence;
front ends print `str(error)` and never a traceback.
"""

from __future__ import annotations

from typing import Literal

from .redact import redact

ApiErrorKind = Literal["auth", "offline", "rate_limited", "server", "invalid", "other"]


class BatchtopError(Exception):
    """Base class: `str(err)` is a complete, user-facing sentence (the API key redacted)."""

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


class UserError(BatchtopError):
    """The user asked for something impossible (bad file, bad option, wrong state)."""


class NotFound(BatchtopError):
    """A batch, job or result that does not exist (locally or remotely)."""


class Conflict(BatchtopError):
    """The action is not allowed in the object's current state (e.g. delete while in progress)."""


class PartBusy(Conflict):
    """A part of a job already has a live submission (another process, or unresolved).

    `created_as` is the batch id when that submission made its batch; None while its
    outcome is not known (a create in flight elsewhere, or interrupted)."""

    def __init__(self, message: str, *, created_as: str | None = None) -> None:
        super().__init__(message)
        self.created_as = created_as


class ApiError(BatchtopError):
    """The API could not be reached or refused the call."""

    def __init__(
        self,
        message: str,
        *,
        kind: ApiErrorKind = "other",
        status: int | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind: ApiErrorKind = kind
        self.status = status
        self.request_id = request_id
        self.retry_after_s = retry_after_s
        # False when the request certainly never reached the server (connection refused,
        # unknown host, connect timeout): nothing can have been created.
        self.sent = sent


class CreateUnresolved(ApiError):
    """A create whose batch may exist: its answer was lost (or only look-alikes were
    listed), so its part is left unresolved (its intent open) and not sent again; reconcile
    settles it."""


class RefreshesFailed(ApiError):
    """Every provider's refresh failed (kind, status and retry-after: the first's); each
    failure was already reported, named, as an event: a front end says nothing more."""

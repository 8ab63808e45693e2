"""What the dashboard says of jobs whose parts were not all created (`PartialJobsNotice`)."""

from __future__ import annotations

from datetime import UTC, datetime

from batchtop.core.models import Job, JobProgress, PartialJobsNotice

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _progress(
    name: str,
    parts: int,
    created: tuple[int, ...] = (),
    open_: tuple[int, ...] = (),
    missing: tuple[int, ...] = (),
) -> JobProgress:
    return JobProgress(
        Job(f"job_{name}", name, T0), parts, tuple(created), tuple(open_), tuple(missing)
    )


def test_a_job_with_no_part_created_is_not_called_partly_submitted() -> None:
    text = PartialJobsNotice((_progress("articles", 1, open_=(1,)),)).text
    assert text == (
        "Job articles is not submitted (its one part not created, part 1 unresolved):"
        " A closes an unresolved part."
    )


def test_u_is_offered_only_when_a_part_was_never_sent() -> None:
    text = PartialJobsNotice((_progress("big", 3, created=(1,), missing=(2, 3)),)).text
    assert text == (
        "Job big is partly submitted (part 1 of 3 created):"
        " select it and press u to send the missing parts."
    )
    both = PartialJobsNotice(
        (_progress("big", 3, created=(1,), open_=(2,), missing=(3,)), _progress("b", 1, open_=(1,)))
    ).text
    assert both == (
        "Job big is partly submitted (part 1 of 3 created, part 2 unresolved, and 1 more):"
        " select it and press u to send the missing parts; A closes an unresolved part."
    )

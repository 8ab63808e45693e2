"""The dashboard's filter finds batches by provider and by the provider's own status word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from batchtop.core.models import BatchView, ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.tui.format import status_label
from batchtop.tui.screens.rows import matches

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def view(provider: str, status: str | None, neutral: ProcessingStatus) -> BatchView:
    remote = RemoteBatch(
        "batch_1" if provider == "openai" else "msgbatch_1",
        neutral,
        RequestCounts(processing=3),
        T0,
        T0 + timedelta(hours=24),
        provider=provider,
        provider_status=status,
    )
    return BatchView(remote=remote, seen_at=T0)


def test_filter_by_provider_and_status_word() -> None:
    openai = view("openai", "validating", ProcessingStatus.IN_PROGRESS)
    anthropic = view("anthropic", None, ProcessingStatus.IN_PROGRESS)
    assert matches(openai, "openai")
    assert not matches(anthropic, "openai")
    assert matches(anthropic, "anthropic")
    assert matches(openai, "validat")
    assert not matches(anthropic, "pic")  # a provider matches by its whole name only


def test_status_words() -> None:
    assert status_label(view("openai", "validating", ProcessingStatus.IN_PROGRESS)) == "validating"
    assert status_label(view("openai", "finalizing", ProcessingStatus.IN_PROGRESS)) == "finalizing"
    assert (
        status_label(view("openai", "in_progress", ProcessingStatus.IN_PROGRESS)) == "in progress"
    )
    assert status_label(view("openai", "failed", ProcessingStatus.ENDED)) == "failed"
    assert status_label(view("anthropic", None, ProcessingStatus.IN_PROGRESS)) == "in progress"


def test_provider_column_fits_from_120_columns() -> None:
    from batchtop.tui.screens.rows import COLUMNS, columns
    from batchtop.tui.widgets.batches_table import layout

    def shown(width: int, *, provider: bool) -> list[str]:
        cols = columns(provider=provider)
        return [cols[i].key for i, _ in layout(cols, width)]

    assert columns(provider=False) == COLUMNS  # one provider: the table of before
    assert "provider" in shown(119, provider=True)  # 120 columns less the scrollbar
    assert "provider" not in shown(79, provider=True)
    assert shown(79, provider=True) == shown(79, provider=False)
    # where it fits it takes the ID's place before any count's
    wide = shown(119, provider=True)
    assert "id" not in wide
    assert {"succeeded", "errored", "total", "cost"} <= set(wide)


def test_a_wide_table_shows_whole_ids_of_every_provider() -> None:
    """At 250 columns an OpenAI id (`batch_` + 32 characters) is not cut in the middle while
    the label takes the spare width; with Anthropic alone the ID column stays as it was."""
    from batchtop.tui.screens.rows import ID_CHARS, columns
    from batchtop.tui.widgets.batches_table import layout

    def id_width(width: int, providers: tuple[str, ...]) -> int:
        cols = columns(provider=len(providers) > 1, providers=providers)
        return {cols[i].key: w for i, w in layout(cols, width)}["id"]

    openai_id = "batch_" + "0123456789abcdef" * 2
    assert id_width(249, ("anthropic", "openai")) >= len(openai_id)
    assert id_width(249, ("openai",)) >= len(openai_id)
    assert id_width(249, ("anthropic",)) == ID_CHARS
    assert id_width(159, ("anthropic",)) == id_width(159, ())

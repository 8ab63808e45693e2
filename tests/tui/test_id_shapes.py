"""Batch id shapes live in core (`core/providers/ids.py`): the front ends ask it what of an id
to show, so a provider added there is shown right with nothing changed in `tui/`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from batchtop.core.models import BatchView, ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.providers.ids import ID_SHAPES, IdShape
from batchtop.tui.cli.render import batches_table
from batchtop.tui.format import short_id
from batchtop.tui.screens.rows import RowBuilder, Styles, columns
from rich.console import Console

T0 = datetime(2026, 12, 1, tzinfo=UTC)
BODY = "0123456789abcdefghijklmnopqrstuvwxyzABCD"  # 40 characters


def view(batch_id: str, provider: str) -> BatchView:
    remote = RemoteBatch(
        batch_id,
        ProcessingStatus.IN_PROGRESS,
        RequestCounts(processing=3),
        T0,
        T0 + timedelta(hours=24),
        provider=provider,
    )
    return BatchView(remote=remote, seen_at=T0)


def id_cell(b: BatchView) -> str:
    keys = [c.key for c in columns(provider=False)]
    return RowBuilder(Styles()).batch_cells(b, T0)[keys.index("id")].plain


def test_the_known_providers_ids_are_shown_as_before() -> None:
    anthropic = "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d"
    openai = "batch_" + "0123456789abcdef" * 2
    assert id_cell(view(anthropic, "anthropic")) == "01HkcTjaV5uDC8jWR4ZsDV8d"
    assert id_cell(view(openai, "openai")) == openai  # shown whole
    assert short_id(anthropic, "anthropic") == "01HkcTja…V8d"
    assert short_id(openai, "openai") == "01234567…def"  # its telling characters
    id_width = {c.key: c.max_width for c in columns(provider=True, providers=("anthropic",))}
    assert id_width["id"] == 24
    id_width = {c.key: c.max_width for c in columns(provider=True, providers=("openai",))}
    assert id_width["id"] == len(openai)


def test_a_third_providers_id_shape_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a provider's shape to core is all it takes: the ID column's cell and width,
    the short id of both front ends (the CLI's narrow `ls` too) follow it."""
    monkeypatch.setitem(ID_SHAPES, "gemini", IdShape("batches/", len(BODY), shows_prefix=False))
    batch_id = f"batches/{BODY}"
    b = view(batch_id, "gemini")
    assert id_cell(b) == BODY
    widths = {c.key: c.max_width for c in columns(provider=True, providers=("gemini", "openai"))}
    assert widths["id"] == len(BODY)
    assert short_id(batch_id, "gemini") == "01234567…BCD"
    assert short_id(batch_id, "gemini", 40) == BODY
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(batches_table([b], width=60))  # too narrow for the whole id
    assert "│ 01234567…BCD │" in console.export_text()


def test_the_palette_matches_an_id_without_its_providers_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "batch" finds no batch by its id alone, whichever provider's it is."""
    from batchtop.tui.commands import searched_text

    monkeypatch.setitem(ID_SHAPES, "gemini", IdShape("batches/", len(BODY), shows_prefix=False))
    assert searched_text("msgbatch_01HkcT", "", "", "anthropic") == "01HkcT"
    assert searched_text("batch_0123abcd", "nightly", "job", "openai") == "nightly 0123abcd job"
    assert searched_text(f"batches/{BODY}", "", "", "gemini") == BODY

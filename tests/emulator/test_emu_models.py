"""GET /v1/models as today's API answers it, read through the official SDK."""

from __future__ import annotations

from typing import Any


def test_models_report_lifecycle_and_hide_retired_unless_asked(client: Any) -> None:
    listed = {m.id: m for m in client.models.list(limit=1000)}
    assert "claude-opus-5-5" in listed
    assert listed["claude-opus-5-5"].lifecycle == "active"
    assert listed["claude-opus-5-5"].max_tokens == 128_000
    assert listed["claude-opus-5-5"].max_input_tokens == 1_000_000
    opus_4_5 = listed["claude-opus-4-5-20251101"]
    assert opus_4_5.lifecycle == "deprecated"
    assert opus_4_5.retires_at is not None
    assert opus_4_5.retires_at.date().isoformat() == "2027-01-22"
    assert not any(m.lifecycle == "retired" for m in listed.values())
    assert "claude-sonnet-4-5-20250929" not in listed

    everything = client.models.list(limit=1000, lifecycle=["active", "deprecated", "retired"])
    by_id = {m.id: m for m in everything}
    assert by_id["claude-sonnet-4-5-20250929"].lifecycle == "retired"
    only_retired = client.models.list(limit=1000, lifecycle=["retired"])
    assert {m.lifecycle for m in only_retired} == {"retired"}


def test_a_retired_model_is_still_retrievable_by_id(client: Any) -> None:
    info = client.models.retrieve("claude-sonnet-4-5")  # the alias resolves
    assert info.id == "claude-sonnet-4-5-20250929"
    assert info.lifecycle == "retired"

"""The models the emulator knows: ids, display names and maximum output tokens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    display_name: str
    created_at: str
    max_output_tokens: int
    aliases: tuple[str, ...] = ()


#: Newest first, as GET /v1/models lists them.
MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("claude-fable-5-2", "Claude Fable 5.2", "2026-11-10T00:00:00Z", 128_000),
    ModelInfo("claude-mythos-5-2", "Claude Mythos 5.2", "2026-11-10T00:00:00Z", 128_000),
    ModelInfo("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-21T00:00:00Z", 128_000),
    ModelInfo("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-10-21T00:00:00Z", 128_000),
    ModelInfo("claude-opus-5-5", "Claude Opus 5.5", "2026-10-21T00:00:00Z", 128_000),
    ModelInfo("claude-fable-5-1", "Claude Fable 5.1", "2026-08-12T00:00:00Z", 128_000),
    ModelInfo("claude-mythos-5-1", "Claude Mythos 5.1", "2026-08-12T00:00:00Z", 128_000),
    ModelInfo("claude-sonnet-5", "Claude Sonnet 5", "2026-06-02T00:00:00Z", 128_000),
    ModelInfo("claude-fable-5", "Claude Fable 5", "2026-06-02T00:00:00Z", 128_000),
    ModelInfo("claude-mythos-5", "Claude Mythos 5", "2026-06-02T00:00:00Z", 128_000),
    ModelInfo("claude-opus-5", "Claude Opus 5", "2026-06-02T00:00:00Z", 128_000),
    ModelInfo("claude-opus-4-8", "Claude Opus 4.8", "2026-04-15T00:00:00Z", 128_000),
    ModelInfo("claude-opus-4-7", "Claude Opus 4.7", "2026-03-03T00:00:00Z", 128_000),
    ModelInfo("claude-mythos-preview", "Claude Mythos Preview", "2026-02-17T00:00:00Z", 128_000),
    ModelInfo("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z", 128_000),
    ModelInfo("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", 64_000),
    ModelInfo(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "2025-11-24T00:00:00Z",
        64_000,
        ("claude-opus-4-5",),
    ),
    ModelInfo(
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "2025-10-15T00:00:00Z",
        64_000,
        ("claude-haiku-4-5",),
    ),
    ModelInfo(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        64_000,
        ("claude-sonnet-4-5",),
    ),
)

_BY_NAME: dict[str, ModelInfo] = {}
for _m in MODELS:
    _BY_NAME[_m.id] = _m
    for _alias in _m.aliases:
        _BY_NAME[_alias] = _m


def lookup(model: str) -> ModelInfo | None:
    """The model for an id or alias, or None if the emulator does not know it."""
    return _BY_NAME.get(model)

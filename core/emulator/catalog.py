"""The models the emulator knows: batchtop's catalogue file, served as GET /v1/models."""

from __future__ import annotations

from ..model_catalog import builtin_catalog, to_api_dict
from ..models import ModelInfo

__all__ = ["MODELS", "ModelInfo", "api_dict", "lookup"]

#: Newest first, as GET /v1/models lists them.
MODELS: tuple[ModelInfo, ...] = tuple(
    sorted(builtin_catalog().models, key=lambda m: m.created_at, reverse=True)
)


def lookup(model: str) -> ModelInfo | None:
    """The model for an id or alias (as the API resolves them), or None if unknown."""
    return builtin_catalog().lookup(model, exact=True)


def api_dict(info: ModelInfo) -> dict[str, object]:
    return to_api_dict(info)

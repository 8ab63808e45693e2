"""Input suggestions shared by the forms (compose, import)."""

from __future__ import annotations

from batchtop.core.errors import BatchtopError
from batchtop.core.service import BatchService
from textual.suggester import SuggestFromList


async def model_suggester(service: BatchService) -> SuggestFromList | None:
    """Model ids from the API (or the price table offline); None if neither is available."""
    try:
        models = await service.models()
    except BatchtopError:
        return None
    return SuggestFromList(models, case_sensitive=False)

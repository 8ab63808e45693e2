"""Input suggestions shared by the forms (compose, import)."""

from __future__ import annotations

import asyncio

from batchtop.core.errors import BatchtopError
from batchtop.core.service import BatchService
from textual.suggester import SuggestFromList


async def model_suggester(service: BatchService) -> SuggestFromList | None:
    """Model ids from the API (or the price table offline); None if neither is available."""
    try:
        await asyncio.to_thread(service.warm_up)  # the SDK import takes seconds: off the loop
        models = await service.models()
    except BatchtopError:
        return None
    return SuggestFromList(models, case_sensitive=False)

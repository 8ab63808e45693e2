"""Batch providers behind one seam (`base.BatchProvider`).

`anthropic`: the Message Batches API (`core/api.py` `BatchApi`); `openai`: OpenAI's Batch and
Files APIs (`openai.OpenAIBatchApi`, the `openai` SDK imported on first use, an optional
extra). `make_provider` builds the one a service talks to; nothing here imports an SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal, get_args

from ..errors import UserError
from .base import BatchProvider, ListPage, StreamedBody

ProviderName = Literal["anthropic", "openai"]
PROVIDERS: tuple[str, ...] = get_args(ProviderName)

__all__ = [
    "PROVIDERS",
    "BatchProvider",
    "ListPage",
    "ProviderName",
    "StreamedBody",
    "check_provider",
    "make_provider",
]


def check_provider(name: str) -> ProviderName:
    """The provider named, or a one-line error naming the ones there are."""
    if name not in PROVIDERS:
        raise UserError(f"Unknown provider {name!r}: use one of {', '.join(PROVIDERS)}.")
    return name  # type: ignore[return-value]


def make_provider(
    name: str,
    *,
    api_key: str | None,
    base_url: str | None,
    timeout_s: float,
    max_retries: int,
    now: Callable[[], datetime] | None = None,
    endpoint: str | None = None,
) -> BatchProvider:
    """The adapter of provider `name`, built without importing its SDK."""
    provider = check_provider(name)
    if provider == "openai":
        from .openai import OpenAIBatchApi

        return OpenAIBatchApi(
            api_key=api_key,
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            now=now,
            endpoint=endpoint,
        )
    from ..api import BatchApi

    return BatchApi(
        api_key=api_key,
        base_url=base_url,
        timeout_s=timeout_s,
        max_retries=max_retries,
        now=now,
    )

"""Where each provider's key, base URL and project come from: the usual variables.

Anthropic: `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (else the `base_url` setting).
OpenAI: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID` (the
`openai` SDK's own names). Values are read when a service is built and held in memory only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_VARIABLES = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def provider_key(provider: str) -> str | None:
    return os.environ.get(KEY_VARIABLES.get(provider, "ANTHROPIC_API_KEY")) or None


def provider_base_url(provider: str, settings: Settings) -> str | None:
    """The base URL the provider's adapter is built with (None: the adapter's default)."""
    if provider == "openai":
        return os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
    return settings.resolved_base_url


def openai_org_project() -> tuple[str | None, str | None]:
    """(organization id, project id) from `OPENAI_ORG_ID` / `OPENAI_PROJECT_ID`."""
    return os.environ.get("OPENAI_ORG_ID") or None, os.environ.get("OPENAI_PROJECT_ID") or None

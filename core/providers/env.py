"""Where each provider's key, base URL and project come from: the usual variables.

Anthropic: `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (else the `base_url` setting).
OpenAI: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID` (the
`openai` SDK's own names). Values are read when a service is built and held in memory only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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


def url_variable(provider: str, base_url: str) -> str:
    """Where a provider's base URL was set, as a user names it."""
    if provider == "openai":
        return "OPENAI_BASE_URL"
    if os.environ.get("ANTHROPIC_BASE_URL") == base_url:
        return "ANTHROPIC_BASE_URL"
    return "the base_url setting"


def base_url_problem(base_url: str, variable: str) -> str | None:
    """Why a base URL cannot be used, in one line naming where it was set (None: it can).

    It needs http(s) and a host. Credentials in it (`user:password@`) are refused: the HTTP
    client would send them as Basic auth in place of the API key, and the API would answer
    401 for a key it never saw. The value is shown with its credentials masked."""
    from ..redact import url_for_display

    shown = url_for_display(base_url)
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in base_url)
    ):
        return (
            f"{variable} is not a URL batchtop can use: {shown!r} (it needs http:// or"
            " https:// and a host)."
        )
    if "@" in parts.netloc:
        return (
            f"{variable} holds credentials ({shown}): they would be sent instead of the API"
            " key, which the API then rejects; take the user:password@ part out."
        )
    return None

"""How a submitted request is kept in the store's manifest: each input once.

A manifest row holds a request's `custom_id`, its input text (what the results viewer,
search and exports show beside each result), its `params` (to resend it) and, when the
custom_id had to be made from an invalid id of the input, that original id. The input text
is most often the last message's content: then it is kept only in `input_text`, and `params`
holds `null` in its place (`restore_params` puts it back). A 300 MB input used to be stored
twice over (788 MB of store); now it is stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from .request_checks import user_text


class ManifestRow(NamedTuple):
    custom_id: str
    input_text: str | None
    params_json: str  # the params, with the input text left out when `restore_params` can
    original_id: str | None = None  # the input's own id when custom_id was made from it


def manifest_row(
    custom_id: str, params: Any, original_id: str | None = None, text: str | None = None
) -> ManifestRow:
    """The row for one request; its input text is `text`, else the last user message.
    `params` (parsed JSON) may be changed in place."""
    if text is None:
        text = user_text(params)
    last = _last_message(params)
    if (
        text is not None
        and last is not None
        and last.get("role") == "user"
        and last.get("content") == text
    ):
        last["content"] = None  # kept once: in input_text
    return ManifestRow(custom_id, text, orjson.dumps(params).decode(), original_id)


def restore_params(params_json: str, input_text: str | None) -> str:
    """The request's params as sent, from a manifest row (rows stored whole stay as they are)."""
    if input_text is None or '"content":null' not in params_json:
        return params_json
    params = orjson.loads(params_json)
    last = _last_message(params)
    if last is None or last.get("role") != "user" or last.get("content") is not None:
        return params_json
    last["content"] = input_text
    return orjson.dumps(params).decode()


def _last_message(params: Any) -> dict[str, Any] | None:
    if not isinstance(params, Mapping):
        return None
    messages = params.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return None
    return messages[-1]

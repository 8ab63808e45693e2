"""The models the OpenAI emulator knows, served as GET /v1/models (a dated snapshot).

`kind` says which batch endpoints take the model; `dimensions` is an embedding model's
default vector length (OpenAI's embeddings guide: 1536 for text-embedding-3-small and
ada-002, 3072 for text-embedding-3-large; only the -3 models accept `dimensions`).

The GPT-5.6 and GPT-6 models (OpenAI's model pages; release days as `created`, 00:00 UTC;
128,000 output tokens each) have no dated snapshot ids: the API answers with the name asked
for (GPT-6.1 Terra's page lists the one snapshot `gpt-6.1-terra`; GPT-6.2's notices say
"no dated snapshot IDs"); `gpt-5.6` is an alias of GPT-5.6 Sol. `cache_writes`: the model
bills prompt-cache writes and reports them (`cache_write_tokens`), as GPT-5.6 and later do
(`prompt_cache_options` is "supported for gpt-5.6 and later models", the SDK's types).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: When this list was taken (the API, not this file, is the truth; this is a stand-in).
AS_OF = "2026-12-01"


@dataclass(frozen=True, slots=True)
class OpenAIModel:
    id: str  # the dated snapshot the API reports in replies
    aliases: tuple[str, ...]
    kind: Literal["text", "embedding"]
    created: int
    max_output_tokens: int | None = None
    dimensions: int | None = None
    custom_dimensions: bool = False
    cache_writes: bool = False


def _gpt(name: str, created: int, *aliases: str) -> OpenAIModel:
    return OpenAIModel(name, aliases, "text", created, 128_000, cache_writes=True)


MODELS: tuple[OpenAIModel, ...] = (
    _gpt("gpt-6.2-astra", 1794873600),  # 2026-11-17
    _gpt("gpt-6.2-sol", 1794873600),
    _gpt("gpt-6.1-terra", 1792972800),  # 2026-10-26
    _gpt("gpt-6.1-sol", 1790640000),  # 2026-09-29
    _gpt("gpt-6-sol", 1790035200),  # 2026-09-22
    _gpt("gpt-6-luna", 1790035200),
    _gpt("gpt-6-astra", 1788393600),  # 2026-09-03
    _gpt("gpt-5.6-sol", 1783555200, "gpt-5.6"),  # 2026-07-09
    _gpt("gpt-5.6-terra", 1783555200),
    _gpt("gpt-5.6-luna", 1783555200),
    OpenAIModel("gpt-5-2025-08-07", ("gpt-5",), "text", 1754524800, 128_000),
    OpenAIModel("gpt-5-mini-2025-08-07", ("gpt-5-mini",), "text", 1754524800, 128_000),
    OpenAIModel("gpt-5-nano-2025-08-07", ("gpt-5-nano",), "text", 1754524800, 128_000),
    OpenAIModel("gpt-4.1-2025-04-14", ("gpt-4.1",), "text", 1744588800, 32_768),
    OpenAIModel("gpt-4.1-mini-2025-04-14", ("gpt-4.1-mini",), "text", 1744588800, 32_768),
    OpenAIModel("gpt-4o-2024-08-06", ("gpt-4o",), "text", 1722902400, 16_384),
    OpenAIModel("gpt-4o-mini-2024-07-18", ("gpt-4o-mini",), "text", 1721260800, 16_384),
    OpenAIModel(
        "text-embedding-3-large",
        (),
        "embedding",
        1705948997,
        dimensions=3072,
        custom_dimensions=True,
    ),
    OpenAIModel(
        "text-embedding-3-small",
        (),
        "embedding",
        1705948997,
        dimensions=1536,
        custom_dimensions=True,
    ),
    OpenAIModel("text-embedding-ada-002", (), "embedding", 1671217299, dimensions=1536),
)

_BY_NAME = {name: m for m in MODELS for name in (m.id, *m.aliases)}


def lookup(name: str) -> OpenAIModel | None:
    """The model for an id or alias, or None if the API would not know it."""
    return _BY_NAME.get(name)


def api_dict(model: OpenAIModel) -> dict[str, object]:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": "system"}

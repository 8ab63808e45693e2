"""A succeeded result's content, block by block, as the front ends show it.

The index keeps each result's raw line (an OpenAI line as OpenAI wrote it, read in the
neutral shape); this reads it back into dataclasses: thinking
(and redacted thinking), text with its citations, tool calls (client and server) with their
input as pretty JSON, web search results, the stop reason and a refusal's `stop_details`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .providers.openai_lines import as_neutral, neutral_stop


@dataclass(frozen=True, slots=True)
class Citation:
    title: str
    source: str  # a URL, or a document's title / index
    cited_text: str


@dataclass(frozen=True, slots=True)
class ContentBlock:
    """One block: kind is thinking, redacted_thinking, text, tool_use, server_tool_use,
    web_search_tool_result (text lists the results) or the API's own type name."""

    kind: str
    text: str = ""
    name: str | None = None  # a tool call's tool
    input_json: str | None = None  # a tool call's input, indented
    input: Any = None  # a tool call's input as the API sent it
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True, slots=True)
class ResultContent:
    blocks: tuple[ContentBlock, ...]
    stop_reason: str | None = None
    refusal: str | None = None  # the refusal's category and explanation, when stopped so

    @property
    def thinking(self) -> str:
        return "\n".join(b.text for b in self.blocks if b.kind == "thinking")

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [
            {"name": b.name, "input": b.input}
            for b in self.blocks
            if b.kind in ("tool_use", "server_tool_use")
        ]


def _citation(c: Any) -> Citation | None:
    if not isinstance(c, dict):
        return None
    source = c.get("url") or c.get("document_title") or c.get("source") or ""
    if not source and isinstance(c.get("document_index"), int):
        source = f"document {c['document_index']}"
    return Citation(str(c.get("title") or ""), str(source), str(c.get("cited_text") or ""))


def _block(b: Any) -> ContentBlock | None:
    if not isinstance(b, dict):
        return None
    kind = str(b.get("type") or "")
    if kind == "thinking":
        return ContentBlock(kind, str(b.get("thinking") or ""))
    if kind == "redacted_thinking":
        return ContentBlock(kind)
    if kind == "text":
        raw = b.get("citations")
        cites = [c for c in map(_citation, raw if isinstance(raw, list) else []) if c]
        return ContentBlock(kind, str(b.get("text") or ""), citations=tuple(cites))
    if kind in ("tool_use", "server_tool_use"):
        body = orjson.dumps(b.get("input"), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        return ContentBlock(
            kind, name=str(b.get("name") or ""), input_json=body.decode(), input=b.get("input")
        )
    if kind.endswith("_tool_result"):
        items = b.get("content")
        lines = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("url"):
                lines.append(f"{item.get('title') or ''} — {item['url']}")
        return ContentBlock(kind, "\n".join(lines))
    return ContentBlock(kind)


def parse_content(raw_line: str | bytes | None) -> ResultContent | None:
    """The content of a succeeded result line; None for another outcome or a bad line."""
    if not raw_line:
        return None
    try:
        obj = as_neutral(orjson.loads(raw_line))
        message = obj["result"]["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    blocks = [b for b in map(_block, content if isinstance(content, list) else []) if b]
    stop_reason = message.get("stop_reason")
    refusal = None
    details = message.get("stop_details")
    if neutral_stop(stop_reason if isinstance(stop_reason, str) else None) == "refusal":
        refusal = "refused"
        if isinstance(details, dict):
            parts = [str(details[k]) for k in ("category", "explanation") if details.get(k)]
            refusal = ": ".join(parts) if parts else refusal
    return ResultContent(
        tuple(blocks), stop_reason if isinstance(stop_reason, str) else None, refusal
    )


@dataclass(frozen=True, slots=True)
class BlockFacts:
    """What the index keeps per result about its blocks (columns of `results`): whether it
    thought, its tool calls (how many, which tools, in order, each once), its citations, and
    the `stop_details` the API gave (as JSON)."""

    thinking: bool = False
    tool_calls: int = 0
    tool_names: str | None = None  # comma-separated
    citations: int = 0
    stop_details: str | None = None


NO_FACTS = BlockFacts()


def plain_text(content: Any, details: Any) -> str | None:
    """The text of the usual message, one text block without citations and no stop details
    (its facts are `NO_FACTS`); None for any other."""
    if type(content) is list and len(content) == 1 and type(details) is not dict:
        only = content[0]
        if type(only) is dict and only.get("type") == "text" and not only.get("citations"):
            text = only.get("text")
            return text if type(text) is str else ""
    return None


def block_facts(message: dict[str, Any]) -> BlockFacts:
    """The facts of a succeeded result's message (cheap: one pass over its blocks; the usual
    single text block without citations and stop details is answered at once)."""
    return content_facts(message.get("content"), message.get("stop_details"))


def content_facts(content: Any, details: Any) -> BlockFacts:
    """`block_facts` from a message's `content` and `stop_details` as parsed (the ingest
    reads them without building the message's dict)."""
    if plain_text(content, details) is not None:
        return NO_FACTS
    stop_details = orjson.dumps(details).decode() if type(details) is dict else None
    if type(content) is not list:
        return BlockFacts(stop_details=stop_details) if stop_details else NO_FACTS
    thinking = False
    calls = cites = 0
    names: list[str] = []
    for block in content:
        if type(block) is not dict:
            continue
        kind = block.get("type")
        if kind == "text":
            found = block.get("citations")
            if type(found) is list:
                cites += len(found)
        elif kind in ("thinking", "redacted_thinking"):
            thinking = True
        elif kind in ("tool_use", "server_tool_use"):
            calls += 1
            name = block.get("name")
            if type(name) is str and name not in names:
                names.append(name)
    return BlockFacts(thinking, calls, ",".join(names) or None, cites, stop_details)

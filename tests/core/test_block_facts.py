"""The per-result facts the index keeps about a message's blocks."""

from __future__ import annotations

from batchtop.core.result_blocks import NO_FACTS, BlockFacts, block_facts


def test_a_plain_text_answer_has_no_facts() -> None:
    assert block_facts({"content": [{"type": "text", "text": "hi"}]}) is NO_FACTS
    assert block_facts({"content": None}) is NO_FACTS


def test_thinking_tool_calls_citations_and_stop_details() -> None:
    message = {
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "server_tool_use", "name": "web_search", "input": {"query": "q"}},
            {"type": "web_search_tool_result", "content": []},
            {"type": "text", "text": "a", "citations": [{"url": "u1"}, {"url": "u2"}]},
            {"type": "tool_use", "name": "lookup", "input": {}},
            {"type": "tool_use", "name": "lookup", "input": {}},
        ],
        "stop_reason": "tool_use",
    }
    assert block_facts(message) == BlockFacts(
        thinking=True, tool_calls=3, tool_names="web_search,lookup", citations=2
    )
    refused = {
        "content": [{"type": "text", "text": ""}],
        "stop_details": {"type": "refusal", "category": "cyber", "explanation": None},
    }
    facts = block_facts(refused)
    assert facts.stop_details == '{"type":"refusal","category":"cyber","explanation":null}'
    assert block_facts({"content": [{"type": "redacted_thinking", "data": "x"}]}).thinking

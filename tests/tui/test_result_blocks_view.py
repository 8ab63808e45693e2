"""The result detail draws every block of a result in order (Pilot)."""

from __future__ import annotations

from typing import Any

import orjson
from batchtop.core.models import ResultRow, ResultType
from batchtop.tui.widgets.result_detail import ResultDetail
from textual.app import App, ComposeResult
from textual.widgets import Static

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-5-5",
    "content": [
        {"type": "thinking", "thinking": "Look the order up first.", "signature": "c2ln"},
        {"type": "text", "text": "Checking.", "citations": [
            {"type": "web_search_result_location", "url": "https://example.com/a",
             "title": "Order help", "cited_text": "Orders ship in 2 days", "encrypted_index": "x"}
        ]},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order_id": "A17"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 20},
}  # fmt: skip
RAW = orjson.dumps({"custom_id": "a", "result": {"type": "succeeded", "message": MESSAGE}})


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ResultDetail(id="detail")


def _blocks(app: Any) -> str:
    return str(app.query_one("#detail-blocks", Static).render())


async def test_blocks_in_order_thinking_collapsed_until_asked() -> None:
    row = ResultRow("b", "a", ResultType.SUCCEEDED, "tool_use", text="Checking.")
    app = Host()
    async with app.run_test() as pilot:
        detail = app.query_one(ResultDetail)
        detail.show(row, RAW.decode())
        await pilot.pause()
        shown = _blocks(app)
        assert "▸ thinking (24 characters)" in shown
        assert "Look the order up first." not in shown
        assert shown.index("thinking") < shown.index("citations:") < shown.index("tool call:")
        assert "lookup_order" in shown
        assert '"order_id": "A17"' in shown
        assert "Orders ship in 2 days" in shown
        detail.focus()
        await pilot.press("T")
        assert "Look the order up first." in _blocks(app)
        assert detail.output_markdown == "Checking."

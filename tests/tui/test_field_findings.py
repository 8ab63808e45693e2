"""Hostile-user findings in the dashboard (Pilot, a real service on the emulator)."""

from __future__ import annotations

import re

from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from dashboard_support import AppFactory, until
from data_factory import request

SIZE = (160, 48)


# claude-mythos-preview: listed by the API (the model catalogue), without a public price.
async def test_a_batch_of_a_model_without_a_price_costs_unknown(
    service: BatchService, make_app: AppFactory
) -> None:
    sent = await service.submit_requests(
        [
            request("u-1", model="claude-mythos-preview"),
            request("u-2", model="claude-mythos-preview"),
        ],
        name="preview",
    )
    (bid,) = sent.batch_ids
    app: BatchtopApp = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.dashboard.table
        assert await until(pilot, lambda: bid in set(table.keys))
        assert table.get_cell(bid, "cost").plain == "unknown"  # not ~$0.00
        table.move_cursor(row=table.get_row_index(bid))
        await pilot.pause()
        assert await until(pilot, lambda: re.search(r"cost +unknown", screen_text(app)) is not None)
        assert "$0.00" not in screen_text(app)


def screen_text(app: BatchtopApp) -> str:
    """The characters on screen now, one line per row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)

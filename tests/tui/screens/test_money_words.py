"""One money rule in core (`core/money.usd_text`), written the same by every view: two
decimals, `<$0.01` below a cent (`~` while estimated), `$0.00` for nothing billed, never
four decimals in one place and two in another; the statistics say which requests are not
billed instead of calling them "without a price"."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from batchtop.core.models import BatchCost, RequestCounts
from batchtop.core.money import usd_text
from batchtop.core.notices import summary_line
from batchtop.tui.format import cost_text, money
from batchtop.tui.screens.results import ResultsScreen
from batchtop.tui.screens.statistics import StatisticsScreen
from batchtop.tui.widgets.charts import _usd
from screens_data import ScreenHost, add_ended_batch, offline_service, standard_lines, wait_for

BATCH = "msgbatch_01MoneyWords00000001"
FOUR_DECIMALS = re.compile(r"\$\d+\.\d{3,}")


def screen_text(app: Any) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def test_the_money_rule() -> None:
    assert [usd_text(x) for x in (0.0042, 0.00001, 0.0, 0.16, 1234.5, None)] == [
        "<$0.01",
        "<$0.01",
        "$0.00",
        "$0.16",
        "$1,234.50",
        "—",
    ]
    assert usd_text(0.0042, approx=True) == "~<$0.01"
    assert usd_text(0.0099) == "<$0.01"  # never rounded up to a cent it did not cost


def test_every_front_end_formatter_follows_it() -> None:
    for value in (0.0042, 0.0, 0.25):
        assert money(value) == usd_text(value)
        assert _usd(value) == usd_text(value)  # the charts' labels
    assert cost_text(BatchCost(0.0003, is_estimate=True)) == "~<$0.01"
    assert cost_text(BatchCost(0.0, is_estimate=False)) == "$0.00"
    counts = RequestCounts(0, 3, 0, 0, 0)
    assert summary_line("x", counts, 0.004, True) == "x: 3 succeeded, ~<$0.01"


async def test_results_header_and_statistics_use_it(tmp_path: Path) -> None:
    service = offline_service(tmp_path)
    # 40 requests of a few tokens each: some errored, expired and canceled (none billed)
    add_ended_batch(service.store, BATCH, standard_lines(40), tmp_path)
    app = ScreenHost(lambda: ResultsScreen(service, batch_ids=[BATCH], title="Batch x"))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.loaded)
        await wait_for(pilot, lambda: "cost " in screen_text(app))
        text = screen_text(app)
        assert "cost <$0.01 (standard <$0.01)" in text
        assert not FOUR_DECIMALS.search(text), text
        await pilot.press("v")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StatisticsScreen) and app.screen.loaded
        )
        await wait_for(pilot, lambda: "results · cost" in screen_text(app))
        text = screen_text(app)
        assert not FOUR_DECIMALS.search(text), text
        assert "without a price" not in text  # errored requests need none: they are not billed
        assert re.search(r"\d+ not billed \(errored, canceled, expired\)", text), text
        assert "<$0.01" in text  # the top requests and the summary
        # a batch that ran for minutes: its progress axis is in minutes (not 0.0x hours)
        assert "minutes since creation" in text


def test_the_import_report_says_what_its_figure_covers(tmp_path: Path) -> None:
    from batchtop.core.import_openai import analyse_openai
    from batchtop.core.models import CostEstimate, ImportOptions
    from batchtop.tui.widgets.validation_report import estimate_text

    source = tmp_path / "words.txt"
    source.write_text("one\ntwo\n", encoding="utf-8")
    report = analyse_openai(
        source, ImportOptions(model="gpt-4o-mini"), endpoint=None, work_dir=tmp_path / "w"
    )
    text = estimate_text(report.estimate).plain
    assert "input only: output not bounded" in text
    assert "upper bound" not in text
    assert "≤0 output" not in text
    assert not FOUR_DECIMALS.search(text), text
    empty = estimate_text(CostEstimate(0, 0, 0.0, 0.0)).plain  # an import of 0 requests
    assert "batch $0.00 " in empty, empty
    assert not FOUR_DECIMALS.search(empty), empty


def test_the_progress_axis_unit_follows_the_span() -> None:
    from batchtop.tui.widgets.charts import time_unit

    assert time_unit(18) == (1.0, "seconds")  # not 0.0050 hours
    assert time_unit(30 * 60) == (60.0, "minutes")
    assert time_unit(24 * 3600) == (3600.0, "hours")

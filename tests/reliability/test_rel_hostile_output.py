"""Hostile output: text from the API is data, in every screen, command and export.

The emulator answers with results whose text holds Rich markup, ANSI/OSC escape sequences,
bidi overrides and zero-width characters, spreadsheet formulas, and 1 MB of text, for
custom_ids up to the 64-character limit; the batch's label holds markup and escapes too.
Checks: the store keeps every text byte for byte; JSONL/JSON/CSV exports hold the exact text
(CSV defuses formulas), Markdown holds it with control characters made visible; the CLI
(`ls`, `results --out -`) and the TUI (dashboard, results table, result detail) show markup
literally and never pass an escape sequence or a bidi override to the terminal; the UI
stays responsive while the 1 MB result is shown.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import orjson
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle, Rule
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import LoopLag, cli_env, run_cli
from waiting import async_wait

MARKUP = "[bold red]ALERT[/] [link=https://evil.example]click me[/link] [/] [on red]tail"
ANSI = (
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07"
    " \x1b]0;pwned title\x07 \x1b[2J\x1b[Hcleared \x9b31m c1"
)
BIDI = "abc\u202edcba\u202c zero\u200bwidth\u200d \u2066iso\u2069 مرحبا שלום"
FORMULA = '=HYPERLINK("https://evil.example","open")'
# 1.5 MB of UTF-8 within the 128k-token output limit the emulator enforces (4 chars/token)
BIG = "大文本" * 170_000 + "END-OF-BIG"
BIG_MODEL = ("claude-sonnet-5", 128_000)
LONG_ID = "L" * 52 + "-markup-0001"  # 64 characters, the API's limit
assert len(LONG_ID) == 64
assert len(BIG.encode()) > 1_000_000

TEXTS = {
    "mk-1": MARKUP,
    "an-1": ANSI,
    "bd-1": BIDI,
    "fx-1": FORMULA,
    "big-1": BIG,
    LONG_ID: MARKUP + " long id",
}
LABEL = "[bold]label[/] \x1b[5mblink\x1b[0m [link=https://evil.example]x[/link]"
FORBIDDEN = ("\x1b", "\x9b", "\x07", "\u202e", "\u2066", "\u200b")


def rules() -> list[Rule]:
    return [Rule(pattern=f"^{cid}$", outcome="succeeded", text=t) for cid, t in TEXTS.items()]


def requests() -> list[dict[str, Any]]:
    out = []
    for cid in TEXTS:
        model, max_tokens = BIG_MODEL if cid == "big-1" else ("claude-haiku-4-5", 64)
        params = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": f"Prompt for {cid}"}],
        }
        out.append({"custom_id": cid, "params": params})
    return out


async def hostile_batch(emulator: EmulatorHandle, service: BatchService) -> str:
    emulator.set_rules(rules())
    outcome = await service.submit_requests(requests(), name="hostile [b]job[/b]")
    (bid,) = outcome.batch_ids
    # into the store directly: set_label refuses control characters now, but a store kept
    # from before (or written by another version) may hold them, and they are shown inert
    service.store.set_label(bid, LABEL)
    emulator.advance(3600)
    await service.refresh()
    assert (await service.download_results(bid)).rows == len(TEXTS)
    return bid


def assert_no_terminal_controls(text: str, where: str) -> None:
    for ch in FORBIDDEN:
        assert ch not in text, f"{ch!r} reached {where}"


async def test_hostile_text_is_data_everywhere(emulator: EmulatorHandle, tmp_path: Path) -> None:
    from batchtop.tui.app import BatchtopApp
    from batchtop.tui.screens.results import ResultsScreen
    from batchtop.tui.widgets.result_detail import ResultDetail
    from textual.widgets import Input

    env = cli_env(tmp_path, base_url=emulator.base_url)
    store_path = tmp_path / "xdg" / "data" / "batchtop" / "batchtop.sqlite3"
    store = Store.open(store_path)
    settings = Settings(notify_bell=False)
    service = BatchService(
        store, settings, api_key="test-key", base_url=emulator.base_url, now=emulator.clock.now
    )
    service.auto_download = False
    try:
        bid = await hostile_batch(emulator, service)

        # the store keeps every byte
        for cid, text in TEXTS.items():
            detail = service.result_detail(bid, cid)
            assert detail is not None
            assert detail[0].text == text, cid

        # exports
        out = tmp_path / "exports"
        out.mkdir()
        paths = {
            fmt: (await service.export([bid], fmt, out / f"r.{fmt}")).path
            for fmt in ("jsonl", "json", "csv", "markdown")
        }
        lines = [orjson.loads(x) for x in paths["jsonl"].read_bytes().splitlines()]
        by_id = {
            r["custom_id"]: "".join(
                b["text"] for b in r["result"]["message"]["content"] if b["type"] == "text"
            )
            for r in lines
        }
        assert by_id == TEXTS
        assert json.loads(paths["json"].read_text(encoding="utf-8")) == TEXTS
        csv.field_size_limit(1 << 26)  # the 1.5 MB cell is over the reader's default
        with paths["csv"].open(newline="", encoding="utf-8") as fh:
            rows = {r["custom_id"]: r for r in csv.DictReader(fh)}
        assert set(rows) == set(TEXTS)
        for cid, text in TEXTS.items():
            cell = rows[cid]["output"]
            assert cell == ("'" + text if text.startswith("=") else text), cid
        assert rows["fx-1"]["output"].startswith("'=")  # a spreadsheet will not evaluate it
        md = paths["markdown"].read_text(encoding="utf-8")
        assert MARKUP in md
        assert "END-OF-BIG" in md
        assert LONG_ID in md
        assert "\\x1b[31mred" in md  # escapes made visible, not executed
        assert "\\u202e" in md
        for ch in ("\x1b", "\x07", "\u202e", "\u2066"):
            assert ch not in md

        # the command line (a subprocess on the same store, no network needed)
        ls = run_cli("ls", "--offline", cwd=tmp_path, env=env)
        assert ls.returncode == 0, ls.stderr
        assert "[bold]label[/]" in ls.stdout
        assert_no_terminal_controls(ls.stdout, "`batchtop ls`")
        res = run_cli("results", bid, "--format", "json", "--out", "-", cwd=tmp_path, env=env)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == TEXTS  # exact, with controls JSON-escaped
        assert_no_terminal_controls(res.stdout, "`batchtop results --format json`")
        res = run_cli("results", bid, "--format", "markdown", "--out", "-", cwd=tmp_path, env=env)
        # (JSONL and CSV to stdout are the raw data, byte for byte: a pipe, not a display)
        assert res.returncode == 0, res.stderr
        assert MARKUP in res.stdout
        assert_no_terminal_controls(res.stdout.replace("\u200b", ""), "`results --format md`")

        # the TUI: dashboard row, results table, result detail
        app = BatchtopApp(service, settings, poll=False, now=emulator.clock.now)
        lag = LoopLag()
        async with app.run_test(size=(180, 50)) as pilot:
            await pilot.pause()
            table = app.dashboard.table
            await async_wait(lambda: table.row_count >= 1, 10, "dashboard rows")
            label_cell = table.get_cell(bid, "label").plain
            assert label_cell.startswith("[bold]label[/]")
            assert_no_terminal_controls(label_cell, "the dashboard")
            assert_no_terminal_controls(screen_text(app), "the dashboard screen")
            table.move_cursor(row=table.get_row_index(bid))
            await pilot.pause()
            await pilot.press("enter")
            await async_wait(lambda: isinstance(app.screen, ResultsScreen), 10, "results")
            screen = app.screen
            assert isinstance(screen, ResultsScreen)
            await async_wait(lambda: screen.loaded, 20, "results loaded")
            detail = screen.query_one(ResultDetail)
            search = screen.query_one("#results-search", Input)
            lag.start()
            for cid, text in TEXTS.items():
                await pilot.press("slash")
                search.value = ""
                await pilot.press(*f"for {cid}", "enter")  # typed: every keystroke filters
                await async_wait(
                    lambda cid=cid: detail.row is not None and detail.row.custom_id == cid,
                    20,
                    f"detail of {cid}",
                )
                await pilot.pause()
                shown = screen_text(app)
                assert_no_terminal_controls(shown, f"the results screen ({cid})")
                if text.startswith("[bold red]"):
                    assert "[bold red]ALERT[/]" in shown, cid
                    assert "[link=https://evil.example]click me[/link]" in shown
                if cid == "bd-1":
                    assert "مرحبا" in shown or "abc" in shown
                if cid == LONG_ID:
                    assert LONG_ID[:40] in shown
                assert detail.row.text == text  # the model keeps the exact text
                if cid == "big-1":  # the raw view of a 1.5 MB line is cut, not frozen on
                    await pilot.press("t")
                    await pilot.pause()
                    assert "more characters" in screen_text(app) or detail.raw
                    await pilot.press("t")
            lag.stop()
        print(
            f"\nhostile output: max loop lag {lag.max_lag_s:.3f} s,"
            f" busy {lag.max_busy_s:.3f} s, over {lag.ticks} beats"
        )
        lag.check(busy_limit_s=1.0, wall_limit_s=5.0)
    finally:
        await service.close()
        store.close()


def screen_text(app: Any) -> str:
    """The characters on screen now (what a terminal would receive as text)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def test_csv_formula_cells_are_defused_in_every_text_column(tmp_path: Path) -> None:
    """custom_id, input and error message columns get the same guard as the output."""
    from batchtop.core.export import csv_safe

    for value in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "\r=x"):
        safe = csv_safe(value)
        buf = io.StringIO()
        csv.writer(buf).writerow([safe])
        assert not buf.getvalue().lstrip('"').startswith(("=", "+", "-", "@")), value

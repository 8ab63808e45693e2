"""Regenerate screenshots/*.svg from the real app running the demo workspace.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Nothing here is drawn by hand: each picture is the app, driven with keys under Textual's
headless test driver, saved with `App.save_screenshot`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from batchtop.core.demo import start_demo
from batchtop.tui.app import BatchtopApp
from textual.pilot import Pilot
from textual.widgets import Input

SIZE = (160, 48)


def _request(custom_id: str, prompt: str, **params: object) -> str:
    body = {"model": "claude-haiku-4-5", "max_tokens": 200, **params}
    body["messages"] = [{"role": "user", "content": prompt}]
    return json.dumps({"custom_id": custom_id, "params": body})


BAD_IMPORT = "\n".join(
    [
        _request("ok-1", "Summarise the history of tea."),
        _request("ok-1", "Summarise the history of coffee."),
        _request("has spaces", "Hello"),
        _request("no-tokens", "Hello", max_tokens=0),
        '{"custom_id": "truncated", "params": {"model": "claude-haiku-4-5",',
    ]
)

Step = Callable[[Pilot[int], Path], Awaitable[None]]


async def _settle(pilot: Pilot[int]) -> None:
    """Let the app finish what the keys started (never the endless polling worker)."""
    await pilot.pause()
    # An empty list would mean "every worker" to Textual, the poller included: never returns.
    if pending := [w for w in pilot.app.workers if w.group not in {"poll", "refresh"}]:
        await pilot.app.workers.wait_for_complete(pending)
    await pilot.pause()


async def dashboard(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("j", "j")


async def results(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("/")
    await pilot.press(*"translations", "enter", "enter")
    await _settle(pilot)
    await pilot.press("j", "j", "j")


async def results_search(pilot: Pilot[int], tmp: Path) -> None:
    await results(pilot, tmp)
    await pilot.press("/", *"beekeeping", "enter")
    await _settle(pilot)


async def export_dialog(pilot: Pilot[int], tmp: Path) -> None:
    await results_search(pilot, tmp)
    await pilot.press("e")


async def help_screen(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("question_mark")


async def palette(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("ctrl+p", *"batch")


async def import_report(pilot: Pilot[int], tmp: Path) -> None:
    path = tmp / "requests.jsonl"
    path.write_text(BAD_IMPORT, encoding="utf-8")
    await pilot.press("i")
    await pilot.pause()
    pilot.app.screen.query_one("#import-path", Input).value = str(path)
    await pilot.press("ctrl+r")
    await _settle(pilot)


async def compose(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("n")
    await pilot.pause()
    await pilot.press(*"Write a haiku about batch processing.")
    # The JSON preview follows the typing after a short debounce: wait until it caught up.
    screen = pilot.app.screen
    for _ in range(100):
        requests = getattr(screen, "requests", [])
        if requests and requests[0]["params"]["messages"][0]["content"].endswith("processing."):
            break
        await pilot.pause(0.05)


SHOTS: dict[str, Step] = {
    "dashboard": dashboard,
    "results": results,
    "results-search": results_search,
    "export": export_dialog,
    "import": import_report,
    "compose": compose,
    "help": help_screen,
    "palette": palette,
}


async def shoot(name: str, step: Step, out: Path) -> None:
    async with start_demo() as demo:
        app = BatchtopApp(demo.service, demo.service.settings, demo=True, now=demo.now)
        with tempfile.TemporaryDirectory() as tmp:
            async with app.run_test(size=SIZE) as pilot:
                await _settle(pilot)
                await step(pilot, Path(tmp))
                await _settle(pilot)
                app.save_screenshot(filename=f"{name}.svg", path=str(out))
    print(f"wrote {out / (name + '.svg')}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(SHOTS)} (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = set(args.names) - set(SHOTS)
    if unknown:
        parser.error(f"unknown screenshot(s): {', '.join(sorted(unknown))}")
    for name in args.names or SHOTS:
        await shoot(name, SHOTS[name], args.out)


if __name__ == "__main__":
    asyncio.run(main())

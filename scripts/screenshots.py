"""Regenerate screenshots/*.svg from the real app running the demo workspace.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Nothing here is drawn by hand: each picture is the app, driven with keys under Textual's
headless test driver, saved with `App.save_screenshot`. Before the app opens, the demo runs
for a minute of its emulated time (polled every few seconds), so the pictures show work under
way: progress, an ETA, a sparkline with history, a job of several batches, a batch with
errors. The results pictures browse a batch of review classifications whose replies the
emulator is told (real-looking text, not its generic summaries). Paths shown are relative:
no picture names a directory of the machine that took it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from batchtop.core.demo import Demo, start_demo
from batchtop.core.emulator import Rule
from batchtop.tui.app import BatchtopApp
from textual.pilot import Pilot
from textual.widgets import Input

SIZE = (120, 40)  # a common terminal size
WORKING_STEPS = 10  # polls, WORKING_STEP_S emulated seconds apart, before the pictures
WORKING_STEP_S = 5.0

REVIEWS: list[tuple[str, str]] = [
    (
        "The battery easily lasts a week of commuting and the noise cancelling is superb, "
        "but the carrying case feels cheap.",
        "**Positive.** The reviewer praises the *battery life* (a week of commuting) and the "
        "noise cancelling.\n\nOne complaint: the carrying case feels cheap.",
    ),
    (
        "Stopped charging after three weeks. Support never answered my emails.",
        "**Negative.** The device failed within a month (it *stopped charging*) and support "
        "did not respond.\n\nLikely churn risk: mentions of unanswered emails.",
    ),
    (
        "Does what it says. Setup took two minutes and it has worked every day since.",
        "**Positive.** Quick setup (two minutes) and reliable daily use; no complaints.",
    ),
    (
        "Sound is fine, but the app keeps asking me to log in and the battery drains "
        "overnight even when switched off.",
        "**Mixed.** Sound quality is acceptable, but two defects stand out:\n\n"
        "- the companion app logs the user out repeatedly\n"
        "- the *battery* drains overnight while switched off",
    ),
    (
        "Gift for my dad, he loves it. Big buttons, loud enough, and the battery is great.",
        "**Positive.** Bought as a gift; praised for large buttons, volume and *battery*.",
    ),
    (
        "Arrived with a cracked screen. The replacement was fine and came in two days.",
        "**Mixed.** Damaged on arrival, but the replacement was quick (two days) and works.",
    ),
    (
        "Overpriced for what it is. The cheaper model does the same.",
        "**Negative.** Judged overpriced compared with the cheaper model of the same range.",
    ),
    (
        "Comfortable for long calls, the microphone is clear and the battery keeps up with a "
        "full working day.",
        "**Positive.** Comfortable for long calls, clear microphone, *battery* lasts a full "
        "working day.",
    ),
    (
        "Bluetooth drops every few minutes when the phone is in my pocket.",
        "**Negative.** Unstable Bluetooth connection (drops every few minutes).",
    ),
    (
        "Solid build, nice packaging, instructions only in German.",
        "**Mixed.** Good build quality and packaging; instructions were not in the buyer's "
        "language.",
    ),
    (
        "Five stars. Replaced two older devices and the battery lasts twice as long.",
        "**Positive.** Replaces two older devices; *battery* life twice as long.",
    ),
    (
        "It's okay.",
        "**Neutral.** Too short to extract a reason.",
    ),
]
OVERLOADED = {7}  # review-0007 errored (the API was overloaded): the results show one


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


async def _showcase(demo: Demo) -> None:
    """A small batch of review classifications with replies that read like real ones."""
    rules = [
        Rule(
            f"^review-{i:04d}$",
            outcome="errored",
            error_type="overloaded_error",
            error_message="Overloaded",
        )
        if i in OVERLOADED
        else Rule(f"^review-{i:04d}$", text=reply)
        for i, (_, reply) in enumerate(REVIEWS, 1)
    ]
    demo.emulator.set_rules(rules)
    requests = [
        json.loads(
            _request(
                f"review-{i:04d}",
                f"Classify the sentiment of this product review and give the reason.\n\n{text}",
            )
        )
        for i, (text, _) in enumerate(REVIEWS, 1)
    ]
    await demo.service.submit_requests(requests, name="review sentiment", label="review sentiment")
    demo.emulator.set_rules([])


async def _working(demo: Demo) -> None:
    """Let the demo run: the live job moves, polls leave a history for ETA and sparkline."""
    for _ in range(WORKING_STEPS):
        demo.clock.jump(WORKING_STEP_S)
        await demo.fleet.refresh()


async def dashboard(pilot: Pilot[int], _: Path) -> None:
    """The article job's part 2 under way: progress, ETA, a sparkline with history."""
    await pilot.press("5")  # the jobs view: a job of several batches with their parts
    await pilot.pause()
    table = pilot.app.dashboard.table  # type: ignore[attr-defined]
    for key in table.keys:
        batch = pilot.app.dashboard.batch_view(key)  # type: ignore[attr-defined]
        if batch is not None and batch.remote.is_active and batch.job_part == 2:
            table.move_cursor(row=table.get_row_index(key))
            break
    await pilot.pause()


async def results(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("/")
    await pilot.press(*"review", "enter", "enter")
    await _settle(pilot)
    await pilot.press("j", "j", "j")


async def results_search(pilot: Pilot[int], tmp: Path) -> None:
    await results(pilot, tmp)
    await pilot.press("/", *"battery", "enter")
    await _settle(pilot)
    await pilot.press("j")


async def export_dialog(pilot: Pilot[int], tmp: Path) -> None:
    await results_search(pilot, tmp)
    await pilot.press("e")
    await pilot.pause()
    # a relative destination, as a user would type it (the default is in the working dir)
    pilot.app.screen.query_one("#export-path", Input).value = "review-sentiment.jsonl"


async def help_screen(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("question_mark")


async def palette(pilot: Pilot[int], _: Path) -> None:
    await pilot.press("ctrl+p", *"batch")


async def import_report(pilot: Pilot[int], tmp: Path) -> None:
    path = tmp / "requests.jsonl"
    path.write_text(BAD_IMPORT, encoding="utf-8")
    await pilot.press("i")
    await pilot.pause()
    pilot.app.screen.query_one("#import-path", Input).value = path.name  # cwd is tmp
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


def _keep_spaces(svg: Path) -> None:
    """Each run of text is a <text> at its column; without `xml:space="preserve"` SVG
    renderers drop a run's leading spaces (`Mixed. Sound` read `Mixed.Sound`)."""
    text = svg.read_text(encoding="utf-8")
    svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")


async def shoot(name: str, step: Step, out: Path) -> None:
    async with start_demo() as demo:
        await _showcase(demo)
        await _working(demo)
        app = BatchtopApp(demo.fleet, demo.service.settings, demo=True, now=demo.now)
        with tempfile.TemporaryDirectory() as tmp:
            home = Path.cwd()
            os.chdir(tmp)  # relative paths in the pictures, never the machine's
            try:
                async with app.run_test(size=SIZE) as pilot:
                    await _settle(pilot)
                    await step(pilot, Path(tmp))
                    await _settle(pilot)
                    app.save_screenshot(filename=f"{name}.svg", path=str(out))
            finally:
                os.chdir(home)
    _keep_spaces(out / f"{name}.svg")
    print(f"wrote {out / (name + '.svg')}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(SHOTS)} (default: all)")
    args = parser.parse_args()
    args.out = args.out.resolve()  # the shots run in a temporary working directory
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = set(args.names) - set(SHOTS)
    if unknown:
        parser.error(f"unknown screenshot(s): {', '.join(sorted(unknown))}")
    for name in args.names or SHOTS:
        await shoot(name, SHOTS[name], args.out)


if __name__ == "__main__":
    asyncio.run(main())

"""KeyFooter: the screen's keys on one line, following focus, clickable."""

from __future__ import annotations

from typing import Any, ClassVar

from batchtop.tui.widgets.key_footer import KeyFooter
from dashboard_support import until
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget


class Pane(Widget, can_focus=True):
    DEFAULT_CSS = "Pane { height: 3; }"


class Left(Pane):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("x", "app.note('x')", "Expand")]


class Right(Pane):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "app.note('y')", "Yank")]


class FooterApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "note('a')", "Alpha"),
        Binding("b", "note('b')", "Bravo", show=False),
        Binding("c", "locked", "Locked"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[str] = []

    def compose(self) -> ComposeResult:
        yield Left(id="left")
        yield Right(id="right")
        yield KeyFooter()

    def action_note(self, what: str) -> None:
        self.notes.append(what)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "locked" else True

    def action_locked(self) -> None:
        self.notes.append("locked")


def footer_line(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()
    return "".join(seg.text for seg in strips[-1])


async def test_shows_the_focused_chain_and_follows_focus() -> None:
    app = FooterApp()
    async with app.run_test(size=(100, 12)) as pilot:
        app.query_one("#left").focus()
        assert await until(pilot, lambda: "Expand" in footer_line(app))
        line = footer_line(app)
        assert " a Alpha " in line
        assert " x Expand " in line
        assert "Bravo" not in line  # show=False stays out
        assert "Yank" not in line
        assert line.rstrip().endswith("palette")  # the command palette key, at the right edge
        app.query_one("#right").focus()
        assert await until(pilot, lambda: "Yank" in footer_line(app))
        assert "Expand" not in footer_line(app)


async def test_click_presses_the_key_and_disabled_keys_do_nothing() -> None:
    app = FooterApp()
    async with app.run_test(size=(100, 12)) as pilot:
        app.query_one("#left").focus()
        assert await until(pilot, lambda: "Expand" in footer_line(app))
        line = footer_line(app)
        footer = app.query_one(KeyFooter)
        await pilot.click(footer, offset=(line.index("Expand"), 0))
        assert await until(pilot, lambda: app.notes == ["x"])
        await pilot.click(footer, offset=(line.index("Alpha"), 0))
        assert await until(pilot, lambda: app.notes == ["x", "a"])
        await pilot.click(footer, offset=(line.index("Locked"), 0))
        await pilot.pause()
        assert app.notes == ["x", "a"]


async def test_long_lines_keep_the_palette_key() -> None:
    app = FooterApp()
    async with app.run_test(size=(30, 12)) as pilot:
        app.query_one("#left").focus()
        await pilot.pause()
        line = footer_line(app)
        assert len(line) == 30
        assert "palette" in line
        assert "…" in line

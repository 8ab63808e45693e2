"""Each screen's CSS lives in its class (DEFAULT_CSS); app.tcss holds only what dialogs share."""

from __future__ import annotations

import re
from pathlib import Path

import batchtop.tui


def test_app_css_styles_no_screen_by_id() -> None:
    css = (Path(batchtop.tui.__file__).parent / "app.tcss").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    assert "#" not in css  # ids belong to a screen or widget: styled in its DEFAULT_CSS
    selectors = {s.strip() for s in re.findall(r"([^{}]+)\{", css)}
    assert selectors
    assert all(s.startswith((".dialog", ".help-dialog")) for s in selectors), selectors

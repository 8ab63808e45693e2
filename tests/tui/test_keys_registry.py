"""Every key batchtop binds comes from the one table in `tui/keys.py`."""

from __future__ import annotations

import importlib
import pkgutil

import batchtop.tui
from batchtop.tui import keys
from textual.binding import Binding
from textual.dom import DOMNode


def _tui_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(batchtop.tui.__path__, "batchtop.tui.")
        if ".cli" not in info.name and not info.name.endswith("serve")
    ]
    for name in names:
        importlib.import_module(name)
    return names


def _registered() -> list[Binding]:
    tables = [v for k, v in vars(keys).items() if k.endswith("_KEYS") and isinstance(v, tuple)]
    return [key.binding() for table in tables for key in table]


def test_every_screen_and_widget_binds_keys_of_the_registry() -> None:
    modules = set(_tui_modules())
    registered = _registered()
    seen = 0
    stack: list[type] = [DOMNode]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__ not in modules:
            continue
        for binding in cls.__dict__.get("BINDINGS", []):
            seen += 1
            assert isinstance(binding, Binding), (cls.__name__, binding)
            assert binding in registered, f"{cls.__name__} binds {binding.key!r} inline"
    assert seen > 40  # every screen and widget of the TUI was looked at


def test_binding_ids_are_unique() -> None:
    ids = [b.id for b in _registered() if b.id]
    assert len(ids) == len(set(ids))

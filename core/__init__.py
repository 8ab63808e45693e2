"""batchtop.core: the headless engine (no textual, no rich).

Everything here is usable from scripts, the CLI and the Textual app alike.
"""

from __future__ import annotations

from functools import cache

__all__ = ["__version__", "package_version"]


@cache
def package_version() -> str:
    """The installed version. Read on demand: importlib.metadata costs ~25 ms to import,
    a sixth of the dashboard's start-up budget, and only `--version` needs it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("batchtop")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0+local"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

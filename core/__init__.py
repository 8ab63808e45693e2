"""batchtop.core: the headless engine (no textual, no rich).

Everything here is usable from scripts, the CLI and the Textual app alike.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("batchtop")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]

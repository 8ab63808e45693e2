"""The results wing: download, ingest, index, search index, export pages.

`ResultsIndex` owns a store's result rows and the threads that write and index them;
`download_and_ingest` streams a batch's results from the API into it. The other modules
are the package's own (import-linter keeps the rest of core and the front ends out).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .download import download_and_ingest
    from .index import ResultsIndex
    from .ingest import IngestStats
    from .queries import row_source

__all__ = ["IngestStats", "ResultsIndex", "download_and_ingest", "row_source"]

# Each name is imported from its module when first asked for: a dashboard's first frame
# opens a `ResultsIndex` but neither downloads, ingests nor exports.
_HOME = {
    "IngestStats": ".ingest",
    "ResultsIndex": ".index",
    "download_and_ingest": ".download",
    "row_source": ".queries",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value

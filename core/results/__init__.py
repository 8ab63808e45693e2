"""The results wing: download, ingest, index, search index, export pages.

`ResultsIndex` owns a store's result rows and the threads that write and index them;
`download_and_ingest` streams a batch's results from the API into it. The other modules
are the package's own (import-linter keeps the rest of core and the front ends out).
"""

from __future__ import annotations

from .download import download_and_ingest
from .index import ResultsIndex
from .ingest import IngestStats
from .queries import row_source

__all__ = ["IngestStats", "ResultsIndex", "download_and_ingest", "row_source"]

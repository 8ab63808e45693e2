"""Tests' way to a store's `ResultsIndex`: one per open store, assembled as `BatchService`
assembles it (the statistics' rows built after each search index)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from batchtop.core import stats
from batchtop.core.database import Database
from batchtop.core.results import ResultsIndex
from batchtop.core.store import Store

_INDEXES: WeakKeyDictionary[Database, ResultsIndex] = WeakKeyDictionary()


def results_of(store: Store) -> ResultsIndex:
    """The results of `store`'s database (opened on first use: an unfinished search-index
    build resumes then, as when a service opens the store)."""
    index = _INDEXES.get(store.db)
    if index is None:
        index = ResultsIndex.open(store.db, after_index=stats.build_pending_facts)
        _INDEXES[store.db] = index
    return index

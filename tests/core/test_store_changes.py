"""The store numbers every change to a batch's row, whoever writes it (schema migration 14):
a reader on another connection (another process) reads exactly what changed since its mark."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from batchtop.core.models import ProcessingStatus, RequestCounts
from batchtop.core.store import Store
from data_factory import T0, remote


def test_a_reader_gets_every_change_another_store_made(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with Store.open(path) as reader, Store.open(path) as writer:
        assert reader.change_mark() == 0
        running = RequestCounts(processing=2)
        writer.upsert_remote(
            [remote("a", status=ProcessingStatus.IN_PROGRESS, counts=running), remote("b")], T0
        )
        views, mark = reader.changed_since(0)
        assert [v.id for v in views] == ["a", "b"]
        assert mark == reader.change_mark()

        # the same description seen again changes nothing; what is new is numbered again
        writer.upsert_remote([remote("b")], T0 + timedelta(minutes=1))
        assert reader.changed_since(mark) == ([], mark)
        writer.upsert_remote([remote("a", counts=RequestCounts(succeeded=2))], T0)
        writer.set_label("b", "named elsewhere")
        writer.mark_deleted("a")
        views, newer = reader.changed_since(mark)
        assert [(v.id, v.label, v.deleted) for v in views] == [
            ("b", "named elsewhere", False),
            ("a", None, True),
        ]
        assert newer > mark
        assert reader.changed_since(newer) == ([], newer)

        # a local row recorded before the batch's first refresh shows once the batch does
        writer.set_batch_meta("c", job_id="job_1", job_part=1)
        views, mark = reader.changed_since(newer)
        assert views == []
        writer.upsert_remote([remote("c")], T0)
        views, _mark = reader.changed_since(mark)
        assert [(v.id, v.job_id) for v in views] == [("c", "job_1")]

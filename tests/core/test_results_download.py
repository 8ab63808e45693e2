"""Results download: raw stream to an atomic 0600 file, restart after a cut, then indexed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from batchtop.core import paths
from batchtop.core.api import BatchApi
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import ApiError, Conflict, UserError
from batchtop.core.models import ResultFilter
from batchtop.core.results.search import SearchIndexer
from data_factory import requests
from service_support import FakeSleep, ServiceFactory


async def _ended_batch(service, emulator: EmulatorHandle, n: int) -> str:  # type: ignore[no-untyped-def]
    service.auto_download = False
    outcome = await service.submit_requests(requests(n))
    emulator.advance(3600)
    await service.refresh()
    return outcome.batch_ids[0]


async def test_cut_stream_is_restarted_and_every_row_indexed(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cuts = {"n": 0}

    def on_sleep(_delay: float) -> None:
        cuts["n"] += 1
        if cuts["n"] == 2:  # two cut attempts, then the connection behaves
            emulator.clear_faults()

    sleeper = FakeSleep(on_sleep=on_sleep)
    service = make_service(sleep=sleeper)
    bid = await _ended_batch(service, emulator, 200)
    emulator.set_faults(cut_results_after_bytes=5000)
    seen: list[int] = []
    rows = (await service.download_results(bid, progress=seen.append)).rows
    assert rows == 200
    assert sleeper.delays == [0.5, 1.0]  # backoff between attempts
    assert emulator.stats.count("results") == 3
    final = paths.results_dir() / f"{bid}.jsonl"
    assert final.exists()
    assert stat.S_IMODE(final.stat().st_mode) == 0o600
    assert len(final.read_bytes().splitlines()) == 200
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # no temp left
    assert seen
    assert seen[-1] == final.stat().st_size
    view = service.batch(bid)
    assert view is not None
    assert view.results_downloaded
    assert view.results_indexed == 200
    assert service.results_page([bid], ResultFilter(), 0, 1).total == 200


async def test_cut_stream_is_a_retryable_connection_failure(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The SDK's exception for a cut body changed within 2.x; batchtop's reading must not."""
    service = make_service()
    bid = await _ended_batch(service, emulator, 200)
    emulator.set_faults(cut_results_after_bytes=5000)
    api = BatchApi(api_key="k", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(ApiError) as info:
        async for _chunk in api.iter_results(bid):
            pass
    await api.close()
    err = info.value
    assert err.kind == "offline"  # retried by the download, like any connection failure
    assert err.sent
    assert str(err).startswith(f"Connection to {emulator.base_url} was interrupted")


async def test_persistent_cut_fails_cleanly(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    bid = await _ended_batch(service, emulator, 50)
    emulator.set_faults(cut_results_after_bytes=1000)
    with pytest.raises(ApiError, match="after 5 attempts") as info:
        await service.download_results(bid)
    assert info.value.kind == "offline"
    assert "was interrupted" in str(info.value)
    assert list(paths.results_dir().iterdir()) == []
    view = service.batch(bid)
    assert view is not None
    assert not view.results_downloaded


async def test_the_file_is_recorded_before_the_search_index_build_starts(
    make_service: ServiceFactory, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build's steps hold the store's write lock: recording the downloaded file once it
    had started waited for its first step, on the download's critical path."""
    service = make_service()
    bid = await _ended_batch(service, emulator, 20)
    recorded: list[bool] = []
    real_start = SearchIndexer.start

    def start(indexer: SearchIndexer) -> None:
        view = service.store.get_batch(bid)
        recorded.append(view is not None and view.results_downloaded)
        real_start(indexer)

    monkeypatch.setattr(SearchIndexer, "start", start)
    assert (await service.download_results(bid)).rows == 20
    assert recorded == [True]


async def test_redownload_is_idempotent(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    bid = await _ended_batch(service, emulator, 30)
    assert (await service.download_results(bid)).rows == 30
    first = (paths.results_dir() / f"{bid}.jsonl").read_bytes()
    ingests: list[str] = []
    real_ingest = service.results.ingest_results

    def counting_ingest(batch_id: str, path: Path, progress: object = None) -> int:
        ingests.append(batch_id)
        return real_ingest(batch_id, path)

    service.results.ingest_results = counting_ingest  # type: ignore[method-assign]
    assert (await service.download_results(bid)).rows == 30
    assert ingests == []  # identical bytes: the index is already right
    assert (paths.results_dir() / f"{bid}.jsonl").read_bytes() == first
    assert service.result_summary([bid]).by_type
    assert service.results_page([bid], ResultFilter(), 0, 100).total == 30


async def test_results_of_a_running_batch_are_a_conflict(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.config.rate = 0.001
    service = make_service()
    outcome = await service.submit_requests(requests(3))
    with pytest.raises(Conflict, match="has not ended"):
        await service.download_results(outcome.batch_ids[0])
    assert emulator.stats.count("results") == 0


async def test_batch_created_elsewhere_downloads_without_manifest(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    remote = await service._api.create(requests(4, prefix="elsewhere"))
    emulator.advance(60)
    # unknown locally: download_results fetches it first
    assert (await service.download_results(remote.id)).rows == 4
    page = service.results_page([remote.id], ResultFilter(), 0, 10)
    assert page.total == 4
    assert all(r.input_text is None for r in page.rows)


async def test_transient_404_right_after_create_is_retried(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    sleeper = FakeSleep(on_sleep=lambda _d: emulator.advance(30))
    service = make_service(sleep=sleeper)
    service.auto_download = False
    outcome = await service.submit_requests(requests(5))
    emulator.advance(10)  # ended, but the API still says 404 for a minute
    emulator.set_faults(transient_404_s=60)
    await service.refresh()
    assert (await service.download_results(outcome.batch_ids[0])).rows == 5
    assert sleeper.delays


async def test_a_directory_where_the_results_file_goes_is_a_one_line_error(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    """Something made a directory of the batch's results file: the download says it cannot
    save there (a UserError, one line), and leaves no temp file behind."""
    service = make_service()
    bid = await _ended_batch(service, emulator, 20)
    final = paths.results_dir() / f"{bid}.jsonl"
    final.mkdir(parents=True)
    with pytest.raises(UserError, match=r"Cannot save the downloaded results as .*: Is a dir"):
        await service.download_results(bid)
    assert [p.name for p in final.parent.iterdir()] == [final.name]
    final.rmdir()
    assert (await service.download_results(bid)).rows == 20

"""What several cases share, built once per run and only when a case asks for it.

- a 10,000-batch store (startup, dashboard keys);
- an emulator process holding one ended batch of `n_results` requests (ingest, search,
  export, results keys, memory), and a store with those results downloaded and indexed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from . import util

N_BATCHES = 10_000


def remote_from_json(d: dict[str, Any]) -> Any:
    """A RemoteBatch from the API's JSON (no SDK: the bench parent stays light)."""
    from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts

    def dt(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    c = d["request_counts"]
    created = dt(d["created_at"])
    expires = dt(d["expires_at"])
    assert created is not None
    assert expires is not None
    return RemoteBatch(
        id=d["id"],
        processing_status=ProcessingStatus(d["processing_status"]),
        request_counts=RequestCounts(
            c["processing"], c["succeeded"], c["errored"], c["canceled"], c["expired"]
        ),
        created_at=created,
        expires_at=expires,
        ended_at=dt(d.get("ended_at")),
        cancel_initiated_at=dt(d.get("cancel_initiated_at")),
        archived_at=dt(d.get("archived_at")),
        results_url=d.get("results_url"),
    )


def seed_batch(store_path: Path, batch: dict[str, Any], reqs: list[dict[str, Any]]) -> None:
    """Make a store know `batch` as batchtop would after submitting it (job, part, manifest)."""
    from batchtop.core.store import Store

    now = util.utcnow()
    store = Store.open(store_path)
    try:
        store.upsert_remote([remote_from_json(batch)], now)
        job = store.create_job("bench", None, now)
        store.add_manifest(
            job.id,
            1,
            (
                (
                    r["custom_id"],
                    r["params"]["messages"][-1]["content"],
                    orjson.dumps(r["params"]).decode(),
                )
                for r in reqs
            ),
        )
        store.set_batch_meta(batch["id"], job_id=job.id, job_part=1, model="claude-haiku-4-5")
    finally:
        store.close()


async def download(store_path: Path, base_url: str, batch_id: str) -> float:
    """Download + parse + index a batch's results into the store; returns the seconds taken."""
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store

    store = Store.open(store_path)
    service = BatchService(
        store, Settings(max_retries=0), api_key=util.BENCH_KEY, base_url=base_url
    )
    try:
        service.warm_up()  # the SDK import is not part of the ingest
        with util.timer() as t:
            rows = (await service.download_results(batch_id)).rows
    finally:
        await service.close()
        store.close()
    if rows <= 0:
        raise RuntimeError(f"ingest indexed {rows} rows")
    return t[0]


@dataclass
class Results:
    base_url: str
    batch: dict[str, Any]
    requests: list[dict[str, Any]]
    store: Path | None = None  # results downloaded and indexed

    @property
    def batch_id(self) -> str:
        return str(self.batch["id"])


@dataclass
class Context:
    quick: bool
    workdir: Path
    log: Any = print
    tiny: bool = False  # smoke-test sizes (the test suite runs one case this way)
    _stack: ExitStack = field(default_factory=ExitStack)
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def reps(self) -> int:
        return 2 if self.tiny else 3 if self.quick else 5

    @property
    def n_results(self) -> int:
        return 1_000 if self.tiny else 20_000 if self.quick else 100_000

    def path(self, name: str) -> Path:
        p = self.workdir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def fresh_dir(self, name: str) -> Path:
        p = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir))
        return p

    def close(self) -> None:
        self._stack.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- shared fixtures -------------------------------------------------------------------

    def emulator(self, max_requests: int = 100_000) -> util.EmulatorProcess:
        key = f"emulator-{max_requests}"
        if key not in self._cache:
            emu = util.EmulatorProcess(
                self.path("emu-home"),
                rate=None,
                shuffle_results=True,
                rules=util.outcome_rules(),
                max_requests=max_requests,
                max_body_bytes=1 << 30,
            )
            self._stack.callback(emu.close)
            self._cache[key] = emu
        emu = self._cache[key]
        assert isinstance(emu, util.EmulatorProcess)
        return emu

    def ended_batch(self, n: int) -> Results:
        """An ended batch of `n` requests on the emulator (created once per size)."""
        key = f"batch-{n}"
        if key not in self._cache:
            emu = self.emulator(max(100_000, n))
            reqs = list(util.requests(n))
            self.log(f"  setup: creating a batch of {n:,} requests on the emulator")
            batch = util.create_batch(emu.base_url, reqs)
            batch = util.retrieve_batch(emu.base_url, batch["id"])
            if batch["processing_status"] != "ended":
                raise RuntimeError(f"emulator batch did not end: {batch['processing_status']}")
            self._cache[key] = Results(emu.base_url, batch, reqs)
        res = self._cache[key]
        assert isinstance(res, Results)
        return res

    def results(self) -> Results:
        """The run's results batch, downloaded and indexed into a store."""
        res = self.ended_batch(self.n_results)
        if res.store is None:
            path = self.path("results/store.sqlite3")
            seed_batch(path, res.batch, res.requests)
            self.log(f"  setup: downloading and indexing {self.n_results:,} results")
            if self.tiny:  # smoke test: skip the SDK import (seconds) and index a raw copy
                raw = self.path("results/raw.jsonl")
                with util.http_client(res.base_url) as http:
                    got = http.get(f"/v1/messages/batches/{res.batch_id}/results")
                    got.raise_for_status()
                    raw.write_bytes(got.content)
                from batchtop.core.results import ResultsIndex
                from batchtop.core.store import Store

                with Store.open(path) as store:
                    ResultsIndex(store.db).ingest_results(res.batch_id, raw)
            else:
                asyncio.run(download(path, res.base_url, res.batch_id))
            res.store = path
        return res

    def batches_store(self) -> Path:
        """A store holding 10,000 batches (one in ten active)."""
        path = self.path("batches/store.sqlite3")
        if "batches" not in self._cache:
            from batchtop.core.store import Store

            now = util.utcnow()
            store = Store.open(path)
            try:
                store.upsert_remote(util.remote_batches(N_BATCHES, now), now)
            finally:
                store.close()
            self._cache["batches"] = path
        return path

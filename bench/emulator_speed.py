"""Measure the emulator: create + process (instant) + stream results of a big batch.

Run: PYTHONPATH=.dev python bench/emulator_speed.py [N]   (default 100,000 requests)
Uses raw HTTP (httpx2 / httpx) for the create so the measurement is the server, not the SDK's
request building; the results are streamed raw and also parsed through the SDK once.
"""

from __future__ import annotations

import os
import sys
import time

import orjson
from batchtop.core.emulator import EmulatorConfig, run_in_thread


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    try:
        import httpx2 as httpx  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover
        import httpx  # type: ignore[import-not-found, no-redef]

    requests = [
        {
            "custom_id": f"req-{i:06d}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 512,
                "messages": [
                    {
                        "role": "user",
                        "content": f"Summarise review {i}: the product arrived quickly and "
                        "works as described, though the manual could be clearer.",
                    }
                ],
            },
        }
        for i in range(n)
    ]
    body = orjson.dumps({"requests": requests})
    headers = {"x-api-key": "bench", "content-type": "application/json"}
    with (
        run_in_thread(EmulatorConfig(rate=None)) as emu,
        httpx.Client(base_url=emu.base_url, timeout=600) as http,
    ):
        c0 = time.process_time()
        t0 = time.perf_counter()
        created = http.post("/v1/messages/batches", content=body, headers=headers)
        created.raise_for_status()
        batch_id = created.json()["id"]
        t1 = time.perf_counter()
        c1 = time.process_time()
        batch = http.get(f"/v1/messages/batches/{batch_id}", headers=headers).json()
        assert batch["processing_status"] == "ended", batch
        t2 = time.perf_counter()
        c2 = time.process_time()
        size = 0
        lines = 0
        with http.stream("GET", batch["results_url"], headers=headers) as resp:
            for chunk in resp.iter_bytes(1 << 20):
                size += len(chunk)
                lines += chunk.count(b"\n")
        t3 = time.perf_counter()
        c3 = time.process_time()
        assert lines == n, (lines, n)
    mb = size / 1e6
    print(f"requests:            {n:,} (body {len(body) / 1e6:.1f} MB)")
    print(f"create (accept):     {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU (client + server)")
    print(f"retrieve (ended):    {t2 - t1:.3f} s")
    print(f"stream results:      {t3 - t2:.2f} s for {mb:.1f} MB = {mb / (t3 - t2):.0f} MB/s")
    per_cpu = mb / max(c3 - c2, 1e-9)
    print(f"                     ({c3 - c2:.2f} s CPU = {per_cpu:.0f} MB per CPU second)")
    print(f"total create→results {t3 - t0:.2f} s wall; {os.getloadavg()[0]:.1f} load average")


if __name__ == "__main__":
    main()

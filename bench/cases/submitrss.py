"""Peak RSS of importing and submitting a ~300 MB JSONL, and the store's growth for it."""

from __future__ import annotations

import shutil

from .. import util
from ..context import Context
from .importer import generate

NAME = "submitrss"
TITLE = "peak RSS of import + submit of a ~300 MB JSONL (and the store it leaves)"
METHOD = (
    "a native JSONL file is generated once (120,000 requests with ~2,500-character prompts,"
    " ~300 MB, in full mode: two parts, split at 100,000 requests; 12,000 / ~30 MB in quick"
    " mode). One fresh child interpreter runs what `batchtop submit FILE` runs:"
    " `BatchService.analyse` then `BatchService.submit` against the emulator (in its own"
    " process, so its memory is not counted), and reads its peak RSS (`VmHWM` in"
    " /proc/self/status). The store's size (database + WAL) after the submit is reported"
    " beside it: each input is stored once (its params; the prompt is read from them)."
)

CHILD = """
import asyncio, sys
from pathlib import Path


def peak_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


async def main(src, base_url, store_path):
    from batchtop.core.config import Settings
    from batchtop.core.models import ImportOptions
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store

    store = Store.open(store_path)
    service = BatchService(store, Settings(max_retries=0), api_key="bench-key", base_url=base_url)
    try:
        service.warm_up()
        report = await service.analyse(src, ImportOptions())
        if not report.ok:
            raise RuntimeError(str(report.issues[:3]))
        outcome = await service.submit(report)
        if outcome.failed_parts:
            raise RuntimeError(str(outcome.errors))
    finally:
        await service.close()
        store.close()
    size = sum(p.stat().st_size for p in store_path.parent.glob(store_path.name + "*"))
    print(f"{peak_mb():.1f} {size / 1e6:.1f} {len(outcome.batch_ids)} {report.request_count}")


asyncio.run(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
"""


def run(ctx: Context) -> list[util.Measure]:
    n = 1_200 if ctx.tiny else 12_000 if ctx.quick else 120_000
    path = ctx.path("submitrss/requests.jsonl")
    size = generate(path, n, 2_500)
    ctx.log(f"  setup: {n:,} requests, {size / 1e6:.0f} MB")
    emu = ctx.emulator()
    home = ctx.fresh_dir("submitrss")
    try:
        proc = util.run_child(
            ["-c", CHILD, str(path), emu.base_url, str(home / "store.sqlite3")],
            util.child_env(home / "h"),
            timeout=1800,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
        path.unlink(missing_ok=True)
    peak, store_mb, batches, count = proc.stdout.split()[-4:]
    if int(count) != n:
        raise RuntimeError(f"submitted {count} requests, expected {n}")
    target = size / 1e6  # ≤ the input's size (300 MB for the 300 MB file)
    return [
        util.Measure(
            NAME,
            f"peak RSS, import + submit of {size / 1e6:.0f} MB ({n // 1000}k requests)",
            float(peak),
            "MB",
            f"≤ {max(300, target):.0f} MB",
            float(peak) <= max(300.0, target),
            detail=f"{batches} batches; store after submit {float(store_mb):.0f} MB",
        )
    ]

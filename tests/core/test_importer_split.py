"""Splitting into parts under the per-batch limits, and progress reporting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.importer import analyse
from batchtop.core.models import ImportOptions
from batchtop.core.part_writer import BODY_OVERHEAD


def req(i: int, text: str = "hello") -> dict[str, Any]:
    return {
        "custom_id": f"r-{i}",
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": f"{text} {i}"}],
        },
    }


def write_jsonl(path: Path, n: int, text: str = "hello") -> Path:
    path.write_bytes(b"".join(orjson.dumps(req(i, text)) + b"\n" for i in range(n)))
    return path


def part_files(work: Path) -> list[tuple[list[bytes], list[dict[str, Any]]]]:
    out = []
    for part in sorted(work.glob("part-*[0-9].jsonl")):
        lines = part.read_bytes().splitlines()
        manifest = [
            orjson.loads(x)
            for x in part.with_name(part.stem + ".manifest.jsonl").read_bytes().splitlines()
        ]
        out.append((lines, manifest))
    return out


def test_split_by_request_count(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", 7)
    report = analyse(src, ImportOptions(max_requests_per_batch=3), work_dir=tmp_path / "w")
    assert report.ok
    assert report.request_count == 7
    assert [(p.index, p.request_count, p.first_line, p.last_line) for p in report.parts] == [
        (1, 3, 1, 3),
        (2, 3, 4, 6),
        (3, 1, 7, 7),
    ]
    files = part_files(tmp_path / "w")
    assert [len(lines) for lines, _ in files] == [3, 3, 1]
    for (lines, manifest), part in zip(files, report.parts, strict=True):
        assert [orjson.loads(x)["custom_id"] for x in lines] == [m["custom_id"] for m in manifest]
        assert [m["line"] for m in manifest] == list(range(part.first_line, part.last_line + 1))
        body = b'{"requests":[' + b",".join(lines) + b"]}"
        assert part.byte_size == len(body)
        orjson.loads(body)


def test_split_by_bytes_counts_the_whole_create_body(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", 10)
    size = len(orjson.dumps(req(0)))  # all requests have the same size (ids r-0..r-9)
    limit = BODY_OVERHEAD + 3 * size + 2  # exactly three requests fit
    report = analyse(src, ImportOptions(max_bytes_per_batch=limit), work_dir=tmp_path / "w")
    assert report.ok, report.issues
    assert [p.request_count for p in report.parts] == [3, 3, 3, 1]
    assert all(p.byte_size <= limit for p in report.parts)
    assert report.parts[0].byte_size == limit
    report = analyse(src, ImportOptions(max_bytes_per_batch=limit - 1), work_dir=tmp_path / "w")
    assert [p.request_count for p in report.parts] == [2, 2, 2, 2, 2]


def test_request_larger_than_the_byte_limit_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(orjson.dumps(req(1)) + b"\n" + orjson.dumps(req(2, "x" * 500)) + b"\n")
    report = analyse(src, ImportOptions(max_bytes_per_batch=300), work_dir=tmp_path / "w")
    size = len(orjson.dumps(req(2, "x" * 500)))
    assert [(i.line, i.message) for i in report.issues] == [
        (2, f"This request is {size} bytes, more than the per-batch limit of 300 bytes on its own.")
    ]
    assert report.request_count == 1


def test_real_limits_100001_requests_make_two_parts(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "big.jsonl", 100_001, text="hi")
    started = time.perf_counter()
    report = analyse(src, ImportOptions(), work_dir=tmp_path / "w")
    elapsed = time.perf_counter() - started
    assert report.ok, report.issues[:3]
    assert [(p.request_count, p.first_line, p.last_line) for p in report.parts] == [
        (100_000, 1, 100_000),
        (1, 100_001, 100_001),
    ]
    assert report.request_count == 100_001
    assert report.models == {"claude-haiku-4-5": 100_001}
    assert len(report.preview) == 5
    assert elapsed < 30  # ~1 s on the dev box; generous for slow CI


def test_real_byte_limit_splits_a_file_over_256_mb_worth_of_body(tmp_path: Path) -> None:
    # 256 MB of requests is too slow for a unit test; scale the limit down with the same logic.
    src = write_jsonl(tmp_path / "in.jsonl", 1000, text="y" * 1000)
    total = sum(len(orjson.dumps(req(i, "y" * 1000))) for i in range(1000)) + 999 + BODY_OVERHEAD
    report = analyse(src, ImportOptions(max_bytes_per_batch=total), work_dir=tmp_path / "w")
    assert [(p.request_count, p.byte_size) for p in report.parts] == [(1000, total)]
    report = analyse(src, ImportOptions(max_bytes_per_batch=total - 1), work_dir=tmp_path / "w")
    assert report.ok
    assert [p.request_count for p in report.parts] == [999, 1]


def test_progress_is_reported_about_every_megabyte(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", 3000, text="z" * 1000)  # ~3.3 MB
    size = src.stat().st_size
    calls: list[tuple[int, int]] = []
    analyse(
        src, ImportOptions(), work_dir=tmp_path / "w", progress=lambda a, b: calls.append((a, b))
    )
    assert calls[-1] == (size, size)
    assert 3 <= len(calls) <= 6
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_progress_for_json_csv_and_txt(tmp_path: Path) -> None:
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=5, template="{t}")
    for name, data in [
        ("a.json", orjson.dumps([{"t": "x" * 100} for _ in range(30_000)])),
        ("a.csv", b"t\n" + b"x" * 100 * 1 + b"\n" * 1 + (b"y" * 100 + b"\n") * 30_000),
        ("a.txt", (b"q" * 100 + b"\n") * 30_000),
    ]:
        src = tmp_path / name
        src.write_bytes(data)
        calls: list[tuple[int, int]] = []
        o = opts if name != "a.txt" else ImportOptions(model="claude-haiku-4-5", max_tokens=5)
        r = analyse(
            src, o, work_dir=tmp_path / "w", progress=lambda a, b, c=calls: c.append((a, b))
        )
        assert r.ok, (name, r.issues[:3])
        assert len(calls) >= 3, name
        assert calls[-1] == (len(data), len(data))


def test_progress_callback_can_cancel(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", 3000, text="z" * 1000)

    class Stop(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        analyse(src, ImportOptions(), work_dir=tmp_path / "w", progress=cancel)
    assert not list((tmp_path / "w").glob("*.tmp"))


@pytest.mark.parametrize("name", ["big.jsonl", "big.json", "big.csv", "big.txt"])
def test_memory_stays_bounded_while_streaming(tmp_path: Path, name: str) -> None:
    import tracemalloc

    text = "w" * 2500
    n = 10_000  # ~25 MB of input
    src = tmp_path / name
    if name.endswith(".jsonl"):
        write_jsonl(src, n, text=text)
    elif name.endswith(".json"):
        src.write_bytes(orjson.dumps([{"t": f"{text} {i}"} for i in range(n)]))
    elif name.endswith(".csv"):
        src.write_bytes(b"t\n" + b"".join(f"{text} {i}\n".encode() for i in range(n)))
    else:
        src.write_bytes(b"".join(f"{text} {i}\n".encode() for i in range(n)))
    size = src.stat().st_size
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=5, template="{t}")
    if name.endswith((".jsonl", ".txt")):
        opts = ImportOptions(model="claude-haiku-4-5", max_tokens=5)
    tracemalloc.start()
    try:
        report = analyse(src, opts, work_dir=tmp_path / "w")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok, report.issues[:3]
    assert report.request_count == n
    assert peak < size / 2, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB input"


def test_each_part_carries_its_file(tmp_path: Path) -> None:
    """A split part names its prepared file (and the manifest beside it): submit, resume and
    token counting read the file the part says, not a name rebuilt from its index."""
    from batchtop.core.part_writer import manifest_path
    from batchtop.core.submit import read_part

    src = write_jsonl(tmp_path / "in.jsonl", 7)
    report = analyse(src, ImportOptions(max_requests_per_batch=3), work_dir=tmp_path / "w")
    assert [p.path for p in report.parts] == sorted((tmp_path / "w").glob("part-*[0-9].jsonl"))
    for part in report.parts:
        assert manifest_path(part.path).is_file()
        assert read_part(part.path).request_count == part.request_count

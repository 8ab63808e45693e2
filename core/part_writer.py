"""Prepared part files: native batch JSONL under the per-batch limits, plus manifests.

Each part is written to a temp file and renamed when complete (after fsync), so a part
file under its final name is always whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import orjson

from .models import SplitPart

_BATCH_LINES = 64
"""Lines buffered before a write. Small on purpose: orjson's output bytes keep ~32 KB of
capacity each, so 512 buffered lines held ~36 MB (measured with tracemalloc)."""

BODY_OVERHEAD = len(b'{"requests":[]}')
"""Bytes of the create body around its requests (plus one comma between requests)."""


def part_path(work_dir: Path, index: int) -> Path:
    return work_dir / f"part-{index:04d}.jsonl"


def manifest_path(work_dir: Path, index: int) -> Path:
    return work_dir / f"part-{index:04d}.manifest.jsonl"


class PartWriter:
    """Writes prepared native JSONL parts (and their manifests) under the split limits.

    Lines are buffered and written in small batches (one C-level call each). Writes are
    synchronous: a writer thread gained ~20% on an idle machine, nothing when the disk was
    contended, and its queued batches held orjson's oversized buffers (~300 MB peak for a
    275 MB input). A write error raises OSError from `add` or `finish`.
    """

    def __init__(self, work_dir: Path, max_requests: int, max_bytes: int) -> None:
        self.work_dir = work_dir
        self.max_requests = max(1, max_requests)
        self.max_bytes = max_bytes
        self.parts: list[SplitPart] = []
        self._out: IO[bytes] | None = None
        self._manifest: IO[bytes] | None = None
        self._count = 0
        self._bytes = BODY_OVERHEAD
        self._first = 0
        self._last = 0
        self._open_part = False
        self._lines: list[bytes] = []
        self._manifest_lines: list[bytes] = []

    def fits_alone(self, body: bytes) -> bool:
        return BODY_OVERHEAD + len(body) - 1 <= self.max_bytes

    def add(self, line: int, custom_id: str, body: bytes, input_text: str | None) -> None:
        """Append one request; `body` is its JSON followed by exactly one newline."""
        size = len(body) - 1
        if self._open_part and (
            self._count >= self.max_requests or self._bytes + size + 1 > self.max_bytes
        ):
            self._close()
        if not self._open_part:
            self._open(line)
        self._lines.append(body)
        self._manifest_lines.append(
            orjson.dumps(
                {"custom_id": custom_id, "line": line, "input_text": input_text},
                option=orjson.OPT_APPEND_NEWLINE,
            )
        )
        if len(self._lines) >= _BATCH_LINES:
            self._flush()
        self._bytes += size + (1 if self._count else 0)
        self._count += 1
        self._last = line

    def _flush(self) -> None:
        assert self._out is not None
        assert self._manifest is not None
        self._out.writelines(self._lines)
        self._manifest.writelines(self._manifest_lines)
        self._lines.clear()
        self._manifest_lines.clear()

    def _name(self, index: int) -> tuple[Path, Path]:
        return part_path(self.work_dir, index), manifest_path(self.work_dir, index)

    def _open(self, line: int) -> None:
        part, manifest = self._name(len(self.parts) + 1)
        self._out = open(part.with_name(part.name + ".tmp"), "wb", buffering=1 << 20)  # noqa: SIM115
        self._manifest = open(  # noqa: SIM115
            manifest.with_name(manifest.name + ".tmp"), "wb", buffering=1 << 20
        )
        self._count = 0
        self._bytes = BODY_OVERHEAD
        self._first = line
        self._open_part = True

    def _close(self) -> None:
        self._flush()
        self._open_part = False
        index = len(self.parts) + 1
        assert self._out is not None
        assert self._manifest is not None
        part, manifest = self._name(index)
        _commit_file(self._out, part)
        _commit_file(self._manifest, manifest)
        self.parts.append(SplitPart(index, self._count, self._bytes, self._first, self._last))
        self._out = self._manifest = None

    def finish(self) -> list[SplitPart]:
        if self._open_part:
            self._close()
        return self.parts

    def abandon(self) -> None:
        """Stop writing after an error (or a cancel): drop the unfinished temp files."""
        self._open_part = False
        self._lines.clear()
        self._manifest_lines.clear()
        for handle in (self._out, self._manifest):
            if handle is not None:
                handle.close()
                Path(str(handle.name)).unlink(missing_ok=True)
        self._out = self._manifest = None


def _commit_file(handle: IO[bytes], final: Path) -> None:
    """Make a finished temp file durable and give it its final name (atomic)."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(handle.name, final)

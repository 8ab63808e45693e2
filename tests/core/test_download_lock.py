"""The per-batch download lock across processes (flock on a lock file beside the results)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from batchtop.core import file_lock
from batchtop.core.results import download_lock as dl
from waiting import async_wait

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="downloads lock with flock")


def _hold(path: Path) -> int:
    """Lock `path` as another process's download does (another open file: it conflicts
    with this process's own flock too)."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


async def test_a_download_waits_for_the_holder_says_so_once_and_removes_the_lock_file(
    tmp_path: Path,
) -> None:
    final = tmp_path / "msgbatch_1.jsonl"
    lock = dl.lock_path(final)
    fd = _hold(lock)
    notes: list[str] = []
    entered = asyncio.Event()

    async def download() -> bool:
        async with dl.download_lock(final, lambda: notes.append("waiting")) as waited:
            entered.set()
            return waited

    task = asyncio.create_task(download())
    await async_wait(lambda: bool(notes), 10, "the waiting note")
    assert not entered.is_set()
    os.close(fd)  # the holder ends (or is killed: the kernel drops its lock the same way)
    assert await asyncio.wait_for(task, 10) is True
    assert notes == ["waiting"]
    assert not lock.exists()  # removed by the last holder


async def test_a_download_nobody_holds_goes_on_without_a_note(tmp_path: Path) -> None:
    final = tmp_path / "msgbatch_2.jsonl"
    notes: list[str] = []
    async with dl.download_lock(final, lambda: notes.append("waiting")) as waited:
        assert not waited
        assert dl.lock_path(final).exists()
    assert notes == []
    assert not dl.lock_path(final).exists()


def test_a_lock_taken_on_a_lock_file_removed_meanwhile_is_taken_on_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder removes the lock file, then lets go: a waiter that opened the removed file
    just before locks a file nobody else sees, so it must lock the one now at the path."""
    path = dl.lock_path(tmp_path / "msgbatch_3.jsonl")
    real_open = os.open
    opened: list[int] = []

    def open_as_the_holder_lets_go(name: str | Path, flags: int, mode: int = 0o777) -> int:
        fd = real_open(name, flags, mode)
        if not opened:
            os.unlink(name)  # the holder's release, between this open and the flock
        opened.append(fd)
        return fd

    monkeypatch.setattr(file_lock.os, "open", open_as_the_holder_lets_go)
    fd = file_lock.try_lock(path)
    monkeypatch.undo()
    assert fd is not None
    try:
        assert len(opened) == 2
        assert os.fstat(fd).st_ino == os.stat(path).st_ino
    finally:
        os.close(fd)

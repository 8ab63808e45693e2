"""End notices (what core says when batches and jobs end) and the desktop notifier, driven
through a recording terminal and a real fake `notify-send` command."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from batchtop.core.desktop_notify import Notifier, osc, terminal_method
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.notices import ended_notices, exec_argv, run_exec_hook
from batchtop.core.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOSTILE = "evil\x1b]0;pwned\x07; title\x1b[31m"


def _remote(batch_id: str, counts: RequestCounts, *, ended: bool) -> RemoteBatch:
    return RemoteBatch(
        id=batch_id,
        processing_status=ProcessingStatus.ENDED if ended else ProcessingStatus.IN_PROGRESS,
        request_counts=counts,
        created_at=T0,
        expires_at=T0 + timedelta(hours=24),
        ended_at=T0 + timedelta(hours=1) if ended else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store.sqlite3")
    yield s
    s.close()


def test_a_job_is_announced_once_its_last_batch_ended(store: Store) -> None:
    job = store.create_job("summarise 1,000 articles", None, T0)
    parts = {
        "msgbatch_a": RequestCounts(succeeded=600),
        "msgbatch_b": RequestCounts(processing=400),
    }
    for part, (bid, counts) in enumerate(parts.items(), start=1):
        store.upsert_remote([_remote(bid, counts, ended=bid == "msgbatch_a")], T0)
        store.set_batch_meta(bid, job_id=job.id, job_part=part, estimated_cost_usd=0.21)
    first = store.get_batch("msgbatch_a")
    assert first is not None
    assert ended_notices(store, [first]) == []  # part b still runs
    store.upsert_remote(
        [_remote("msgbatch_b", RequestCounts(succeeded=398, errored=2), ended=True)],
        T0 + timedelta(hours=1),
    )
    store._set_local("msgbatch_a", actual_cost_usd=0.2)  # as an ingest records it
    last = store.get_batch("msgbatch_b")
    assert last is not None
    [notice] = ended_notices(store, [last])
    assert notice.kind == "job"
    assert notice.line == "summarise 1,000 articles: 998 succeeded, 2 errored, ~$0.41"
    assert notice.title == "Job ended with failures"
    data = notice.as_json()
    assert data["counts"] == {
        "total": 1000,
        "succeeded": 998,
        "errored": 2,
        "canceled": 0,
        "expired": 0,
    }
    assert data["batch_ids"] == ["msgbatch_a", "msgbatch_b"]
    assert data["cost_is_estimate"] is True


def test_a_lone_batch_is_announced_by_its_label(store: Store) -> None:
    store.upsert_remote([_remote("msgbatch_x", RequestCounts(expired=5), ended=True)], T0)
    store.set_label("msgbatch_x", "nightly")
    view = store.get_batch("msgbatch_x")
    assert view is not None
    [notice] = ended_notices(store, [view])
    assert (notice.kind, notice.title, notice.line) == (
        "batch",
        "Batch expired",
        "nightly: 0 succeeded, 5 expired",
    )


def test_terminals_that_show_notifications() -> None:
    assert terminal_method({"TERM_PROGRAM": "iTerm.app"}) == "osc9"
    assert terminal_method({"TERM": "xterm-ghostty"}) == "osc9"
    assert terminal_method({"TERM_PROGRAM": "WezTerm"}) == "osc777"
    assert terminal_method({"TERM": "foot"}) == "osc777"
    assert terminal_method({"TERM": "xterm-256color"}) is None
    assert terminal_method({"TERM_PROGRAM": "textual"}) is None  # batchtop serve's browser


def test_osc_notifications_reach_the_terminal_clean() -> None:
    written: list[str] = []
    notifier = Notifier(write=written.append, env={"TERM_PROGRAM": "WezTerm"})
    assert notifier.send("Batch ended", HOSTILE) == "osc777"
    [seq] = written
    assert seq.startswith("\x1b]777;notify;Batch ended;")
    assert seq.endswith("\x07")
    body = seq[len("\x1b]777;notify;Batch ended;") : -1]
    assert "\x1b" not in body
    assert "\x07" not in body
    assert ";" not in body  # would start a new OSC 777 field
    written.clear()
    Notifier(write=written.append, env={"TERM_PROGRAM": "iTerm.app", "TMUX": "/tmp/t"}).send(
        "t", "b"
    )
    assert written == ["\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"]
    assert osc("osc9", "t", "b") == "\x1b]9;t: b\x07"


def _fake_command(tmp_path: Path, name: str, body: str = "") -> Path:
    """A real executable that records its argv (one per line) and its stdin."""
    script = tmp_path / name
    log = tmp_path / f"{name}.args"
    script.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a" >> "{log}"; done\n'
        f'cat > "{tmp_path / f"{name}.stdin"}"\n{body}'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_notify_send_runs_where_there_is_a_desktop(tmp_path: Path) -> None:
    script = _fake_command(tmp_path, "notify-send")
    env = {"TERM": "xterm-256color", "DISPLAY": ":0"}
    notifier = Notifier(env=env, which=lambda name: str(script) if name == "notify-send" else None)
    assert notifier.method == "notify-send"
    assert notifier.send("Batch ended", "eval: 3 succeeded", urgent=True) == "notify-send"
    args = (tmp_path / "notify-send.args").read_text().splitlines()
    assert args == [
        "--app-name=batchtop",
        "--urgency=critical",
        "--",
        "Batch ended",
        "eval: 3 succeeded",
    ]
    # no desktop session (ssh, CI): not even tried
    assert Notifier(env={"TERM": "dumb"}, which=lambda _n: str(script)).method is None


def test_the_setting_turns_it_off() -> None:
    from batchtop.core.config import settings_from_dict

    assert settings_from_dict({"desktop_notify": False}).desktop_notify is False
    written: list[str] = []
    notifier = Notifier(enabled=False, write=written.append, env={"TERM_PROGRAM": "WezTerm"})
    assert notifier.send("t", "b") is None
    assert written == []


def test_exec_hook_gets_the_summary_as_json(store: Store, tmp_path: Path) -> None:
    store.upsert_remote([_remote("msgbatch_x", RequestCounts(succeeded=3), ended=True)], T0)
    view = store.get_batch("msgbatch_x")
    assert view is not None
    [notice] = ended_notices(store, [view])
    script = _fake_command(tmp_path, "hook")
    assert run_exec_hook(exec_argv(f"'{script}' --channel ops"), notice) is None
    got = orjson.loads((tmp_path / "hook.stdin").read_bytes())
    assert got["id"] == "msgbatch_x"
    assert got["summary"] == "msgbatch_x: 3 succeeded"
    assert (tmp_path / "hook.args").read_text().splitlines() == ["--channel", "ops"]
    failing = _fake_command(tmp_path, "failing", "exit 3\n")
    assert run_exec_hook([str(failing)], notice) == f"--exec: {failing} exited with status 3"
    assert run_exec_hook([str(tmp_path / "missing")], notice) == (
        f"--exec: {tmp_path / 'missing'} not found"
    )

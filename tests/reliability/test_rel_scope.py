"""One store per (endpoint, workspace) (issue 14.2), with real `batchtop` processes.

The emulator names the organization and the workspace in every response, as the real API
does (`anthropic-organization-id`, `anthropic-workspace-id`); keys map to workspaces
(`key_workspaces`, `batchtop emulator --workspace KEY=ID`). One data directory is used
with two servers and with two keys of two workspaces on one server: each shows its own
batches only, the `ls` header on stderr and `locate` say which one is shown, and going back
shows the first one's batches again. A store from before scoping moves into the scope of
the base URL its batches came from (read from their results URLs), labels and all, and is
claimed by the workspace that can retrieve its newest batch.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import cli_env, run_cli

WS_A = "wrkspc_01AAAAAAAAAAAAAAAAAAAAAA"
WS_B = "wrkspc_01BBBBBBBBBBBBBBBBBBBBBB"


def submit(tmp_path: Path, env: dict[str, str], text: str) -> str:
    src = tmp_path / "prompts.txt"
    src.write_text(text + "\n")
    proc = run_cli("submit", str(src), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", proc.stdout)
    return bid


def ls(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = run_cli("ls", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def locate(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    proc = run_cli("locate", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    places: dict[str, str] = json.loads(proc.stdout)
    return places


@pytest.mark.timeout(600)  # several CLI processes; each imports the SDK (seconds)
def test_another_server_does_not_show_the_first_ones_batches(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    first = emulator_factory(seed=1)
    second = emulator_factory(seed=2)
    env_first = cli_env(tmp_path, base_url=first.base_url)
    env_second = cli_env(tmp_path, base_url=second.base_url)

    bid = submit(tmp_path, env_first, "on the first server")
    shown = ls(tmp_path, env_first)
    assert bid in shown.stdout
    assert f"batches of {first.base_url.removeprefix('http://')}" not in shown.stderr
    assert f"batches of {first.base_url}, workspace wrkspc_" in shown.stderr

    other = ls(tmp_path, env_second)
    assert bid not in other.stdout
    assert "no batches" in other.stdout
    assert f"batches of {second.base_url}, workspace wrkspc_" in other.stderr
    assert locate(tmp_path, env_second)["endpoint"] == second.base_url

    again = ls(tmp_path, env_first)  # the first server's store is still there
    assert bid in again.stdout
    stores = {p.parent.parent.name for p in (tmp_path / "xdg" / "data").rglob("*.sqlite3")}
    assert len(stores) == 2  # one per endpoint


@pytest.mark.timeout(600)  # several CLI processes; each imports the SDK (seconds)
def test_another_workspace_on_one_server_does_not_show_the_first_ones_batches(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(key_workspaces={"key-a": WS_A, "key-b": WS_B})
    env_a = cli_env(tmp_path, api_key="key-a", base_url=emulator.base_url)
    env_b = cli_env(tmp_path, api_key="key-b", base_url=emulator.base_url)

    bid = submit(tmp_path, env_a, "in workspace A")
    shown = ls(tmp_path, env_a)
    assert bid in shown.stdout
    assert f"workspace {WS_A}" in shown.stderr
    assert locate(tmp_path, env_a)["workspace"] == WS_A

    # key B: the store of A opens first (the last workspace seen here), the first answer
    # names B, and B's store is shown instead
    other = ls(tmp_path, env_b)
    assert bid not in other.stdout
    assert "no batches" in other.stdout
    assert f"workspace {WS_B}" in other.stderr
    assert WS_A not in other.stderr
    assert locate(tmp_path, env_b)["workspace"] == WS_B

    back = ls(tmp_path, env_a)
    assert bid in back.stdout
    assert f"workspace {WS_A}" in back.stderr
    # nothing on disk is named after a key
    names = [str(p) for p in (tmp_path / "xdg").rglob("*")]
    assert not [n for n in names if "key-a" in n or "key-b" in n]


@pytest.mark.timeout(600)  # several CLI processes; each imports the SDK (seconds)
async def test_a_store_from_before_scoping_moves_into_its_scope(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None, key_workspaces={"key-a": WS_A})
    other_server = emulator_factory(seed=9)
    data = tmp_path / "xdg" / "data" / "batchtop"
    data.mkdir(parents=True)
    legacy = data / "batchtop.sqlite3"
    # the single store of an older batchtop, filled from the emulator with key A
    service = BatchService(
        Store.open(legacy),
        Settings(max_retries=0),
        api_key="key-a",
        base_url=emulator.base_url,
        now=emulator.clock.now,
    )
    service._owns_store = True
    service.auto_download = False
    try:
        outcome = await service.submit_requests(
            [
                {
                    "custom_id": "old-1",
                    "params": {
                        "model": "claude-haiku-4-5",
                        "max_tokens": 16,
                        "messages": [{"role": "user", "content": "from before scoping"}],
                    },
                }
            ],
            label="legacy label",
        )
        emulator.advance(60)
        await service.refresh()  # ended: its results URL names the base URL
        service.store.set_meta(base_url=None, workspace_id=None, organization_id=None)
    finally:
        await service.close()
    (bid,) = outcome.batch_ids

    # another server first: the old store is not its store
    elsewhere = ls(tmp_path, cli_env(tmp_path, api_key="key-a", base_url=other_server.base_url))
    assert bid not in elsewhere.stdout
    assert not legacy.exists()  # moved into the scope of the base URL it came from

    # its own server and workspace: claimed, label kept
    env = cli_env(tmp_path, api_key="key-a", base_url=emulator.base_url)
    shown = ls(tmp_path, env)
    assert bid in shown.stdout
    assert "legacy label" in shown.stdout
    assert f"workspace {WS_A}" in shown.stderr
    assert locate(tmp_path, env)["store"].endswith(f"/{WS_A}/batchtop.sqlite3")


def test_a_legacy_store_moved_by_another_process_meanwhile_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several batchtop processes starting at once in a home with a store from before
    scoping: the first moves it; the others, which saw it a moment before, find it gone
    and open the moved store instead of failing ('Cannot prepare the data directory')."""
    from batchtop.core import paths, scope

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = "http://127.0.0.1:9"
    Store.open(scope.legacy_store_path()).close()
    real = paths.ensure_private_dir
    others: list[Path | None] = []

    def moved_meanwhile(directory: Path) -> Path:
        # between this process's look at the target and its move: the other one moves first
        if not others:
            others.append(None)
            with monkeypatch.context() as inner:
                inner.setattr(paths, "ensure_private_dir", real)
                others[0] = scope.migrate_legacy_store(url)
        return real(directory)

    with monkeypatch.context() as m:
        m.setattr(paths, "ensure_private_dir", moved_meanwhile)
        assert scope.migrate_legacy_store(url) is None
    assert others == [scope.store_path(url, scope.UNSCOPED)]
    assert scope.first_store_path(url) == scope.store_path(url, scope.UNSCOPED)
    assert scope.first_store_path(url).is_file()
    assert paths.data_dir() == tmp_path / "data" / "batchtop"

"""Data directories as users really have them (issue 13.14): real directories, real modes,
real processes.

- A fresh data directory (and every missing parent) is created 0700, the store 0600.
- A directory that already exists keeps the mode its owner chose; a world-readable one gets a
  warning on stderr (the command still works).
- A group-shared directory owned by someone else, which the user can write through the
  group: every command works (it used to fail with "unexpected PermissionError" when
  batchtop tried to chmod it). The user is played by a process without the capabilities
  that let root ignore file modes and ownership (`setpriv` drops CAP_DAC_OVERRIDE,
  CAP_DAC_READ_SEARCH and CAP_FOWNER from its bounding set): for that process, a directory
  owned by another uid is exactly what it is for an ordinary user. (An unprivileged uid
  cannot even start this interpreter: it lives under /root, mode 0700.)
- `batchtop emulator --db FILE` creates FILE 0600: it holds every prompt sent to it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from reliability_support import CLI, cli_env, run_cli

OTHER_UID = 4242  # owns the shared directory; the test process is in its group (gid 0)
SETPRIV = shutil.which("setpriv")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def home_env(tmp_path: Path, home: Path, emulator: EmulatorHandle | None = None) -> dict[str, str]:
    base_url = emulator.base_url if emulator is not None else None
    return cli_env(tmp_path, base_url=base_url, BATCHTOP_HOME=str(home))


def test_new_dirs_are_private_and_existing_modes_are_kept(tmp_path: Path) -> None:
    home = tmp_path / "a" / "b" / "home"
    env = home_env(tmp_path, home)
    old_umask = os.umask(0o022)
    try:
        first = run_cli("ls", "--offline", cwd=tmp_path, env=env)
    finally:
        os.umask(old_umask)
    assert first.returncode == 0, first.stderr
    data = home / "data"
    for created in (tmp_path / "a", tmp_path / "a" / "b", home, data):
        assert mode(created) == 0o700, created
    stores = list(data.rglob("*.sqlite3"))
    assert stores
    assert {mode(s) for s in stores} == {0o600}
    assert "warning" not in first.stderr

    # the owner opens the directory to a group: batchtop leaves it so, without a word
    data.chmod(0o750)
    second = run_cli("ls", "--offline", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert mode(data) == 0o750
    assert "warning" not in second.stderr

    # readable by everyone: still left alone, but the user is told
    data.chmod(0o755)
    third = run_cli("ls", "--offline", cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stderr
    assert mode(data) == 0o755
    warning = [ln for ln in third.stderr.splitlines() if "readable by every user" in ln]
    assert len(warning) == 1, third.stderr
    assert str(data) in warning[0]
    assert "0755" in warning[0]
    assert "Traceback" not in third.stderr


@pytest.mark.timeout(600)  # several CLI processes; each imports the SDK (seconds)
@pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv")
def test_group_shared_data_dir_owned_by_someone_else(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # /tmp/pytest-of-root is 0700; the shared tree hangs off a traversable directory
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"batchtop-shared-{os.getpid()}-{id(tmp_path)}"
    root.mkdir(mode=0o755)
    try:
        home = root / "team"
        data = home / "data"
        for directory in (home, data):
            directory.mkdir()
            os.chown(directory, OTHER_UID, 0)
            directory.chmod(0o2770)  # group-shared, setgid: new files join the group
        work = root / "work"
        work.mkdir()
        os.chown(work, OTHER_UID, 0)
        work.chmod(0o2770)
        (work / "prompts.txt").write_text("".join(f"shared item {i}\n" for i in range(3)))
        env = home_env(tmp_path, home, emulator)
        as_user = [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*as_user, *CLI, *args],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
                stdin=subprocess.DEVNULL,
            )

        # the capability drop is real: this process may not chmod the shared directory
        probe = subprocess.run(
            [*as_user, "chmod", "700", str(data)], capture_output=True, text=True, check=False
        )
        assert probe.returncode != 0, "setpriv did not drop CAP_FOWNER"

        sub = cli("submit", "prompts.txt")
        assert sub.returncode == 0, sub.stdout + sub.stderr
        assert "PermissionError" not in sub.stderr
        (bid,) = re.findall(r"submitted (msgbatch_\w+)", sub.stdout)
        emulator.advance(3600)
        listed = cli("ls")
        assert listed.returncode == 0, listed.stderr
        assert bid in listed.stdout
        assert "PermissionError" not in listed.stderr
        # modes the team chose are untouched; what batchtop created is private
        assert mode(home) == 0o2770
        assert mode(data) == 0o2770
        assert data.stat().st_uid == OTHER_UID
        created = [p for p in data.rglob("*") if p.is_dir()]
        assert created
        assert all(mode(p) & 0o077 == 0 for p in created), [oct(mode(p)) for p in created]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_emulator_db_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "emu.sqlite3"
    old_umask = os.umask(0o022)
    try:
        proc = subprocess.Popen(
            [*CLI, "emulator", "--port", "0", "--db", str(db)],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    finally:
        os.umask(old_umask)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        assert mode(db) == 0o600
        for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            if extra.exists():
                assert mode(extra) == 0o600, extra
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()

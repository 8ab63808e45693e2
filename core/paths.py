"""Where batchtop keeps its files.

Computed at call time (never at import), so tests and users can redirect everything with the
XDG variables or `BATCHTOP_HOME`. Directories are created only when something is written, with
mode 0700: they hold prompts, results and the submission journal. A directory that already
exists keeps the mode its owner chose (a group-shared data directory stays shared, and one
the user can write but does not own works): `exposure_warning` says when it is readable by
every user of the machine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

APP_NAME = "batchtop"


def _home_override() -> Path | None:
    home = os.environ.get("BATCHTOP_HOME")
    return Path(home).expanduser() if home else None


def data_dir() -> Path:
    """Store, downloaded results and prepared imports."""
    home = _home_override()
    return home / "data" if home else platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    home = _home_override()
    return home / "config" if home else platformdirs.user_config_path(APP_NAME)


def config_file() -> Path:
    explicit = os.environ.get("BATCHTOP_CONFIG")
    return Path(explicit).expanduser() if explicit else config_dir() / "config.toml"


def log_dir() -> Path:
    """Where the dashboard's debug log goes (`BATCHTOP_DEBUG`)."""
    home = _home_override()
    return home / "log" if home else platformdirs.user_log_path(APP_NAME)


def results_dir() -> Path:
    return data_dir() / "results"


def imports_dir() -> Path:
    return data_dir() / "imports"


def exports_dir() -> Path:
    """Default destination for exports: the current directory, where users expect files."""
    return Path.cwd()


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) readable by the owner only.

    Every directory created here gets 0700, as the XDG spec asks (`mkdir(parents=True)`
    would give the parents the umask's 0755). Directories that already exist are left as
    they are, `path` included: their mode is their owner's choice, and changing the mode of
    a directory the user does not own (a shared one) is not allowed anyway.
    """
    missing: list[Path] = []
    cur = path
    while not cur.exists() and cur != cur.parent:
        missing.append(cur)
        cur = cur.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process created it meanwhile: its mode is its creator's
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    return path


def exposure_warning(path: Path, what: str = "data directory") -> str | None:
    """A one-line warning when `path` is readable by every user of the machine, else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & stat.S_IROTH:
        return None
    return (
        f"the {what} {path} is readable by every user (mode {stat.S_IMODE(mode):04o}) and holds"
        f" prompts and results; 'chmod o-rwx {path}' keeps them private."
    )

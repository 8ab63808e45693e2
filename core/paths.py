"""Where batchtop keeps its files.

Computed at call time (never at import), so tests and users can redirect everything with the
XDG variables or `BATCHTOP_HOME`. Directories are created only when something is written, with
mode 0700: they hold prompts, results and the submission journal.
"""

from __future__ import annotations

import os
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
    would give the parents the umask's 0755); directories that already exist, other than
    `path` itself, are left alone.
    """
    missing: list[Path] = []
    cur = path
    while not cur.exists() and cur != cur.parent:
        missing.append(cur)
        cur = cur.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
    os.chmod(path, 0o700)
    return path

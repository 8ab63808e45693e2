"""The wheel installs `batchtop.core` and `batchtop.tui` and nothing named `core` or `tui`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_layout(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("batchtop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {n.split("/", 1)[0] for n in names if not n.startswith("batchtop-")}
    assert top_levels == {"batchtop"}
    assert "batchtop/core/models.py" in names
    assert "batchtop/core/emulator/__init__.py" in names
    assert "batchtop/tui/cli.py" in names
    assert "batchtop/core/py.typed" in names
    assert not any(n.startswith("batchtop/__init__") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "batchtop = batchtop.tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

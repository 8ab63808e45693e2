"""The wheel installs `batchtop.core` and `batchtop.tui` and nothing named `core` or `tui`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
    assert "batchtop/tui/cli/__init__.py" in names
    assert "batchtop/tui/cli/__main__.py" in names
    assert "batchtop/tui/cli/commands/results.py" in names
    assert "batchtop/core/py.typed" in names
    assert not any(n.startswith("batchtop/__init__") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "batchtop = batchtop.tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / "ci.lock").read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
            name, _, rest = line.partition("==")
            pins[canonicalize_name(name)] = rest.split(";")[0].strip()
    return pins


def test_lock_pins_every_declared_dependency_within_its_range() -> None:
    """CI installs requirements/ci.lock: it must cover pyproject.toml, or CI tests other code.

    Fails when a dependency is added or its range moved without `./scripts/lock`.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.extend(extra)
    pins = _lock_pins()
    problems = []
    for text in declared:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req.name}: not in the lock")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}: lock has {pinned}, pyproject allows {req.specifier}")
    assert problems == [], "run ./scripts/lock: " + "; ".join(problems)

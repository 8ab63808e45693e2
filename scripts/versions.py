"""Print each installed distribution named in a lock file, marking those that differ from it.

Used by `./scripts/test --latest` to say which newer releases the run is testing.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata


def main(lock_path: str) -> int:
    pinned: dict[str, str] = {}
    with open(lock_path, encoding="utf-8") as fh:
        for line in fh:
            match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
            if match:
                pinned[match.group(1).lower().replace("_", "-")] = match.group(2)
    for name in sorted(pinned):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        mark = "" if have == pinned[name] else f"   (lock: {pinned[name]})"
        print(f"{name}=={have}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

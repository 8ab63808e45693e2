"""Run the emulator in a child process for the bench; prints its URL, serves until stdin closes.

Usage: python -m bench.emu_proc '<EmulatorConfig fields as JSON>' (rules as a list of dicts).
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
from batchtop.core.emulator import EmulatorConfig, Rule, run_in_thread


def main() -> None:
    fields: dict[str, Any] = orjson.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    fields["rules"] = [Rule(**r) for r in fields.get("rules", [])]
    with run_in_thread(EmulatorConfig(**fields)) as emu:
        print(emu.base_url, flush=True)
        sys.stdin.read()  # the parent closes our stdin to stop us


if __name__ == "__main__":
    main()

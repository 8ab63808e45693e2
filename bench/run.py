"""`python -m bench [--quick] [--only NAME ...] [--out PATH]`: run the measures, print, write.

Every case runs against the emulator on loopback and reports ratios against baselines
measured in the same run (see bench/util.py for how repetitions are interleaved).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from . import util
from .context import Context

CASES = (
    "startup",
    "keys",
    "search",
    "ingest",
    "importer",
    "submitrss",
    "memory",
    "refresh",
    "longrun",
    "export",
    "statistics",
)
DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


def load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.cases.{name}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, fewer repetitions")
    p.add_argument("--only", action="append", choices=CASES, metavar="NAME", help=f"one of {CASES}")
    p.add_argument("--tiny", action="store_true", help="smoke-test sizes (implies --quick)")
    p.add_argument("--out", type=Path, default=None, help="where to write the Markdown report")
    p.add_argument("--no-write", action="store_true", help="print only, write no report")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.quick = args.quick or args.tiny
    names = list(dict.fromkeys(args.only or CASES))
    workdir = Path(tempfile.mkdtemp(prefix="batchtop-bench-"))
    saved_env = dict(os.environ)
    os.environ["BATCHTOP_HOME"] = str(workdir / "home")
    for key in [k for k in os.environ if k.startswith("ANTHROPIC_")]:
        del os.environ[key]
    ctx = Context(
        quick=args.quick, tiny=args.tiny, workdir=workdir, log=lambda m: print(m, flush=True)
    )
    measures: list[util.Measure] = []
    failures: list[tuple[str, str]] = []
    durations: dict[str, float] = {}
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    try:
        for name in names:
            module = load(name)
            print(f"== {name}: {module.TITLE}", flush=True)
            t0 = time.perf_counter()
            try:
                got = module.run(ctx)
            except Exception as exc:
                traceback.print_exc()
                failures.append((name, f"{type(exc).__name__}: {exc}".splitlines()[0]))
                got = []
            durations[name] = time.perf_counter() - t0
            for m in got:
                print(f"   {m.name}: {m.figure()}  target {m.target}  {m.verdict()}", flush=True)
                if m.detail:
                    print(f"      {m.detail}", flush=True)
            measures.extend(got)
    finally:
        ctx.close()
        os.environ.clear()
        os.environ.update(saved_env)
    print()
    print(table(measures))
    for name, why in failures:
        print(f"FAILED {name}: {why}")
    if not args.no_write:
        out = args.out or DEFAULT_OUT
        loads = (load_before, os.getloadavg())
        out.write_text(
            report(measures, failures, durations, args, started, names, loads), encoding="utf-8"
        )
        print(f"\nwrote {out}")
    return 1 if failures else 0


def table(measures: list[util.Measure]) -> str:
    rows = [("case", "measure", "figure (median, min–max)", "target", "")]
    rows += [(m.case, m.name, m.figure(), m.target, m.verdict()) for m in measures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _commit() -> str:
    """The commit measured: BENCH_COMMIT (a snapshot without .git) or the repository's HEAD."""
    if os.environ.get("BENCH_COMMIT"):
        return f"commit {os.environ['BENCH_COMMIT']} (run from a `git archive` snapshot of it)"
    try:
        head = subprocess.run(
            ["git", "-C", str(util.REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(util.REPO), "status", "--porcelain", "--", "core", "tui"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + (" + uncommitted changes in core/tui" if dirty else "")


def _load(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:.1f}" for v in values) or "?"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def report(
    measures: list[util.Measure],
    failures: list[tuple[str, str]],
    durations: dict[str, float],
    args: argparse.Namespace,
    started: datetime,
    names: list[str],
    loads: tuple[tuple[float, ...], tuple[float, ...]] = ((), ()),
) -> str:
    argv = ["python", "-m", "bench", *sys.argv[1:]] if sys.argv[0].endswith("bench") else None
    command = shlex.join(argv) if argv else "python -m bench" + (" --quick" if args.quick else "")
    if argv is None and args.only:
        command += "".join(f" --only {name}" for name in args.only)
    info = util.machine()
    out = [
        "# batchtop benchmark results",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC; code: {_commit()}",
        f"- command: `{command}` (from the repository root, venv Python)",
        f"- mode: {'tiny' if args.tiny else 'quick' if args.quick else 'full'};"
        f" cases: {', '.join(names)}",
        f"- machine: {info['platform']}, {info['cpus']} CPUs ({info['processor']}),"
        f" {info['implementation']} {info['python']}",
        f"- load average (1/5/15 min) at start {_load(loads[0])}, at end {_load(loads[1])}:"
        " the machine is shared with other work, so absolute times are inflated and noisy;"
        " ratios are interleaved to cancel most of it",
        "- method: subject and baseline interleaved (order rotated each repetition) in the"
        " same run; a ratio is the median of per-repetition ratios, with min–max in brackets."
        " Ratios are subject/baseline time unless the measure says otherwise.",
        "",
        "| case | measure | figure (median, min–max) | target | verdict | detail |",
        "|---|---|---|---|---|---|",
    ]
    for m in measures:
        out.append(
            f"| {m.case} | {_md(m.name)} | {_md(m.figure())} | {_md(m.target)} | {m.verdict()}"
            f" | {_md(m.detail)} |"
        )
    notes = [(m.case, m.name, n) for m in measures for n in m.notes]
    if failures:
        out += ["", "## Cases that failed to run", ""]
        out += [f"- {name}: {_md(why)}" for name, why in failures]
    out += ["", "## How each case is measured", ""]
    for name in names:
        module = load(name)
        out.append(f"- **{name}** ({durations.get(name, 0):.0f} s): {module.METHOD}")
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- {case} / {name}: {note}" for case, name, note in notes]
    history = Path(__file__).resolve().parent / "HISTORY.md"
    if history.exists():
        out += ["", history.read_text(encoding="utf-8").strip()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

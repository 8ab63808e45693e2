"""The bench harness must not rot: run one case end to end at smoke-test size.

Only structure is asserted (a figure and a verdict per measure, a report written); never a
timing — machines here are shared and noisy, and the bench itself reports ratios.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import run as bench_run  # noqa: E402
from bench import util  # noqa: E402


def test_interleave_rotates_and_ratios_pair_up() -> None:
    order: list[str] = []

    def make(name: str, value: float) -> Callable[[], float]:
        def call() -> float:
            order.append(name)
            return value

        return call

    got = util.interleave(3, {"a": make("a", 2.0), "b": make("b", 1.0)})
    assert order == ["a", "b", "b", "a", "a", "b"]
    m = util.ratio_measure("c", "n", got["a"], got["b"], target="≤ 1.5×", limit=1.5)
    assert m.value == pytest.approx(2.0)
    assert m.met is False
    assert m.lo == pytest.approx(2.0)
    assert m.hi == pytest.approx(2.0)
    assert util.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 10


def test_export_case_produces_a_ratio_per_format(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    code = bench_run.main(["--tiny", "--only", "export", "--out", str(out)])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "| export | export 1k to CSV" in text
    assert "| export | export 1k to JSONL" in text
    assert "## How each case is measured" in text
    rows = [line for line in text.splitlines() if line.startswith("| export |")]
    assert len(rows) == 2
    for row in rows:
        figure = row.split("|")[3].strip()
        assert figure.endswith(")")
        assert "×" in figure
        assert row.split("|")[5].strip() in ("met", "MISSED")


def test_every_case_is_described() -> None:
    for name in bench_run.CASES:
        module = bench_run.load(name)
        assert name == module.NAME
        assert module.METHOD
        assert callable(module.run)
        assert not math.isnan(util.median([1.0]))


def test_statistics_case_measures_the_view(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    code = bench_run.main(["--tiny", "--only", "statistics", "--out", str(out)])
    assert code == 0
    rows = [
        line for line in out.read_text(encoding="utf-8").splitlines() if "| statistics |" in line
    ]
    assert [r.split("|")[2].strip().split(":")[0] for r in rows] == [
        "statistics view 1k",
        "statistics view 1k",
        "statistics view 1k",
        "statistics view 1k",
        "statistics view 1k",
        "peak RSS with the statistics view open, 1k results",
    ]


def test_refresh_case_counts_openai_list_calls(tmp_path: Path) -> None:
    """The refresh case's OpenAI figures: 1,100 batches in progress are listed in ⌈N/100⌉ =
    11 calls by the first sync and by the refresh after it, none retrieved one by one."""
    pytest.importorskip("openai")
    from bench.cases import refresh
    from bench.context import Context

    ctx = Context(quick=True, tiny=True, workdir=tmp_path, log=lambda _m: None)
    got = refresh.openai_calls(ctx, 1_100)
    assert got == {
        "first sync": 11,
        "first sync list": 11,
        "first sync retrieve": 0,
        "refresh": 11,
        "refresh list": 11,
        "refresh retrieve": 0,
    }

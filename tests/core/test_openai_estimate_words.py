"""An OpenAI estimate says what it covers: a chat or responses request without an output
budget has no upper bound, so its figure is input only and says so (never `up to 0
output`); an embedding writes no output and stays a whole figure; a text import is
reported as text."""

from __future__ import annotations

from pathlib import Path

from batchtop.core.import_openai import analyse_openai, estimate_bodies
from batchtop.core.models import ImportOptions


def _analyse(tmp_path: Path, endpoint: str, **options: object) -> object:
    source = tmp_path / "words.txt"
    source.write_text("one\ntwo\nthree\n", encoding="utf-8")
    opts = ImportOptions(model=options.pop("model", "gpt-4o-mini"), **options)  # type: ignore[arg-type]
    return analyse_openai(source, opts, endpoint=endpoint, work_dir=tmp_path / "work")


def test_without_an_output_budget_the_estimate_is_input_only(tmp_path: Path) -> None:
    report = _analyse(tmp_path, "/v1/chat/completions")
    assert report.format == "txt"  # type: ignore[attr-defined]
    est = report.estimate  # type: ignore[attr-defined]
    assert est.unbounded_requests == 3
    assert est.output_unbounded
    assert est.covers.startswith("input only: output not bounded")
    assert est.output_words == "output not bounded"


def test_a_budget_bounds_it(tmp_path: Path) -> None:
    report = _analyse(tmp_path, "/v1/responses", max_tokens=200)
    est = report.estimate  # type: ignore[attr-defined]
    assert est.unbounded_requests == 0
    assert not est.output_unbounded
    assert est.covers.startswith("upper bound")
    assert est.output_words == "up to 600 output"


def test_embeddings_write_no_output_and_some_unbounded_are_named() -> None:
    est = estimate_bodies(
        iter([{"model": "text-embedding-3-small", "input": "x"}]), "/v1/embeddings"
    )
    assert est.unbounded_requests == 0
    assert est.covers.startswith("upper bound")
    mixed = estimate_bodies(
        iter(
            [
                {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a"}]},
                {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "b"}],
                    "max_completion_tokens": 50,
                },
            ]
        ),
        "/v1/chat/completions",
    )
    assert mixed.unbounded_requests == 1
    assert not mixed.output_unbounded
    assert mixed.covers == (
        "output not counted for 1 request without an output budget (not bounded)"
    )

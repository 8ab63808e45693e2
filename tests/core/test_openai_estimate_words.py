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


def test_a_prompt_beyond_the_models_context_window_is_warned_of(tmp_path: Path) -> None:
    import orjson

    big = "word " * 130_000  # ~162k tokens by the 4-characters rule: over gpt-4o-mini's 128k

    def line(cid: str, model: str) -> bytes:
        body = {"model": model, "messages": [{"role": "user", "content": big}]}
        req = {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}
        return orjson.dumps(req) + b"\n"

    for model, warned in (
        ("gpt-4o-mini", True),
        ("gpt-4o-mini-2024-07-18", True),  # a dated id is its model
        ("gpt-4.1-mini", False),  # a million-token window
    ):
        source = tmp_path / f"{model}.jsonl"
        source.write_bytes(line("a", model))
        report = analyse_openai(
            source, ImportOptions(), endpoint=None, work_dir=tmp_path / f"w-{model}"
        )
        warnings = [i.message for i in report.issues if i.severity == "warning"]
        assert report.request_count == 1  # a warning: the request is still sent
        if warned:
            assert len(warnings) == 1, warnings
            assert "more than the context window of" in warnings[0]
            assert "(128,000 tokens)" in warnings[0]
        else:
            assert warnings == []


def test_compose_warns_of_it_too() -> None:
    from batchtop.core.openai_checks import composed_issues

    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "word " * 130_000}]}
    issues = composed_issues([{"custom_id": "a", "params": body}], "/v1/chat/completions")
    assert [i.severity for i in issues] == ["warning"]
    assert "(128,000 tokens)" in issues[0].message
    small = {**body, "messages": [{"role": "user", "content": "hello"}]}
    assert composed_issues([{"custom_id": "a", "params": small}], "/v1/chat/completions") == []


def test_the_prepared_parts_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """It holds the prompts: 0700 like the import folder around it (it was the umask's 0755)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        _analyse(tmp_path, "/v1/chat/completions")
    finally:
        os.umask(old)
    prepared = tmp_path / "work" / "prepared"
    assert stat.S_IMODE(prepared.stat().st_mode) == 0o700
    assert any(prepared.iterdir())

"""Property tests: malformed input never raises, and the streaming JSON reader agrees with
a whole-document parse however the bytes are chunked."""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any, get_args

import orjson
import pytest
from batchtop.core import import_readers
from batchtop.core.import_readers import Problem, json_array_values
from batchtop.core.importer import analyse
from batchtop.core.models import ImportFormat, ImportOptions, ImportReport
from batchtop.core.request_checks import sanitize_custom_id
from batchtop.core.templates import Template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("BATCHTOP_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FORMATS: list[ImportFormat | None] = [None, *get_args(ImportFormat)]
EXTENSIONS = [".jsonl", ".json", ".csv", ".tsv", ".txt", ".bin", ""]


def text(**kw: Any) -> st.SearchStrategy[str]:
    """Text orjson can encode (no lone surrogates)."""
    return st.text(st.characters(exclude_categories=["Cs"]), **kw)


json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
valid_request = st.builds(
    lambda cid, text, mt: {
        "custom_id": cid,
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": mt,
            "messages": [{"role": "user", "content": text}],
        },
    },
    st.from_regex(r"[a-zA-Z0-9_-]{1,10}", fullmatch=True),
    text(min_size=1, max_size=30),
    st.integers(-2, 70_000),
)


def analyse_bytes(data: bytes, suffix: str, options: ImportOptions) -> ImportReport:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"input{suffix}"
        src.write_bytes(data)
        report = analyse(src, options, work_dir=Path(tmp) / "work")
        # the prepared parts hold exactly the counted requests, each valid JSON
        written = 0
        for part in (Path(tmp) / "work").glob("part-*[0-9].jsonl"):
            for line in part.read_bytes().splitlines():
                orjson.loads(line)
                written += 1
        assert written == report.request_count
        return report


def check_report(report: ImportReport) -> None:
    assert isinstance(report, ImportReport)
    assert report.ok == (report.request_count > 0 and not report.errors)
    for issue in report.issues:
        assert issue.message
        assert not issue.message.startswith("Internal error"), issue.message
    assert sum(p.request_count for p in report.parts) == report.request_count


@FUZZ
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from(EXTENSIONS),
    fmt=st.sampled_from(FORMATS),
    template=st.none() | st.sampled_from(["{text}", "{a} {b}", "{", "x}}", "{{{a}}}"]),
)
def test_random_bytes_never_raise(
    data: bytes, suffix: str, fmt: ImportFormat | None, template: str | None
) -> None:
    opts = ImportOptions(format=fmt, template=template, model="claude-haiku-4-5", max_tokens=5)
    check_report(analyse_bytes(data, suffix, opts))


line_variants = st.one_of(
    valid_request.map(orjson.dumps),
    valid_request.map(lambda r: orjson.dumps(r)[: len(orjson.dumps(r)) // 2]),
    json_values.map(orjson.dumps),
    st.sampled_from([b"", b"   ", b"\xef\xbb\xbf", b"\xff\xfe", b"[", b"]", b"{", b",", b'"']),
    st.binary(max_size=30),
)


@FUZZ
@given(
    lines=st.lists(line_variants, max_size=12),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    suffix=st.sampled_from([".jsonl", ".json", ".csv", ".txt"]),
    split=st.integers(1, 3),
)
def test_random_lines_never_raise(
    lines: list[bytes], newline: bytes, suffix: str, split: int
) -> None:
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=5, max_requests_per_batch=split)
    check_report(analyse_bytes(newline.join(lines), suffix, opts))


@FUZZ
@given(
    requests=st.lists(valid_request, max_size=8, unique_by=lambda r: r["custom_id"]),
    indent=st.booleans(),
    chunk=st.integers(1, 64),
)
def test_json_list_of_requests_matches_whole_parse(
    requests: list[dict[str, Any]], indent: bool, chunk: int
) -> None:
    data = orjson.dumps(requests, option=orjson.OPT_INDENT_2 if indent else 0)
    old = import_readers.CHUNK
    import_readers.CHUNK = chunk
    try:
        report = analyse_bytes(data, ".json", ImportOptions())
    finally:
        import_readers.CHUNK = old
    valid = [
        r
        for r in requests
        if 1 <= r["params"]["max_tokens"] <= 64_000
        and r["params"]["messages"][0]["content"].strip()
    ]
    assert report.request_count == len(valid)


@FUZZ
@given(
    value=st.lists(json_values, max_size=6),
    indent=st.booleans(),
    chunk=st.integers(1, 50),
)
def test_streamed_json_list_equals_orjson(value: list[Any], indent: bool, chunk: int) -> None:
    data = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0)
    old = import_readers.CHUNK
    import_readers.CHUNK = chunk
    try:
        got = list(json_array_values(io.BytesIO(data), "utf-8", lambda n: None))
    finally:
        import_readers.CHUNK = old
    assert [v for _, v in got] == value
    assert [line for line, _ in got] == sorted(line for line, _ in got)


@FUZZ
@given(data=st.binary(max_size=200), chunk=st.integers(1, 20))
def test_streamed_json_list_never_raises_on_garbage(data: bytes, chunk: int) -> None:
    old = import_readers.CHUNK
    import_readers.CHUNK = chunk
    try:
        for line, value in json_array_values(io.BytesIO(b"[" + data), "utf-8", lambda n: None):
            assert line >= 1
            assert value is not None or value is None  # any value, or a Problem
            if isinstance(value, Problem):
                assert value.message
    finally:
        import_readers.CHUNK = old


ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@FUZZ
@given(raws=st.lists(st.text(max_size=90), max_size=30))
def test_sanitized_ids_are_valid_and_unique(raws: list[str]) -> None:
    used: set[str] = set()
    ids = [sanitize_custom_id(r, used) for r in raws]
    assert all(ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)


@FUZZ
@given(text=st.text(max_size=40))
def test_template_escapes_round_trip(text: str) -> None:
    escaped = text.replace("{", "{{").replace("}", "}}")
    assert Template(escaped).render({}) == text
    assert Template(escaped + "{x}").render({"x": "!"}) == text + "!"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_garbage_after_a_utf16_bom_never_raises(encoding: str) -> None:
    bom = "".encode(encoding)
    check_report(analyse_bytes(bom + b"\x00\xd8garbage\x00", ".jsonl", ImportOptions()))


tricky_text = st.sampled_from(["}, {", "},{", "},\n  {", "]", "[", '"', "\\", "{", ""]) | text(
    max_size=6
)
records = st.recursive(
    st.dictionaries(text(max_size=4), tricky_text | st.integers(0, 9), max_size=3),
    lambda inner: st.dictionaries(
        text(max_size=4), inner | st.lists(inner, max_size=3) | tricky_text, max_size=3
    ),
    max_leaves=10,
)


@FUZZ
@given(
    value=st.lists(records | st.lists(records, max_size=2), max_size=8),
    layout=st.sampled_from([0, orjson.OPT_INDENT_2, "python", "python-indent"]),
    chunk=st.integers(1, 80),
)
def test_streamed_list_of_objects_equals_orjson(value: list[Any], layout: Any, chunk: int) -> None:
    import json

    if layout == "python":
        data = json.dumps(value).encode()
    elif layout == "python-indent":
        data = json.dumps(value, indent=4).encode()
    else:
        data = orjson.dumps(value, option=layout)
    old = import_readers.CHUNK
    import_readers.CHUNK = chunk
    try:
        got = list(json_array_values(io.BytesIO(data), "utf-8", lambda n: None))
    finally:
        import_readers.CHUNK = old
    assert [v for _, v in got] == value
    lines = [line for line, _ in got]
    assert lines == sorted(lines)
    if layout in (orjson.OPT_INDENT_2, "python-indent"):
        # each element starts on the line where the whole-document text puts it
        starts = []
        depth = 0
        text_data = data.decode()
        in_str = esc = False
        line = 1
        for ch in text_data:
            if ch == "\n":
                line += 1
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
                continue
            if ch == '"':
                in_str = True
            elif ch in "[{":
                if depth == 1:
                    starts.append(line)
                depth += 1
            elif ch in "]}":
                depth -= 1
        if all(isinstance(v, dict | list) for v in value):
            assert lines == starts

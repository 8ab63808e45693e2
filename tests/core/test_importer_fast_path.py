"""The native JSONL fast path never skips a rule, and what it writes is a valid request.

Large native files take a fast path: a plainly valid request on a clean line is counted and
its source bytes are copied to the part. These tests put each defect after enough valid
requests that the fast path is warm (model seen, preview full), and check that it is still
reported exactly as `validate_request` (the slow, rule-by-rule check) reports it, on its
line; and that part files hold exactly the valid requests, byte for byte when the line was
clean, and are accepted by the emulator.
"""

from __future__ import annotations

import copy
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core import import_readers, part_writer
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.importer import analyse
from batchtop.core.models import ImportIssue, ImportOptions, ImportReport, ResultFilter, SplitPart
from batchtop.core.pricing import estimate_cost
from batchtop.core.request_checks import custom_id_problem, validate_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_support import ServiceFactory
from test_importer_formats import native as req

FUZZ = settings(
    max_examples=int(os.environ.get("BATCHTOP_FUZZ_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
WARM = 8  # valid requests first: more than the preview, so later lines take the fast path


def warm() -> list[dict[str, Any]]:
    return [req(f"warm-{i}", f"warm up {i}") for i in range(WARM)]


def analyse_lines(tmp: Path, lines: list[bytes], **options: Any) -> ImportReport:
    src = tmp / "in.jsonl"
    src.write_bytes(b"".join(lines))
    return analyse(src, ImportOptions(**options), work_dir=tmp / "work")


def part_lines(tmp: Path) -> list[bytes]:
    return [
        line
        for part in sorted((tmp / "work").glob("part-*[0-9].jsonl"))
        for line in part.read_bytes().splitlines(keepends=True)
    ]


def found(report: ImportReport, line: int) -> list[tuple[str, str | None, str]]:
    return [(i.severity, i.field, i.message) for i in report.issues if i.line == line]


def expected(request: Any) -> list[tuple[str, str | None, str]]:
    return [(i.severity, i.field, i.message) for i in validate_request(request)]


# Each defect sits deep in an otherwise valid request (the shape the fast path looks at).
DEEP_DEFECTS: list[tuple[str, Any]] = [
    ("custom_id with a final newline", lambda r: r.update(custom_id="bad\n")),
    ("custom_id of 65 characters", lambda r: r.update(custom_id="x" * 65)),
    ("custom_id with a space", lambda r: r.update(custom_id="a b")),
    ("custom_id non-ASCII digit", lambda r: r.update(custom_id="a\u0663")),
    ("model only spaces", lambda r: r["params"].update(model="   ")),
    ("model empty", lambda r: r["params"].update(model="")),
    ("model a number", lambda r: r["params"].update(model=5)),
    ("model missing", lambda r: r["params"].pop("model")),
    ("max_tokens true", lambda r: r["params"].update(max_tokens=True)),
    ("max_tokens a float", lambda r: r["params"].update(max_tokens=5.5)),
    ("max_tokens zero", lambda r: r["params"].update(max_tokens=0)),
    ("max_tokens above the model's maximum", lambda r: r["params"].update(max_tokens=10**7)),
    ("max_tokens missing", lambda r: r["params"].pop("max_tokens")),
    ("messages empty", lambda r: r["params"].update(messages=[])),
    ("messages an object", lambda r: r["params"].update(messages={"role": "user"})),
    ("message not an object", lambda r: r["params"]["messages"].append("hi")),
    ("message without role", lambda r: r["params"]["messages"][0].pop("role")),
    ("message role system", lambda r: r["params"]["messages"][0].update(role="system")),
    ("message without content", lambda r: r["params"]["messages"][0].pop("content")),
    ("content only whitespace", lambda r: r["params"]["messages"][0].update(content=" \t\n")),
    ("content empty", lambda r: r["params"]["messages"][0].update(content="")),
    ("content a number", lambda r: r["params"]["messages"][0].update(content=3)),
    ("content empty list", lambda r: r["params"]["messages"][0].update(content=[])),
    (
        "content block with blank text",
        lambda r: r["params"]["messages"][0].update(content=[{"type": "text", "text": " "}]),
    ),
    (
        "second message with empty content",
        lambda r: r["params"]["messages"].append({"role": "assistant", "content": ""}),
    ),
    ("system a number", lambda r: r["params"].update(system=7)),
    ("stream true", lambda r: r["params"].update(stream=True)),
    ("speed set", lambda r: r["params"].update(speed="fast")),
    ("params a list", lambda r: r.update(params=[1])),
    ("unknown model (warning)", lambda r: r["params"].update(model="claude-from-the-future")),
    (
        "max_tokens in the beta range (warning)",
        lambda r: r["params"].update(model="claude-opus-5", max_tokens=200_000),
    ),
]


@pytest.mark.parametrize(("name", "defect"), DEEP_DEFECTS, ids=[n for n, _ in DEEP_DEFECTS])
def test_a_deep_defect_is_reported_on_its_line_even_on_the_fast_path(
    tmp_path: Path, name: str, defect: Any
) -> None:
    bad = req("target", "the prompt")
    defect(bad)
    requests = [*warm(), bad, req("after", "still fine")]
    report = analyse_lines(tmp_path, [orjson.dumps(r) + b"\n" for r in requests])
    line = WARM + 1
    want = expected(bad)
    assert want, f"{name}: the reference check finds nothing"
    assert found(report, line) == want
    assert all(i.line == line for i in report.issues), report.issues
    written = [orjson.loads(x) for x in part_lines(tmp_path)]
    errors = any(severity == "error" for severity, _, _ in want)
    assert written == [r for r in requests if r is not bad or not errors]


def test_duplicate_id_on_the_fast_path_names_the_first_line(tmp_path: Path) -> None:
    requests = [*warm(), req("warm-3", "again")]
    report = analyse_lines(tmp_path, [orjson.dumps(r) + b"\n" for r in requests])
    assert found(report, WARM + 1) == [
        ("error", "custom_id", "custom_id 'warm-3' is used twice: on line 4 and on this line.")
    ]
    assert len(part_lines(tmp_path)) == WARM


def test_valid_shapes_off_the_fast_path_are_accepted(tmp_path: Path) -> None:
    """Valid requests the fast path does not cover go the slow way and are still prepared."""
    others = [
        req("system-text", system="Be brief."),
        req("system-blocks", system=[{"type": "text", "text": "Be brief."}]),
        req(
            "blocks", "x", messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        ),
        req("tools", tools=[{"name": "t", "input_schema": {"type": "object"}}]),
        req(
            "turns",
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
        ),
        req("opts", temperature=0.2, stream=False, speed=None),
    ]
    requests = [*warm(), *others]
    report = analyse_lines(tmp_path, [orjson.dumps(r) + b"\n" for r in requests])
    assert report.ok, report.issues
    assert [orjson.loads(x) for x in part_lines(tmp_path)] == requests


def test_clean_lines_are_copied_byte_for_byte_and_others_normalised(tmp_path: Path) -> None:
    a, b, c, d = (req(x, f"prompt {x}") for x in "abcd")
    lines = [
        *(orjson.dumps(r) + b"\n" for r in warm()),
        b'{"custom_id": "a", "params": {"model": "claude-haiku-4-5", "max_tokens": 100, '
        b'"messages": [{"role": "user", "content": "prompt a"}]}}\n',  # spaces: kept as is
        b"  " + orjson.dumps(b) + b" \r\n",  # surrounding whitespace: trimmed
        orjson.dumps({**c, "note": "x"}) + b"\n",  # extra key: dropped, so re-serialised
        orjson.dumps(d),  # no final newline: one is added
    ]
    report = analyse_lines(tmp_path, lines)
    assert [i.message for i in report.issues] == [
        "Ignored 'note': a request holds only custom_id and params."
    ]
    written = part_lines(tmp_path)
    assert written[:WARM] == lines[:WARM]
    assert written[WARM] == lines[WARM]
    assert written[WARM + 1] == orjson.dumps(b) + b"\n"
    assert written[WARM + 2] == orjson.dumps(c) + b"\n"
    assert written[WARM + 3] == orjson.dumps(d) + b"\n"
    assert [orjson.loads(x) for x in written[WARM:]] == [a, b, c, d]
    (part,) = report.parts
    assert part.byte_size == len(b'{"requests":[]}') + sum(len(x) for x in written) - 1


def test_a_model_first_seen_on_a_broken_request_is_still_counted(tmp_path: Path) -> None:
    requests = [
        *warm(),
        req("broken", model="claude-opus-5", max_tokens=0),
        req("ok-1", model="claude-opus-5"),
        req("ok-2", model="claude-opus-5"),
    ]
    report = analyse_lines(tmp_path, [orjson.dumps(r) + b"\n" for r in requests])
    assert [(i.line, i.field) for i in report.issues] == [(WARM + 1, "params.max_tokens")]
    assert report.models == {"claude-haiku-4-5": WARM, "claude-opus-5": 2}
    assert report.request_count == WARM + 2


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-haiku-5-5", "claude-unknown"])
def test_estimate_equals_the_per_request_reference(tmp_path: Path, model: str) -> None:
    """Runs add their cost in one step when the model has one price tier; per request when
    the size of a request picks its tier (some of these are above 100k tokens)."""
    requests = [
        req(f"r-{i}", "word " * (1 + (i * 7919) % 60) * (3000 if i % 9 == 4 else 1), model=model)
        for i in range(60)
    ]
    for i, r in enumerate(requests):
        r["params"]["max_tokens"] = 10 + i
    report = analyse_lines(tmp_path, [orjson.dumps(r) + b"\n" for r in requests])
    assert report.request_count == 60
    assert report.estimate == estimate_cost(requests)


@pytest.mark.parametrize(("max_requests", "max_bytes"), [(7, 10**9), (10**6, 2_000), (5, 1_500)])
def test_runs_split_exactly_like_one_request_at_a_time(
    tmp_path: Path, max_requests: int, max_bytes: int
) -> None:
    requests = [req(f"r-{i}", "x" * (1 + (i * 37) % 300)) for i in range(150)]
    lines = [orjson.dumps(r) + b"\n" for r in requests]
    report = analyse_lines(
        tmp_path, lines, max_requests_per_batch=max_requests, max_bytes_per_batch=max_bytes
    )
    assert report.ok, report.issues[:3]
    # the reference: greedy, one request at a time
    expected: list[tuple[int, int, int, int]] = []  # (count, bytes, first line, last line)
    for number, line in enumerate(lines, start=1):
        size = len(line) - 1
        if expected and (expected[-1][0] >= max_requests or expected[-1][1] + size + 1 > max_bytes):
            expected.append((0, 0, number, number))
        if not expected:
            expected.append((0, 0, number, number))
        count, total, first, _ = expected[-1]
        total = total + size + 1 if count else len(b'{"requests":[]}') + size
        expected[-1] = (count + 1, total, first, number)
    assert [(p.request_count, p.byte_size, p.first_line, p.last_line) for p in report.parts] == (
        expected
    )
    assert part_lines(tmp_path) == lines


@pytest.mark.parametrize("failing", ["_write_all", "fsync", "second fsync"])
def test_a_disk_error_is_reported_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """The disk fills up while parts are written: one error, the rest of the file is still
    checked, nothing half-written is left under any name."""

    real_fsync = os.fsync
    calls: list[int] = []

    def full(*args: Any) -> None:
        calls.append(1)
        if failing == "second fsync" and len(calls) == 1:  # the part syncs, its manifest fails
            real_fsync(*args)
            return
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing.endswith("fsync"):
        monkeypatch.setattr(part_writer.os, "fsync", full)
    else:
        monkeypatch.setattr(part_writer, "_write_all", full)
    monkeypatch.setattr(part_writer, "FLUSH_BYTES", 1000)  # write early
    requests = [req(f"r-{i}", "x" * 200) for i in range(50)]
    lines = [orjson.dumps(r) + b"\n" for r in requests] + [b"{broken\n"]
    report = analyse_lines(tmp_path, lines)
    disk, parse = sorted((i for i in report.errors), key=lambda i: i.line or 0)
    assert disk.message.startswith(f"Cannot write the prepared file in {tmp_path / 'work'}: ")
    assert "No space left on device" in disk.message
    assert (parse.line, parse.message) == (
        51,
        "This line is not valid JSON: unexpected character, expected a string key.",
    )
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == []


# --- property tests ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70_000) | st.sampled_from(["", " ", "x", "\n"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def put(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    value[head] = put(value[head], rest, new)
    return value


@st.composite
def mutated(draw: st.DrawFn, cid: str) -> dict[str, Any]:
    """A valid request with one value replaced somewhere inside `params` (or its id)."""
    r = req(cid, draw(st.text(min_size=1, max_size=12)))
    if draw(st.booleans()):
        r["params"]["system"] = draw(st.text(max_size=4))
    target = draw(
        st.sampled_from([p for p in paths(r) if (p and p[0] == "params") or p == ("custom_id",)])
    )
    choice = draw(st.integers(0, 2))
    if target == ("custom_id",):
        new: Any = draw(st.text(max_size=70) | json_values)
    elif choice == 0:
        new = draw(json_values)
    elif choice == 1:
        new = draw(st.text(max_size=5))
    else:
        new = draw(st.integers(-2, 300_000))
    r = put(copy.deepcopy(r), target, new)
    return r


@FUZZ
@given(data=st.data(), n=st.integers(1, 6), crlf=st.booleans())
def test_fast_path_reports_what_the_rule_by_rule_check_reports(
    data: st.DataObject, n: int, crlf: bool
) -> None:
    requests = [*warm(), *(data.draw(mutated(f"m-{i}")) for i in range(n))]
    newline = b"\r\n" if crlf else b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        report = analyse_lines(Path(tmp), [orjson.dumps(r) + newline for r in requests])
        written = [orjson.loads(x) for x in part_lines(Path(tmp))]
    warned: set[str] = set()
    ids: dict[str, int] = {}
    kept = []
    for line, r in enumerate(requests, start=1):
        want = expected(r)
        cid = r["custom_id"]
        if isinstance(cid, str) and custom_id_problem(cid) is None:
            if cid in ids:
                message = f"custom_id {cid!r} is used twice: on line {ids[cid]} and on this line."
                want.insert(0, ("error", "custom_id", message))
            else:
                ids[cid] = line
        model = r["params"].get("model") if isinstance(r["params"], dict) else None
        if isinstance(model, str):  # the importer warns about an unknown model once
            if model in warned:
                want = [w for w in want if w[1] != "params.model" or w[0] != "warning"]
            warned.add(model)
        assert found(report, line) == want, (line, r)
        if not any(severity == "error" for severity, _, _ in want):
            kept.append(r)
    assert written == kept
    assert report.request_count == len(kept)


@FUZZ
@given(
    lines=st.lists(
        st.sampled_from(
            [
                orjson.dumps(req("a", "x " * 40)),
                orjson.dumps(req("b", "y")),
                b"  " + orjson.dumps(req("c")) + b"\t",
                orjson.dumps(req("bad", "")),
                b"",
                b"   ",
                b"{not json",
                b"\xff\xfe",
            ]
        ),
        max_size=12,
    ),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    final=st.booleans(),
    bom=st.booleans(),
    chunk=st.integers(1, 40),
)
def test_tiny_read_chunks_give_the_same_report_and_parts(
    lines: list[bytes], newline: bytes, final: bool, bom: bool, chunk: int
) -> None:
    """Lines cut by chunk ends are read like any other (ids may repeat: that is reported too)."""
    data = (b"\xef\xbb\xbf" if bom else b"") + newline.join(lines) + (newline if final else b"")
    outcomes = []
    for size in (import_readers.CHUNK, chunk):
        old = import_readers.CHUNK
        import_readers.CHUNK = size
        try:
            with tempfile.TemporaryDirectory() as tmp:
                report = analyse_lines(Path(tmp), [data])
                parts = _parts(report.parts, tmp)
                outcomes.append((_issues(report.issues), parts, part_lines(Path(tmp))))
        finally:
            import_readers.CHUNK = old
    assert outcomes[0] == outcomes[1]


def _parts(parts: list[SplitPart], tmp: str) -> list[tuple[Any, ...]]:
    """The parts, each file named relative to its run's directory (the runs use two)."""
    return [
        (p.index, p.request_count, p.byte_size, p.first_line, p.last_line, p.path.relative_to(tmp))
        for p in parts
    ]


def _issues(issues: list[ImportIssue]) -> list[tuple[Any, ...]]:
    return [(i.severity, i.line, i.column, i.field, i.message) for i in issues]


# --- the emulator accepts what was written -------------------------------------------------


async def test_parts_written_by_the_fast_path_are_accepted_by_the_emulator(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    requests = [req(f"r-{i:03d}", f"prompt number {i}", max_tokens=50) for i in range(40)]
    lines = [orjson.dumps(r) + b"\n" for r in requests]
    lines[20] = b" " + lines[20].rstrip() + b" \r\n"  # trimmed, not copied
    lines[21] = orjson.dumps({**requests[21], "extra": 1}) + b"\n"  # re-serialised
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(lines))
    service = make_service(max_requests_per_batch=15)
    report = await service.analyse(source, ImportOptions())
    assert not report.errors
    assert [p.request_count for p in report.parts] == [15, 15, 10]
    outcome = await service.submit(report)
    assert len(outcome.batch_ids) == 3
    emulator.advance(3600)
    await service.refresh()
    await service.wait_background()
    page = service.results_page(list(outcome.batch_ids), ResultFilter(), 0, 100)
    assert page.total == 40
    assert {r.custom_id: r.type for r in page.rows} == {
        r["custom_id"]: "succeeded" for r in requests
    }
    # the prompt reaches the results through the part (manifests hold id and line)
    assert {r.custom_id: r.input_text for r in page.rows} == {
        r["custom_id"]: r["params"]["messages"][0]["content"] for r in requests
    }

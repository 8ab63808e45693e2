"""Each import format, with and without templates, and the prepared files it writes."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core import import_readers
from batchtop.core.importer import analyse
from batchtop.core.models import ImportOptions, ImportReport
from batchtop.core.submit import read_part

HAIKU = ImportOptions(model="claude-haiku-4-5", max_tokens=200)


def native(cid: str, text: str = "hello", **params: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
    }
    p.update(params)
    return {"custom_id": cid, "params": p}


def jsonl(*objs: Any) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)


def run(
    tmp_path: Path, name: str, data: bytes | str, options: ImportOptions = HAIKU
) -> ImportReport:
    src = tmp_path / name
    src.write_bytes(data.encode() if isinstance(data, str) else data)
    return analyse(src, options, work_dir=tmp_path / "work")


def part_lines(tmp_path: Path, n: int = 1) -> list[dict[str, Any]]:
    data = (tmp_path / "work" / f"part-{n:04d}.jsonl").read_bytes()
    return [orjson.loads(line) for line in data.splitlines()]


def manifest(tmp_path: Path, n: int = 1) -> list[dict[str, Any]]:
    data = (tmp_path / "work" / f"part-{n:04d}.manifest.jsonl").read_bytes()
    return [orjson.loads(line) for line in data.splitlines()]


def prompts(tmp_path: Path) -> list[str]:
    return [r["params"]["messages"][-1]["content"] for r in part_lines(tmp_path)]


def messages(report: ImportReport) -> list[str]:
    return [i.message for i in report.issues]


def test_native_jsonl(tmp_path: Path) -> None:
    reqs = [native("a", "one"), native("b", "two", system="be brief")]
    r = run(tmp_path, "in.jsonl", jsonl(*reqs), ImportOptions())
    assert r.ok, r.issues
    assert r.format == "jsonl"
    assert r.request_count == 2
    assert r.models == {"claude-haiku-4-5": 2}
    assert part_lines(tmp_path) == reqs
    # the manifest maps ids to source lines; the prompt is read from the part when submitting
    assert manifest(tmp_path) == [{"custom_id": "a", "line": 1}, {"custom_id": "b", "line": 2}]
    prepared = read_part(tmp_path / "work" / "part-0001.jsonl")
    assert [(row.custom_id, row.input_text) for row in prepared.manifest_rows] == [
        ("a", "one"),
        ("b", "two"),
    ]
    assert r.preview == reqs
    assert r.prepared_path == tmp_path / "work"
    assert r.byte_size == (tmp_path / "in.jsonl").stat().st_size
    # no temp files left behind
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [
        "part-0001.jsonl",
        "part-0001.manifest.jsonl",
    ]


def test_native_jsonl_bom_crlf_blank_lines_and_no_final_newline(tmp_path: Path) -> None:
    body = codecs.BOM_UTF8 + orjson.dumps(native("a")) + b"\r\n\r\n  \n" + orjson.dumps(native("b"))
    r = run(tmp_path, "in.jsonl", body, ImportOptions())
    assert r.ok, r.issues
    assert [m["line"] for m in manifest(tmp_path)] == [1, 4]
    raw = (tmp_path / "work" / "part-0001.jsonl").read_bytes()
    assert b"\r" not in raw
    assert not raw.startswith(codecs.BOM_UTF8)
    assert raw.endswith(b"}\n")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom_are_decoded(tmp_path: Path, encoding: str) -> None:
    text = (orjson.dumps(native("a", "héllo ✓")) + b"\n").decode() * 1
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    r = run(tmp_path, "in.jsonl", data, ImportOptions())
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["héllo ✓"]


def test_utf16_txt(tmp_path: Path) -> None:
    r = run(tmp_path, "p.txt", "first\r\nsecond\r\n".encode("utf-16"))
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["first", "second"]


def test_native_json_list(tmp_path: Path) -> None:
    reqs = [native("a", 'x [ ] { } , " \\'), native("b")]
    data = orjson.dumps(reqs, option=orjson.OPT_INDENT_2)
    r = run(tmp_path, "in.json", data, ImportOptions())
    assert r.ok, r.issues
    assert r.format == "json"
    assert part_lines(tmp_path) == reqs
    assert [m["line"] for m in manifest(tmp_path)] == [2, 15]


def test_json_requests_object(tmp_path: Path) -> None:
    r = run(tmp_path, "body.json", orjson.dumps({"requests": [native("a"), native("b")]}))
    assert r.ok, r.issues
    assert r.request_count == 2


def test_json_records_with_template(tmp_path: Path) -> None:
    articles = [
        {"title": "Cats", "content": "Cats sleep.", "meta": {"author": "Ann"}},
        {"title": "Dogs", "content": "Dogs bark.", "meta": {"author": "Bob"}, "n": 3},
    ]
    opts = ImportOptions(
        template="Summarise {{{title}}} by {meta.author}:\n{content}",
        model="claude-haiku-4-5",
        max_tokens=200,
        system="Be brief.",
    )
    r = run(tmp_path, "articles.json", orjson.dumps(articles), opts)
    assert r.ok, r.issues
    lines = part_lines(tmp_path)
    assert lines[0] == {
        "custom_id": "row-000001",
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 200,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Summarise {Cats} by Ann:\nCats sleep."}],
        },
    }
    assert lines[1]["custom_id"] == "row-000002"
    assert manifest(tmp_path)[1] == {"custom_id": "row-000002", "line": 1}
    prepared = read_part(tmp_path / "work" / "part-0001.jsonl")
    assert list(prepared.manifest_rows)[1].input_text == "Summarise {Dogs} by Bob:\nDogs bark."


def test_json_list_of_strings_is_prompts(tmp_path: Path) -> None:
    r = run(tmp_path, "p.json", orjson.dumps(["one", "two"]))
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["one", "two"]


def test_records_jsonl_default_field_and_id_field(tmp_path: Path) -> None:
    data = jsonl({"id": "doc 1", "prompt": "p1"}, {"id": "doc/2", "prompt": "p2"})
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=10, id_field="id")
    r = run(tmp_path, "r.jsonl", data, opts)
    assert r.ok, r.issues
    assert r.format == "records-jsonl"
    ids = [x["custom_id"] for x in part_lines(tmp_path)]
    assert ids[0].startswith("doc_1-")
    assert ids[1].startswith("doc_2-")
    assert prompts(tmp_path) == ["p1", "p2"]


def test_id_field_never_renames_a_valid_id_and_reports_each_rewrite(tmp_path: Path) -> None:
    long = "x" * 80
    data = jsonl(
        {"id": "a b", "text": "1"},
        {"id": "a_b", "text": "2"},
        {"id": long, "text": "3"},
        {"id": long + "y", "text": "4"},
    )
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=10, id_field="id")
    r = run(tmp_path, "r.jsonl", data, opts)
    assert r.ok, r.issues
    ids = [x["custom_id"] for x in part_lines(tmp_path)]
    assert ids[1] == "a_b"  # valid: kept, although "a b" (line 1) came first
    assert ids[0].startswith("a_b-")
    assert ids[0] != "a_b"
    assert all(len(i) == 64 for i in ids[2:])
    assert len(set(ids)) == 4
    rewrites = [(i.line, i.field) for i in r.issues if i.severity == "warning"]
    assert rewrites == [(1, "id"), (3, "id"), (4, "id")]
    first = next(i for i in r.issues if i.line == 1)
    assert "'a b' is not a valid custom_id" in first.message
    assert repr(ids[0]) in first.message
    originals = [m.get("original_id") for m in manifest(tmp_path)]
    assert originals == ["a b", None, long, long + "y"]


def test_id_field_refuses_a_valid_id_equal_to_an_earlier_rewrite(tmp_path: Path) -> None:
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=10, id_field="id")
    run(tmp_path, "first.jsonl", jsonl({"id": "a b", "text": "1"}), opts)
    made = part_lines(tmp_path)[0]["custom_id"]
    r = run(tmp_path, "r.jsonl", jsonl({"id": "a b", "text": "1"}, {"id": made, "text": "2"}), opts)
    assert [(i.severity, i.line) for i in r.errors] == [("error", 2)]
    assert "made from the invalid id on line 1" in r.errors[0].message


def test_csv_with_template_quotes_and_multiline_cells(tmp_path: Path) -> None:
    data = 'title,body\r\n"A, b","line 1\r\nline 2"\r\nC,"say ""hi"""\r\n\r\n'
    r = run(tmp_path, "t.csv", data, ImportOptions(template="{title}: {body}", **_haiku()))
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["A, b: line 1\r\nline 2", 'C: say "hi"']
    assert [m["line"] for m in manifest(tmp_path)] == [2, 4]


def test_tsv(tmp_path: Path) -> None:
    r = run(tmp_path, "t.tsv", "q\tid\nWhat?\tq1\n", ImportOptions(id_field="id", **_haiku()))
    assert r.ok, r.issues
    assert part_lines(tmp_path)[0]["custom_id"] == "q1"
    assert prompts(tmp_path) == ["What?"]


def test_semicolon_csv_is_sniffed(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        "t.csv",
        "name;text\nA;hello, world\n",
        ImportOptions(template="{text}", **_haiku()),
    )
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["hello, world"]


def test_txt_with_and_without_template(tmp_path: Path) -> None:
    r = run(tmp_path, "p.txt", "alpha\n\n  \nbeta\n")
    assert r.ok, r.issues
    assert r.format == "txt"
    assert prompts(tmp_path) == ["alpha", "beta"]
    assert [m["line"] for m in manifest(tmp_path)] == [1, 4]
    r = run(tmp_path, "p.txt", "alpha\nbeta", ImportOptions(template="Q: {line}", **_haiku()))
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["Q: alpha", "Q: beta"]


def test_format_guessed_from_content_when_extension_unknown(tmp_path: Path) -> None:
    assert run(tmp_path, "x.data", jsonl(native("a")), ImportOptions()).format == "jsonl"
    assert run(tmp_path, "x.data", jsonl({"text": "hi"})).format == "records-jsonl"
    assert run(tmp_path, "x.data", orjson.dumps([native("a")])).format == "json"
    assert run(tmp_path, "x.data", "just a prompt\n").format == "txt"
    # a .json file holding JSONL
    assert run(tmp_path, "x.json", jsonl(native("a"), native("b"))).format == "jsonl"


def test_explicit_format_wins(tmp_path: Path) -> None:
    r = run(tmp_path, "x.jsonl", "hello\n", ImportOptions(format="txt", **_haiku()))
    assert r.ok
    assert r.format == "txt"


def test_json_list_streams_across_tiny_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_readers, "CHUNK", 5)
    records = [
        {"text": f'rec {i} with "quotes", [brackets] and {{braces}} \\ é'} for i in range(30)
    ]
    r = run(tmp_path, "r.json", orjson.dumps(records, option=orjson.OPT_INDENT_2))
    assert r.ok, r.issues
    assert prompts(tmp_path) == [x["text"] for x in records]


def test_cost_estimate_in_report(tmp_path: Path) -> None:
    # 4000 chars of prompt = 1000 tokens each; 2 requests; max_tokens 1000 each
    r = run(
        tmp_path,
        "p.txt",
        ("x" * 4000 + "\n") * 2,
        ImportOptions(model="claude-haiku-4-5", max_tokens=1000),
    )
    assert r.estimate is not None
    assert r.estimate.input_tokens == 2000
    assert r.estimate.max_output_tokens == 2000
    assert r.estimate.standard_usd == pytest.approx(0.012)
    assert r.estimate.batch_usd == pytest.approx(0.006)
    assert r.estimate.input_only_batch_usd == pytest.approx(0.001)


def test_rerun_replaces_old_parts(tmp_path: Path) -> None:
    opts = ImportOptions(max_requests_per_batch=1)
    run(tmp_path, "a.jsonl", jsonl(native("a"), native("b"), native("c")), opts)
    assert len(list((tmp_path / "work").glob("part-*.jsonl"))) == 6
    run(tmp_path, "a.jsonl", jsonl(native("a")), opts)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [
        "part-0001.jsonl",
        "part-0001.manifest.jsonl",
    ]


def _haiku() -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 200}


def test_generated_ids_follow_the_record_number(tmp_path: Path) -> None:
    data = jsonl({"t": "a"}, {"x": "no t"}, {"t": "c"})
    r = run(tmp_path, "r.jsonl", data, ImportOptions(template="{t}", **_haiku()))
    assert [i.line for i in r.errors] == [2]
    assert [x["custom_id"] for x in part_lines(tmp_path)] == ["row-000001", "row-000003"]


def test_reanalysing_a_prepared_part_in_its_own_work_dir_keeps_it(tmp_path: Path) -> None:
    run(tmp_path, "in.jsonl", jsonl(native("a"), native("b")), ImportOptions())
    part = tmp_path / "work" / "part-0001.jsonl"
    r = analyse(part, ImportOptions(), work_dir=tmp_path / "work")
    assert r.ok, r.issues
    assert r.request_count == 2


def test_records_own_id_is_used_when_every_record_has_a_unique_valid_one(tmp_path: Path) -> None:
    data = orjson.dumps([{"id": "q1", "body": "a"}, {"id": "q2", "body": "b"}])
    opts = ImportOptions(template="Say {body}", model="claude-haiku-4-5", max_tokens=10)
    r = run(tmp_path, "records.json", data, opts)
    assert r.ok, r.issues
    assert [x["custom_id"] for x in part_lines(tmp_path)] == ["q1", "q2"]
    assert r.notes == ["custom_id is taken from each record's 'id' field."]
    # custom_id wins over id; CSV rows too
    r = run(tmp_path, "r.csv", "custom_id,id,text\nc1,x,hi\nc2,x,ho\n", HAIKU)
    assert [x["custom_id"] for x in part_lines(tmp_path)] == ["c1", "c2"]
    assert "'custom_id'" in r.notes[0]


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ({"id": "q1", "text": "b"}, "'q1' is on line 1 and line 2"),
        ({"id": "q 2", "text": "b"}, "'q 2' on line 2 is not a valid custom_id"),
        ({"text": "b"}, "line 2 has no 'id' value"),
    ],
)
def test_records_own_id_not_usable_falls_back_to_row_numbers_and_says_why(
    tmp_path: Path, second: dict[str, Any], why: str
) -> None:
    r = run(tmp_path, "r.jsonl", jsonl({"id": "q1", "text": "a"}, second), HAIKU)
    assert r.ok, r.issues
    assert [x["custom_id"] for x in part_lines(tmp_path)] == ["row-000001", "row-000002"]
    assert len(r.notes) == 1, r.notes
    assert why in r.notes[0], r.notes


def test_cr_only_line_endings_are_line_endings(tmp_path: Path) -> None:
    lines = [orjson.dumps(native(f"r{i}", f"prompt {i}")) for i in range(3)]
    r = run(tmp_path, "mac.jsonl", b"\r".join(lines) + b"\r")
    assert r.ok, r.issues
    assert [x["custom_id"] for x in part_lines(tmp_path)] == ["r0", "r1", "r2"]
    assert [m["line"] for m in manifest(tmp_path)] == [1, 2, 3]
    r = run(tmp_path, "mac.txt", b"one\rtwo\r\rthree")
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["one", "two", "three"]
    r = run(tmp_path, "mac.csv", b'text\rfirst\r"multi\rline"\r')
    assert r.ok, r.issues
    assert prompts(tmp_path) == ["first", "multi\nline"]

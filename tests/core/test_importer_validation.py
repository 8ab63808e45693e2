"""The validation-error corpus: each problem → its exact message, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest
from batchtop.core.importer import MAX_ISSUES, analyse, requests_from_prompts
from batchtop.core.models import ImportIssue, ImportOptions, ImportReport
from batchtop.core.request_checks import sanitize_custom_id, validate_request
from batchtop.core.templates import MissingField, TemplateError, render_template

DATA = Path(__file__).parent / "data"
HAIKU = ImportOptions(model="claude-haiku-4-5", max_tokens=200)


class Issue(NamedTuple):
    """An expected issue of the corpus: where it is and the exact message."""

    severity: str
    line: int | None
    field: str | None
    message: str
    column: int | None = None


NATIVE_CORPUS: list[Issue] = [
    Issue("error", 2, "custom_id", "custom_id 'ok-1' is used twice: on line 1 and on this line."),
    Issue("error", 3, "custom_id", "custom_id is missing."),
    Issue(
        "error", 4, "custom_id", f"custom_id '{'x' * 65}' is 65 characters long (the limit is 64)."
    ),
    Issue(
        "error",
        5,
        "custom_id",
        "custom_id 'a b/c' contains ' ', '/' (only letters, digits, '_' and '-' are allowed).",
    ),
    Issue("error", 6, "custom_id", "custom_id is empty; it needs 1 to 64 characters."),
    Issue("error", 7, "custom_id", "custom_id must be a string, not a number."),
    Issue(
        "error",
        8,
        None,
        "This line has no 'params' (a native request is "
        '{"custom_id": …, "params": {…}}; for other records, give a template).',
    ),
    Issue("error", 9, "params", "params must be a JSON object, not a list."),
    Issue("error", 10, "params.model", "params has no 'model'."),
    Issue("error", 11, "params.max_tokens", "params has no 'max_tokens'."),
    Issue("error", 12, "params.max_tokens", "max_tokens must be at least 1 (got 0)."),
    Issue("error", 13, "params.max_tokens", "max_tokens must be a whole number, not a string."),
    Issue(
        "error",
        14,
        "params.max_tokens",
        "max_tokens 9,999,999 is above 64,000, the maximum output of claude-haiku-4-5-20251001.",
    ),
    Issue(
        "warning",
        15,
        "params.max_tokens",
        "max_tokens 200000 is above 128000, the usual maximum for claude-opus-5; "
        "it only works with the output-300k beta.",
    ),
    Issue("error", 16, "params.messages", "params has no 'messages'."),
    Issue(
        "error", 17, "params.messages", "params.messages is empty; it needs at least one message."
    ),
    Issue(
        "error",
        18,
        "params.messages.0",
        "messages[0] has role 'system'; it must be 'user' or 'assistant'.",
    ),
    Issue("error", 19, "params.messages.0", "messages[0] has no 'content'."),
    Issue("error", 20, "params.messages.0", "messages[0] has empty text content."),
    Issue(
        "error",
        21,
        "params.stream",
        "stream=true is not supported in the Message Batches API; remove 'stream'.",
    ),
    Issue(
        "warning",
        22,
        "params.model",
        "Model 'claude-does-not-exist-9' is not in batchtop's model list "
        "(model_catalog.toml as of 2026-12-07); the API may still accept it.",
    ),
    Issue("warning", 23, None, "Ignored 'note': a request holds only custom_id and params."),
    Issue("error", 24, None, "Each line must be a JSON object, not a list."),
    Issue("error", 25, None, "This line is not valid JSON: unexpected end of data.", column=37),
    Issue(
        "error",
        26,
        None,
        "This line is not valid UTF-8 (byte 0xe9 at byte 115); save the file as UTF-8.",
        column=115,
    ),
    Issue(
        "error",
        27,
        "params.speed",
        "'speed' (fast mode) is not supported in the Message Batches API; remove it.",
    ),
    Issue(
        "error",
        29,
        None,
        "This line is not valid JSON: unexpected end of data — the file looks truncated.",
        column=85,
    ),
]


def issue_tuples(report: ImportReport) -> list[Issue]:
    return [Issue(i.severity, i.line, i.field, i.message, i.column) for i in report.issues]


def run(
    tmp_path: Path, name: str, data: bytes | str, options: ImportOptions = HAIKU
) -> ImportReport:
    src = tmp_path / name
    src.write_bytes(data.encode() if isinstance(data, str) else data)
    return analyse(src, options, work_dir=tmp_path / "work")


def test_native_corpus_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "corpus.jsonl"
    shutil.copy(DATA / "invalid_native.jsonl", src)
    report = analyse(src, ImportOptions(), work_dir=tmp_path / "work")
    assert issue_tuples(report) == NATIVE_CORPUS
    assert all(i.path == str(src) for i in report.issues)
    assert report.issues[0].location() == f"{src}:2 (custom_id)"
    # the valid (or merely warned) requests are still prepared, but the report is not ok
    assert report.request_count == 5
    assert not report.ok
    ids = [
        orjson.loads(x)["custom_id"]
        for x in (tmp_path / "work" / "part-0001.jsonl").read_bytes().splitlines()
    ]
    assert ids == ["ok-1", "max-beta", "unknown-model", "extra", "temperature-ok"]
    # extra top-level keys are dropped from the prepared request
    assert b'"note"' not in (tmp_path / "work" / "part-0001.jsonl").read_bytes()


def test_unknown_model_warned_once_per_model(tmp_path: Path) -> None:
    line = orjson.dumps(
        {
            "custom_id": "a",
            "params": {
                "model": "claude-new",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
            },
        }
    )
    data = b"\n".join(line.replace(b'"a"', f'"a{i}"'.encode()) for i in range(5))
    report = run(tmp_path, "m.jsonl", data, ImportOptions())
    assert [(i.severity, i.line) for i in report.issues] == [("warning", 1)]
    assert report.ok
    assert report.estimate is not None
    assert report.estimate.unknown_models == ("claude-new",)


@pytest.mark.parametrize(
    ("name", "data", "options", "expected"),
    [
        (
            "t.json",
            '[{"title": "a", "body": "b"}]',
            ImportOptions(template="{title} {content}", model="claude-haiku-4-5", max_tokens=5),
            [
                Issue(
                    "error",
                    1,
                    "template",
                    "The template uses {content} but the records have no field 'content'; "
                    "available fields: title, body.",
                )
            ],
        ),
        (
            "t.jsonl",
            '{"title": "a"}\n{"title": "b"}\n{"name": "c"}\n{"title": null}\n',
            ImportOptions(template="{title}", model="claude-haiku-4-5", max_tokens=5),
            [
                Issue(
                    "error", 3, "title", "This record has no field 'title' (the template uses it)."
                ),
                Issue("error", 4, None, "The prompt for this record is empty."),
            ],
        ),
        (
            "t.csv",
            "a,b\n1,2\n3\n4,5,6\n",
            ImportOptions(template="{a}{b}", model="claude-haiku-4-5", max_tokens=5),
            [
                Issue("error", 3, None, "This row has 1 cells but the header has 2."),
                Issue("error", 4, None, "This row has 3 cells but the header has 2."),
            ],
        ),
        (
            "t.csv",
            "a,b\n",
            ImportOptions(template="{a}", model="claude-haiku-4-5", max_tokens=5),
            [Issue("error", None, None, "The CSV file has a header but no rows.")],
        ),
        (
            "t.csv",
            "a,b\n1,2\n",
            ImportOptions(model="claude-haiku-4-5", max_tokens=5),
            [
                Issue(
                    "error",
                    2,
                    "template",
                    "No template given and the records have several fields (a, b); "
                    "give a template such as '{a}'.",
                )
            ],
        ),
        (
            "t.txt",
            "hi\n",
            ImportOptions(template="{text"),
            [
                Issue(
                    "error",
                    None,
                    None,
                    "No model given: choose one (e.g. --model claude-haiku-5-5).",
                ),
                Issue(
                    "error", None, None, "No max_tokens given: set one (e.g. --max-tokens 1024)."
                ),
                Issue(
                    "error",
                    None,
                    "template",
                    "The template is malformed: the template has a '{' at character 1 that is "
                    "never closed (write '{{' for a literal brace).",
                ),
            ],
        ),
        (
            "t.txt",
            "hi\n",
            ImportOptions(model="claude-haiku-4-5", max_tokens=70_000),
            [
                Issue(
                    "error",
                    None,
                    None,
                    "max_tokens 70,000 is above 64,000, the maximum output of claude-haiku-4-5.",
                )
            ],
        ),
        (
            "t.txt",
            b"good\nbad \xff here\n",
            HAIKU,
            [
                Issue(
                    "error",
                    2,
                    None,
                    "This line is not valid UTF-8 (byte 0xff at byte 5); save the file as UTF-8.",
                    column=5,
                )
            ],
        ),
        (
            "ids.jsonl",
            '{"id": "x", "text": "1"}\n{"id": "y", "text": "2"}\n{"id": "x", "text": "3"}\n'
            '{"text": "4"}\n',
            ImportOptions(id_field="id", model="claude-haiku-4-5", max_tokens=5),
            [
                Issue("error", 3, "id", "id 'x' is used twice: on line 1 and on this line."),
                Issue("error", 4, "id", "This record has no 'id' value."),
            ],
        ),
        (
            "ids.jsonl",
            '{"text": "1"}\n',
            ImportOptions(id_field="id", model="claude-haiku-4-5", max_tokens=5),
            [
                Issue(
                    "error",
                    1,
                    "id_field",
                    "The id field 'id' is not in the records; available fields: text.",
                )
            ],
        ),
        (
            "l.json",
            '[\n {"text": "a"},\n {"text": "b"}',
            HAIKU,
            [Issue("error", 3, None, "The JSON list is not closed — the file looks truncated.")],
        ),
        (
            "l.json",
            '[\n {"text": "a"},\n {"text": "b\n',
            HAIKU,
            [Issue("error", 3, None, "The JSON list is not closed — the file looks truncated.")],
        ),
        (
            "l.json",
            '[{"text": "a"},\n]',
            HAIKU,
            [Issue("error", 1, None, "This list ends with a trailing comma.")],
        ),
        (
            "l.json",
            '[{"text": "a"}] [1]',
            HAIKU,
            [Issue("error", 1, None, "There is more data after the end of the JSON list.")],
        ),
        (
            "l.json",
            '[{"text": "a"},\n {"text": nope},\n 5,\n {"text": "c"}]',
            HAIKU,
            [
                Issue(
                    "error",
                    2,
                    None,
                    "This element is not valid JSON: invalid literal, expected 'null'.",
                ),
                Issue("error", 3, None, "Each record must be a JSON object, not a number."),
            ],
        ),
        (
            "o.json",
            '{"not": "a list"}',
            HAIKU,
            [
                Issue(
                    "error",
                    1,
                    None,
                    "The JSON file holds an object; expected a list of records or requests, or "
                    '{"requests": [...]}.',
                )
            ],
        ),
        (
            "e.jsonl",
            "",
            HAIKU,
            [Issue("error", None, None, "The file is empty: there are no requests in it.")],
        ),
        (
            "e.jsonl",
            "\n \r\n",
            HAIKU,
            [Issue("error", None, None, "The file is empty: there are no requests in it.")],
        ),
        ("e.json", "[]", HAIKU, [Issue("error", None, None, "The file holds no requests.")]),
    ],
)
def test_problem_corpus(
    tmp_path: Path, name: str, data: str | bytes, options: ImportOptions, expected: list[Issue]
) -> None:
    report = run(tmp_path, name, data, options)
    assert issue_tuples(report) == expected
    assert not report.ok


def test_directory_and_missing_file_are_issues_not_exceptions(tmp_path: Path) -> None:
    r = analyse(tmp_path, ImportOptions(), work_dir=tmp_path / "w")
    assert issue_tuples(r) == [Issue("error", None, None, "This is a directory, not a file.")]
    r = analyse(tmp_path / "nope.jsonl", ImportOptions(), work_dir=tmp_path / "w")
    assert issue_tuples(r) == [Issue("error", None, None, "The file does not exist.")]


def test_unwritable_work_dir_is_an_issue(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    src = tmp_path / "p.txt"
    src.write_text("hi\n")
    r = analyse(src, HAIKU, work_dir=blocker / "sub")
    assert not r.ok
    assert r.issues[0].message.startswith("Cannot prepare the work directory")


def test_issue_list_is_capped_but_everything_is_counted(tmp_path: Path) -> None:
    data = "".join(f'{{"custom_id": "bad id {i}", "params": {{}}}}\n' for i in range(600))
    report = run(tmp_path, "many.jsonl", data, ImportOptions())
    # each line: bad custom_id + no model + no max_tokens + no messages = 4 errors
    assert len(report.issues) == MAX_ISSUES + 1
    last = report.issues[-1]
    assert last.severity == "error"
    assert last.message == (
        "…and 1400 more problems not listed (1400 errors, 0 warnings); 2400 in all."
    )


# --- helpers used by the compose form ----------------------------------------------------


def test_validate_request_native_and_bare() -> None:
    ok = {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
    }
    assert validate_request(ok) == []
    assert validate_request({"custom_id": "a", "params": ok}) == []
    issues = validate_request({"custom_id": "a b", "params": {**ok, "model": "nope-1"}}, index=2)
    assert issues == [
        ImportIssue(
            "error",
            "custom_id 'a b' contains ' ' (only letters, digits, '_' and '-' are allowed).",
            "compose",
            3,
            field="custom_id",
        ),
        ImportIssue(
            "warning",
            "Model 'nope-1' is not in batchtop's model list (model_catalog.toml as of 2026-12-07);"
            " the API may still accept it.",
            "compose",
            3,
            field="params.model",
        ),
    ]
    content_blocks = {
        **ok,
        "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}],
    }
    assert [i.message for i in validate_request(content_blocks)] == [
        "messages[0] content block 0 has empty or missing 'text'."
    ]
    assert [i.message for i in validate_request({**ok, "system": 5})] == [
        "params.system must be text or a list of blocks."
    ]


def test_sanitize_custom_id() -> None:
    used: set[str] = set()
    assert sanitize_custom_id("ok-1", used) == "ok-1"  # valid: kept as it is
    assert sanitize_custom_id("ok-1", used) == "ok-1-2"
    bad = sanitize_custom_id("héllo wörld!", used)
    assert bad.startswith("h_llo_w_rld_-")
    assert len(bad) == len("h_llo_w_rld_-") + 10
    assert sanitize_custom_id("héllo wörld?", used) != bad  # the hash keeps them apart
    assert sanitize_custom_id("", used).startswith("-")
    long1 = sanitize_custom_id("z" * 100, used)
    long2 = sanitize_custom_id("z" * 101, used)
    assert len(long1) == len(long2) == 64
    assert long1 != long2
    assert long1.startswith("z" * 53 + "-")
    many = {sanitize_custom_id("q" * 70, used) for _ in range(20)}
    assert len(many) == 20
    assert all(len(x) <= 64 for x in many)


def test_render_template() -> None:
    rec = {"a": "A", "n": 3, "none": None, "obj": {"k": [1, {"z": "deep"}]}, "x.y": "dotted"}
    assert render_template("{a}-{n}-{none}-{{lit}}", rec) == "A-3--{lit}"
    assert render_template("{obj.k.1.z} {x.y} {obj}", rec) == 'deep dotted {"k":[1,{"z":"deep"}]}'
    with pytest.raises(MissingField) as exc:
        render_template("{missing}", rec)
    assert exc.value.field == "missing"
    for bad in ("{", "}", "{}", "a { b", "x}y"):
        with pytest.raises(TemplateError):
            render_template(bad, rec)


def test_requests_from_prompts() -> None:
    opts = ImportOptions(model="claude-haiku-4-5", max_tokens=50, system="S", template="Q: {text}")
    reqs = requests_from_prompts(["one", "two"], opts)
    assert reqs == [
        {
            "custom_id": "row-000001",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 50,
                "system": "S",
                "messages": [{"role": "user", "content": "Q: one"}],
            },
        },
        {
            "custom_id": "row-000002",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 50,
                "system": "S",
                "messages": [{"role": "user", "content": "Q: two"}],
            },
        },
    ]
    assert all(validate_request(r) == [] for r in reqs)
    no_model = requests_from_prompts(["x"], ImportOptions())
    assert [i.message for i in validate_request(no_model[0])] == [
        "params has no 'model'.",
        "params has no 'max_tokens'.",
    ]


def _one(tmp_path: Path, params: dict[str, Any], name: str = "one.jsonl") -> ImportReport:
    src = tmp_path / name
    src.write_bytes(orjson.dumps({"custom_id": "a", "params": params}) + b"\n")
    return analyse(src, ImportOptions(), work_dir=tmp_path / "work")


def _haiku(max_tokens: Any = 100, content: Any = "hi", model: str = "claude-haiku-4-5") -> Any:
    return {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": content}],
    }


def test_max_tokens_as_a_whole_float_is_sent_as_a_whole_number(tmp_path: Path) -> None:
    src = tmp_path / "f.jsonl"
    src.write_bytes(
        b'{"custom_id":"a","params":{"model":"claude-haiku-4-5","max_tokens":100.0,'
        b'"messages":[{"role":"user","content":"hi"}]}}\n'
    )
    r = analyse(src, ImportOptions(), work_dir=tmp_path / "work")
    assert r.ok, r.issues
    assert not r.issues
    part = (tmp_path / "work" / "part-0001.jsonl").read_bytes()
    assert b'"max_tokens":100,' in part


@pytest.mark.parametrize(
    ("raw", "model", "message"),
    [
        (
            b"1e9",
            "claude-haiku-4-5",
            "max_tokens 1,000,000,000 is above 64,000, the maximum output of claude-haiku-4-5.",
        ),
        (
            b"1e9",
            "claude-new-9",
            "max_tokens 1,000,000,000 is above 300,000, the largest output of any model batchtop "
            "knows; the API will most likely refuse it.",
        ),
        (b"100.5", "claude-haiku-4-5", "max_tokens must be a whole number, not 100.5."),
    ],
)
def test_max_tokens_numbers_get_sensible_messages(
    tmp_path: Path, raw: bytes, model: str, message: str
) -> None:
    src = tmp_path / "f.jsonl"
    src.write_bytes(
        b'{"custom_id":"a","params":{"model":"'
        + model.encode()
        + b'","max_tokens":'
        + raw
        + b',"messages":[{"role":"user","content":"hi"}]}}\n'
    )
    r = analyse(src, ImportOptions(), work_dir=tmp_path / "work")
    assert message in [i.message for i in r.issues if i.field == "params.max_tokens"], r.issues


def test_huge_prompt_and_image_are_measured_against_the_api_limits(tmp_path: Path) -> None:
    r = _one(tmp_path, _haiku(content="word " * 8_000_000))  # 40 MB of text
    got = [(i.severity, i.line, i.message.split(";")[0].split(",")[0]) for i in r.issues]
    assert ("warning", 1, "This request is 40.0 MB") in got, r.issues
    # the model's own window, from the model catalogue
    assert any("more than the context window of 'claude-haiku-4-5'" in i.message for i in r.issues)
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "A" * (10 * 1024 * 1024)},
    }
    r = _one(tmp_path, _haiku(content=[image, {"type": "text", "text": "what is it?"}]))
    assert [(i.severity, i.field) for i in r.errors] == [("error", "params.messages.0.content.0")]
    assert "the API refuses images over 5 MB" in r.errors[0].message


def test_an_empty_template_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "p.txt"
    src.write_text("hello\n")
    r = analyse(
        src,
        ImportOptions(template="", model="claude-haiku-4-5", max_tokens=5),
        work_dir=tmp_path / "work",
    )
    assert not r.ok
    assert [(i.field, i.message.split(":")[0]) for i in r.errors] == [
        ("template", "The template is empty")
    ]


def test_an_empty_id_field_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "r.jsonl"
    src.write_text('{"id": "a", "text": "hello"}\n')
    opts = ImportOptions(id_field="", model="claude-haiku-4-5", max_tokens=5)
    r = analyse(src, opts, work_dir=tmp_path / "work")
    assert not r.ok
    assert [(i.field, i.message) for i in r.errors] == [
        ("id_field", "The id field is empty: name a field, or none.")
    ]

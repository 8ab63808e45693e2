"""Bad input: every file of the corpus gets a clear, located message and nothing is sent.

The small files live in `corpus/` (written by hand, see `corpus/README.md`); the big ones
(a 50 MB single line, 100,001 requests) are generated in tmp_path. Each file goes through
the real command line (`batchtop submit FILE --dry-run`, a subprocess: exit 1, the located
issue on stdout, one `batchtop: error:` line on stderr, no traceback) and through
`BatchService.analyse` in-process (a report whose issue carries the same location). The
emulator sees no create call at all. Inputs that are valid though awkward (CRLF, blank lines,
UTF-16 with a BOM, 100,001 requests) are accepted with the right request count.

A hypothesis test adds a structured angle to tests/core/test_importer_fuzz.py: native JSONL
where chosen lines get one known defect (a wrong type, a missing or malformed field, a
duplicate custom_id); the report must flag exactly those lines, and the prepared parts must
hold exactly the untouched requests, byte for byte.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import UserError
from batchtop.core.importer import analyse
from batchtop.core.models import ImportOptions, ImportReport
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import CLI, cli_env

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Case:
    file: str
    locations: tuple[str, ...] = ()  # "line" or "line:col" or "line (field)" after the path
    needles: tuple[str, ...] = ()  # words the messages must hold
    args: tuple[str, ...] = ()
    accepted: int | None = None  # valid input: the request count expected


CASES = [
    Case("truncated.jsonl", ("3:41",), ("not valid JSON",)),
    Case("truncated.json", ("1",), ("truncated",)),
    Case("invalid_utf8.jsonl", ("2:125",), ("not valid UTF-8", "0xe9")),
    Case("missing_fields.jsonl", ("2", "3 (custom_id)", "4 (params.max_tokens)"), ("params",)),
    Case(
        "wrong_types.jsonl",
        ("2 (custom_id)", "3 (params)", "4 (params.max_tokens)", "5", "6", "7"),
        ("must be a string", "JSON object"),
    ),
    Case(
        "bad_custom_ids.jsonl",
        tuple(f"{n} (custom_id)" for n in range(2, 7)),
        ("65 characters", "only letters, digits"),
    ),
    Case("duplicate_custom_ids.jsonl", ("3 (custom_id)", "5 (custom_id)"), ("used twice",)),
    Case("empty.jsonl", (), ("empty",)),
    Case("ragged.csv", ("3", "4"), ("2 cells", "5 cells")),
    Case(
        "missing_column.csv",
        ("2 (template)",),
        ("{body}", "no field 'body'", "id, text"),
        args=("--template", "Summarise {body}"),
    ),
    Case("crlf.jsonl", accepted=3),
    Case("blank_lines.jsonl", accepted=2),
    Case("utf16_bom.jsonl", accepted=2),
]


def generate_big(tmp: Path) -> list[Case]:
    """The generated members of the corpus (too big to commit)."""
    junk = tmp / "fifty_mb_line.jsonl"  # a 50 MB line that is not JSON (a minified dump cut)
    with junk.open("wb") as fh:
        fh.write(b'{"custom_id": "big", "params": ')
        fh.write(b"x" * (50 * 1024 * 1024))
    many = tmp / "requests_100001.jsonl"
    with many.open("wb") as fh:
        for i in range(100_001):
            fh.write(
                b'{"custom_id":"r-%d","params":{"model":"claude-haiku-4-5","max_tokens":16,'
                b'"messages":[{"role":"user","content":"hi %d"}]}}\n' % (i, i)
            )
    return [
        Case(str(junk), ("1:32",), ("not valid JSON",)),
        Case(str(many), accepted=100_001),
    ]


def drop_dac_capabilities() -> None:
    """preexec_fn: without CAP_DAC_OVERRIDE/READ_SEARCH even root obeys file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def submit_dry_run(
    path: str, args: tuple[str, ...], cwd: Path, env: dict[str, str], *, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "submit", path, *args, "--dry-run"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        preexec_fn=drop_dac_capabilities if unprivileged and os.geteuid() == 0 else None,
    )


def check_rejected(case: Case, path: str, proc: subprocess.CompletedProcess[str]) -> None:
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 1, (case.file, proc.returncode, out[-1500:], err[-1500:])
    assert "Traceback" not in out + err, case.file
    err_lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(err_lines) == 1, (case.file, err)
    assert err_lines[0].startswith("batchtop: error: "), err
    assert "nothing was submitted" in err_lines[0]
    for loc in case.locations:
        assert f"error: {path}:{loc}" in out, (case.file, loc, out[-3000:])
    for needle in case.needles:
        assert needle in out + err, (case.file, needle)


def check_accepted(case: Case, proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (case.file, proc.stdout[-1500:], proc.stderr[-1500:])
    assert f"{case.accepted:,} requests" in proc.stdout
    assert "dry run: nothing was submitted." in proc.stdout
    assert "error" not in proc.stdout.lower()


def test_corpus_through_the_cli(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """Every corpus file, as a user would run it: clear located messages, nothing sent."""
    env = cli_env(tmp_path, base_url=emulator.base_url)
    work = tmp_path / "in"
    work.mkdir()
    cases = [(c, str(CORPUS / c.file)) for c in CASES]
    cases += [(c, c.file) for c in generate_big(work)]
    # a directory, and a file that cannot be read (see test_unreadable_file)
    folder = work / "a_directory.jsonl"
    folder.mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = list(pool.map(lambda cp: submit_dry_run(cp[1], cp[0].args, tmp_path, env), cases))
        dir_proc = submit_dry_run(str(folder), (), tmp_path, env)
    outcomes: dict[str, str] = {}
    for (case, path), proc in zip(cases, procs, strict=True):
        if case.accepted is None:
            check_rejected(case, path, proc)
            outcomes[Path(path).name] = "rejected, located"
        else:
            check_accepted(case, proc)
            outcomes[Path(path).name] = f"accepted ({case.accepted:,} requests)"
    assert dir_proc.returncode == 1
    assert "Traceback" not in dir_proc.stderr
    expected = f"batchtop: error: {folder} is a directory, not an input file."
    assert dir_proc.stderr.strip() == expected
    outcomes[folder.name] = "rejected (a directory)"
    print(f"\ncorpus outcomes ({len(outcomes)} files): {outcomes}")
    # a dry run sends nothing: its only call reads the model catalogue (retired models are
    # checked against what the API says), and a path that cannot be read makes none at all
    assert emulator.stats.count("create") == 0
    assert emulator.stats.total == emulator.stats.count("models")


def test_unreadable_file(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """chmod 000. We run as root, whose CAP_DAC_OVERRIDE ignores file modes: the CLI child
    drops that capability (and CAP_DAC_READ_SEARCH) so the kernel really refuses the read."""
    src = tmp_path / "secret.jsonl"
    shutil.copy(CORPUS / "crlf.jsonl", src)
    src.chmod(0)
    try:
        env = cli_env(tmp_path, base_url=emulator.base_url)
        proc = submit_dry_run(str(src), (), tmp_path, env, unprivileged=True)
    finally:
        src.chmod(0o600)
    check_rejected(Case(src.name, (), ("Cannot read the file: Permission denied",)), str(src), proc)
    assert proc.stderr == (  # one line, no report of 0 requests in a guessed format
        f"batchtop: error: {src}: Cannot read the file: Permission denied; nothing was submitted.\n"
    )
    assert emulator.stats.total == 0


def test_directory_and_missing_file_in_process(tmp_path: Path) -> None:
    """The service side of the same promise: `analyse` reports, it never raises."""
    report = analyse(tmp_path, ImportOptions(), work_dir=tmp_path / "w1")
    assert report.errors
    assert str(tmp_path) in report.errors[0].location()
    report = analyse(tmp_path / "nope.jsonl", ImportOptions(), work_dir=tmp_path / "w2")
    assert report.errors
    assert not report.ok


@pytest.mark.parametrize("case", [c for c in CASES if c.accepted is None], ids=lambda c: c.file)
async def test_corpus_through_the_service(
    case: Case, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    service = BatchService(
        store, Settings(), api_key="test-key", base_url=emulator.base_url, now=emulator.clock.now
    )
    try:
        opts = ImportOptions(template=case.args[1] if case.args else None)
        report = await service.analyse(CORPUS / case.file, opts)
        assert report.errors, case.file
        locations = {i.location() for i in report.errors}
        for loc in case.locations:
            assert f"{CORPUS / case.file}:{loc}" in locations, (loc, locations)
        with pytest.raises(UserError, match=r"fix (it|them) before submitting|holds no requests"):
            await service.submit(report)
        assert not store.list_jobs()
        assert not store.open_intents()
    finally:
        await service.close()
        store.close()
    assert emulator.stats.count("create") == 0


# --- structured fuzz: known defects on known lines ------------------------------------------


def _valid(cid: str, n: int) -> dict[str, Any]:
    return {
        "custom_id": cid,
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 16 + n,
            "messages": [{"role": "user", "content": f"prompt {n} ✓ «{cid}»"}],
        },
    }


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def apply(req: dict[str, Any]) -> None:
        target: Any = req
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _drop(path: tuple[str | int, ...]) -> Any:
    def apply(req: dict[str, Any]) -> None:
        target: Any = req
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return apply


junk_values = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# (defect, field the report names) — each known to be an error in the real API too
defects = st.one_of(
    st.tuples(junk_values.map(lambda v: _set(("custom_id",), v)), st.just("custom_id")),
    st.tuples(
        st.sampled_from(["", "a b", "x" * 65, "é", "semi;colon", "new\nline"]).map(
            lambda v: _set(("custom_id",), v)
        ),
        st.just("custom_id"),
    ),
    st.tuples(
        st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2), st.integers()).map(
            lambda v: _set(("params",), v)
        ),
        st.just("params"),
    ),
    st.tuples(
        st.one_of(
            st.text(max_size=4),
            st.integers(max_value=0),
            st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
            st.booleans(),
            st.none(),
        ).map(lambda v: _set(("params", "max_tokens"), v)),
        st.just("params.max_tokens"),
    ),
    st.sampled_from(["max_tokens", "messages", "model"]).map(
        lambda k: (_drop(("params", k)), f"params.{k}")
    ),
    st.tuples(
        st.one_of(st.integers(), st.just(""), st.lists(st.text(max_size=2), max_size=2)).map(
            lambda v: _set(("params", "model"), v)
        ),
        st.just("params.model"),
    ),
    st.tuples(
        st.one_of(st.text(max_size=5), st.just([]), st.integers()).map(
            lambda v: _set(("params", "messages"), v)
        ),
        st.just("params.messages"),
    ),
    st.tuples(
        st.sampled_from(["robot", "system", "", "USER"]).map(
            lambda v: _set(("params", "messages", 0, "role"), v)
        ),
        st.just("params.messages.0"),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    n=st.integers(1, 25),
    broken=st.dictionaries(st.integers(0, 24), defects, max_size=6),
    duplicates=st.sets(st.integers(1, 24), max_size=3),
    crlf=st.booleans(),
)
def test_known_defects_are_flagged_on_their_lines_only(
    tmp_path_factory: pytest.TempPathFactory,
    n: int,
    broken: dict[int, tuple[Any, str]],
    duplicates: set[int],
    crlf: bool,
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    requests = [_valid(f"id-{i}", i) for i in range(n)]
    bad_lines: set[int] = set()
    for index, (defect, _field) in broken.items():
        if index < n:
            defect(requests[index])
            bad_lines.add(index + 1)
    for index in duplicates:
        if 0 < index < n and (index + 1) not in bad_lines and 1 not in bad_lines:
            requests[index]["custom_id"] = requests[0]["custom_id"]
            bad_lines.add(index + 1)
    newline = b"\r\n" if crlf else b"\n"
    path = tmp / "fuzz.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + newline for r in requests))
    report: ImportReport = analyse(path, ImportOptions(), work_dir=tmp / "work")
    flagged = {i.line for i in report.errors}
    assert flagged == bad_lines, [(i.line, i.field, i.message) for i in report.errors]
    for index, (_defect, field) in broken.items():
        if index < n:
            fields = {i.field for i in report.errors if i.line == index + 1}
            assert any(f is None or f == field or f.startswith(field) for f in fields), (
                field,
                fields,
            )
    assert report.request_count == n - len(bad_lines)
    if report.request_count and report.prepared_path is not None:
        prepared = [
            orjson.loads(line)
            for part in sorted(report.prepared_path.glob("part-*.jsonl"))
            if not part.name.endswith(".manifest.jsonl")
            for line in part.read_bytes().splitlines()
            if line.strip()
        ]
        expected = [r for i, r in enumerate(requests, start=1) if i not in bad_lines]
        assert prepared == expected

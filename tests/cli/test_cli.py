"""The `batchtop` command line, run as a real subprocess against the in-process emulator."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from cli_support import CLI, run
from waiting import wait_until


def assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("batchtop: error: ")
    assert needle in lines[0]


def test_thousand_articles_flow(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    articles = [{"id": i, "content": f"Article number {i}."} for i in range(1000)]
    (tmp_path / "articles.json").write_text(json.dumps(articles))
    proc = run(
        "submit",
        "articles.json",
        "--template",
        "Summarise: {content}",
        "--model",
        "claude-haiku-4-5",
        "--max-tokens",
        "200",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1,000 requests" in proc.stdout
    assert "estimated cost" in proc.stdout
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", proc.stdout)

    watch = subprocess.Popen(
        [*CLI, "watch", "--interval", "0.1"],
        cwd=tmp_path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: emulator_env.stats.count("list") >= 2, timeout=90
        )  # watch saw it in progress
        emulator_env.advance(3600)
        out, err = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    assert f"{bid} ended: 1,000 results downloaded" in err  # a message
    assert "ended:" not in out  # stdout holds the table only

    # stdout is not a terminal and there is no --out: the data goes to stdout (> r.json)
    proc = run("results", bid, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.glob("*.json")] == ["articles.json"]  # no file written
    data = json.loads(proc.stdout)
    assert len(data) == 1000
    assert all(isinstance(v, str) and v for v in data.values())

    proc = run("ls", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["id"] == bid
    assert row["processing_status"] == "ended"
    assert row["results_indexed"] == 1000

    proc = run("export", bid, "--format", "csv", "--out", "out.csv", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == 1000
    assert (tmp_path / "out.csv").exists()


def test_dry_run_and_validation_errors(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    good = tmp_path / "prompts.txt"
    good.write_text("hello\nworld\n")
    proc = run("submit", str(good), "--dry-run", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["requests"] == 2
    assert report["submitted"] is False
    assert emulator_env.stats.count("create") == 0

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"custom_id": "ok-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 10,'
        ' "messages": [{"role": "user", "content": "hi"}]}}\n{broken\n'
    )
    proc = run("submit", str(bad), cwd=tmp_path)
    assert proc.returncode == 1
    assert "bad.jsonl:2" in proc.stdout  # the report names file:line
    assert "Traceback" not in proc.stderr
    assert "nothing was submitted" in proc.stderr
    assert emulator_env.stats.count("create") == 0


def test_error_paths_are_one_line(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    assert_one_line_error(run("submit", "missing.jsonl", cwd=tmp_path), "No such file")
    assert_one_line_error(run("results", "msgbatch_nope", cwd=tmp_path), "msgbatch_nope")
    # a batch the API does not know is said before anything is asked (no --yes needed)
    assert_one_line_error(run("cancel", "msgbatch_nope", cwd=tmp_path), "msgbatch_nope")
    usage = run("submit", cwd=tmp_path)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr
    version = run("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.startswith("batchtop ")


def test_bad_key_and_no_key(tmp_path: Path) -> None:
    config = EmulatorConfig(api_keys=frozenset({"good-key"}))
    with run_in_thread(config, ManualClock(datetime.now(UTC))) as emu:
        env = dict(os.environ, ANTHROPIC_BASE_URL=emu.base_url, ANTHROPIC_API_KEY="wrong")
        assert_one_line_error(run("ls", cwd=tmp_path, env=env), "The API key was rejected (401)")
        env.pop("ANTHROPIC_API_KEY")
        nokey = run("watch", cwd=tmp_path, env=env)
        assert_one_line_error(nokey, "No API key: set ANTHROPIC_API_KEY or run batchtop --demo")
        # store-only commands still work without a key
        assert run("ls", cwd=tmp_path, env=env).returncode == 0
        refused = dict(env, ANTHROPIC_API_KEY="x", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
        proc = run("watch", cwd=tmp_path, env=refused)
        assert_one_line_error(proc, "Cannot reach http://127.0.0.1:9: connection refused")


def cli_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (the SDK is already imported here: much faster)."""
    from batchtop.tui.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_actions_label_cancel_delete_retry(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    emulator_env.config.rate = 0.001
    src = tmp_path / "p.txt"
    src.write_text("one\ntwo\n")
    code, out, err = cli_main(capsys, "submit", str(src), "--json")
    assert code == 0, err
    (bid,) = json.loads(out)["batch_ids"]
    code, out, err = cli_main(capsys, "label", bid, "my label")
    assert (code, out) == (0, "")  # its message goes to stderr: stdout is for data
    assert f"{bid}: label set" in err
    code, out, _ = cli_main(capsys, "ls", "--json", "--active")
    row = json.loads(out)[0]
    assert row["label"] == "my label"
    assert row["cost_is_estimate"] is True  # nothing is known to be billed yet
    assert row["cost_usd"] > 0
    code, out, _ = cli_main(capsys, "ls", "--offline")
    assert "~<$0.01" in out  # an estimate is marked as one (below a cent: no 4 decimals)
    code, _, err = cli_main(capsys, "delete", bid, "--yes")
    assert code == 1
    assert "cancel it" in err
    code, out, err = cli_main(capsys, "cancel", bid, "--yes")
    assert code == 0, err
    assert "canceling" in err  # a message: stdout is for data (and --json)
    assert out == ""
    emulator_env.advance(600)
    code, out, _ = cli_main(capsys, "ls", "--json")
    (row,) = [r for r in json.loads(out) if r["id"] == bid]
    assert row["request_counts"]["canceled"] == 2
    # canceled requests are not billed: no cost, no "saved", not an estimate
    assert (row["cost_usd"], row["cost_is_estimate"], row["savings_usd"]) == (0.0, False, 0.0)
    code, out, err = cli_main(capsys, "retry", bid, "--json")
    assert code == 0, err  # the canceled requests go out again
    assert len(json.loads(out)["batch_ids"]) == 1
    code, out, err = cli_main(capsys, "delete", bid, "--yes")
    assert code == 0, err
    assert (out, f"deleted {bid}" in err) == ("", True)  # a message, on stderr
    code, out, _ = cli_main(capsys, "ls", "--json", "--offline")
    assert all(r["id"] != bid for r in json.loads(out))  # deleted: hidden from ls
    code, out, err = cli_main(capsys, "reconcile")
    assert (out, err.strip()) == ("", "nothing to reconcile")  # a message, on stderr


def test_retry_says_how_many_it_sends_and_leaves_out_what_would_fail_again(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchtop.core.emulator import Rule

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "p.txt"
    src.write_text("".join(f"prompt {i}\n" for i in range(1, 7)))
    emulator_env.set_rules(
        [
            Rule(pattern="[12]$", outcome="errored", error_type="overloaded_error"),
            Rule(pattern="3$", outcome="errored", error_type="not_found_error"),
            Rule(pattern="4$", outcome="errored", error_type="invalid_request_error"),
        ]
    )
    code, out, err = cli_main(capsys, "submit", str(src), "--json")
    assert code == 0, err
    (bid,) = json.loads(out)["batch_ids"]
    emulator_env.set_rules([])
    emulator_env.advance(600)
    code, out, err = cli_main(capsys, "retry", bid)
    assert code == 0, err
    assert f"resending 2 requests (2 errored) of {bid}" in err, (out, err)  # before
    assert "left out: 2 requests that would fail the same way" in err
    assert "1 invalid_request_error, 1 not_found_error" in err
    assert "--include-invalid" in err
    (line,) = out.strip().splitlines()  # after: the data, on stdout
    assert line.endswith(f": 2 requests (retry of {bid})")
    code, out, err = cli_main(capsys, "retry", bid, "--include-invalid", "--json")
    assert code == 0, err
    sent = json.loads(out)
    assert sent["requests"] == 4
    assert sent["left_out"] == {}
    assert "resending 4 requests (4 errored)" in err


def test_retry_of_refusals_and_max_tokens_cuts_says_what_it_sends(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchtop.core.emulator import Rule

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "p.txt"
    src.write_text("".join(f"prompt {i}\n" for i in range(1, 6)))
    emulator_env.set_rules(
        [
            Rule(pattern="[12]$", stop_reason="refusal"),
            Rule(pattern="3$", stop_reason="max_tokens"),
        ]
    )
    code, out, err = cli_main(capsys, "submit", str(src), "--max-tokens", "100", "--json")
    assert code == 0, err
    (bid,) = json.loads(out)["batch_ids"]
    emulator_env.set_rules([])
    emulator_env.advance(600)
    code, out, err = cli_main(capsys, "retry", bid)  # not asked: nothing failed
    assert code == 1
    assert "no failed requests" in err
    code, out, err = cli_main(capsys, "retry", bid, "--refusals", "--max-tokens", "500", "--json")
    assert code == 0, err
    expected = "resending 3 requests (2 refusals, 1 max_tokens cut with max_tokens 500)"
    assert f"{expected} of {bid}" in err, err
    sent = json.loads(out)
    assert (sent["requests"], sent["refusals"], sent["max_tokens_cuts"]) == (3, 2, 1)
    code, out, err = cli_main(capsys, "retry", bid, "--max-tokens", "50")
    assert code == 1
    assert "left out: 1 max_tokens cut already at max_tokens 50 or more (not sent)" in err
    assert "give a higher max_tokens" in err


def test_betas_from_config_and_flag_are_sent_on_create_and_shown(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('betas = ["files-api-2025-04-14"]\n')
    monkeypatch.setenv("BATCHTOP_CONFIG", str(config))
    src = tmp_path / "p.txt"
    src.write_text("one\ntwo\n")
    beta = "extended-cache-ttl-2025-04-11"
    code, out, err = cli_main(capsys, "submit", str(src), "--beta", beta, "--json")
    assert code == 0, err
    sent = json.loads(out)
    (bid,) = sent["batch_ids"]
    both = ["files-api-2025-04-14", beta]
    assert sent["betas"] == both
    assert list(emulator_env.betas(bid)) == both  # the anthropic-beta header of the create
    code, out, err = cli_main(capsys, "show", bid)
    assert code == 0, err
    assert re.search(r"betas\s+files-api-2025-04-14, extended-cache-ttl-2025-04-11", out), out
    code, out, err = cli_main(capsys, "show", bid, "--json")
    assert json.loads(out)["betas"] == both
    # a name the API does not know: its refusal, in one line; a malformed one: before reading
    src.write_text("three\n")
    code, out, err = cli_main(capsys, "submit", str(src), "--beta", "no-such-beta-2020-01-01")
    assert code == 1
    assert "no-such-beta-2020-01-01" in err
    assert "anthropic-beta" in err
    code, out, err = cli_main(capsys, "submit", "missing.txt", "--beta", "two words")
    assert code == 1
    assert err.strip().splitlines() == [
        "batchtop: error: --beta: 'two words' is not an anthropic-beta name (letters, digits,"
        " '-', '_', '.'; e.g. files-api-2025-04-14)."
    ]


def test_submit_count_tokens_measures_input_tokens_and_says_so(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "p.txt"
    src.write_text("".join(f"prompt number {i}\n" for i in range(30)))
    code, out, err = cli_main(capsys, "submit", str(src), "--dry-run")
    assert code == 0, err
    assert "input tokens estimated from characters (about 4 per token)" in out
    code, out, err = cli_main(capsys, "submit", str(src), "--dry-run", "--count-tokens", "5")
    assert code == 0, err
    assert "input tokens estimated, scaled by a count_tokens sample of 5 of 30 requests" in out
    assert emulator_env.stats.count("count_tokens") == 5
    code, out, err = cli_main(capsys, "submit", str(src), "--dry-run", "--count-tokens", "--json")
    assert code == 0, err
    estimate = json.loads(out)["estimate"]
    assert estimate["input_tokens_exact"] is False
    assert estimate["input_tokens_measured"] == 20
    src.write_text("one\ntwo\n")
    code, out, err = cli_main(capsys, "submit", str(src), "--dry-run", "--count-tokens")
    assert code == 0, err
    assert "input tokens measured: count_tokens on all 2 requests" in out


def test_locate_uses_xdg_dirs(tmp_path: Path) -> None:
    proc = run("locate", "--json", cwd=tmp_path)
    assert proc.returncode == 0
    places = json.loads(proc.stdout)
    assert places["data"].startswith(str(tmp_path))
    assert places["config"].startswith(str(tmp_path))


def sigint_default() -> None:
    """Give the child Ctrl-C back: a CI job started in the background (`cmd &` in a script)
    runs with SIGINT ignored, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_without_traceback(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    emulator_env.config.rate = 0.001
    src = tmp_path / "p.txt"
    src.write_text("one\n")
    assert run("submit", str(src), cwd=tmp_path).returncode == 0
    watch = subprocess.Popen(
        [*CLI, "watch", "--interval", "0.1"],
        cwd=tmp_path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    try:
        wait_until(lambda: emulator_env.stats.count("list") >= 2, timeout=90)
        watch.send_signal(signal.SIGINT)
        _out, err = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 130
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[1mr [b]x[/b]", "\\x1b[1mr [b]x[/b]"),  # escapes visible, markup literal
        ("a\nb\tc", "a\\x0ab\\x09c"),  # a label is one line: its breaks shown, not "a b c"
    ],
)
def test_outside_text_is_escaped(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    text: str,
    shown: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "p.txt"
    src.write_text("one\n")
    code, out, err = cli_main(capsys, "submit", str(src), "--json")
    assert code == 0, err
    (bid,) = json.loads(out)["batch_ids"]
    # a label batchtop refuses now (control characters) that a store kept from before holds
    code, out, _ = cli_main(capsys, "locate", "--json")
    with sqlite3.connect(json.loads(out)["store"]) as conn:
        conn.execute("UPDATE batch_local SET label = ? WHERE batch_id = ?", (text, bid))
    code, out, _ = cli_main(capsys, "ls", "--offline")
    assert "\x1b" not in out
    assert shown in out
    assert bid in out
    code, out, _ = cli_main(capsys, "show", bid, "--offline")
    (label_line,) = [line for line in out.splitlines() if "label" in line]
    assert label_line.strip().split(maxsplit=1) == ["label", shown], out  # on its row, whole


def test_emulator_subcommand_prints_its_url_first(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*CLI, "emulator", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first), first
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 130)
    assert "Traceback" not in err


def test_job_results_and_filtered_export(
    emulator_env: EmulatorHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchtop.core import paths
    from batchtop.core.emulator import Rule

    monkeypatch.chdir(tmp_path)
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("max_requests_per_batch = 3\n")
    emulator_env.set_rules([Rule(pattern="0002$", outcome="errored", error_type="api_error")])
    src = tmp_path / "p.txt"
    src.write_text("".join(f"prompt {i}\n" for i in range(5)))
    code, out, err = cli_main(capsys, "submit", str(src), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["batch_ids"]) == 2  # split by the configured limit
    job = data["job_id"]
    emulator_env.advance(3600)
    code, out, err = cli_main(capsys, "results", job, "--format", "jsonl", "--out", "all.jsonl")
    assert code == 0, err
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == 5
    code, out, err = cli_main(capsys, "results", job, "--out", "all.csv")  # format from the name
    assert code == 0, err
    assert (tmp_path / "all.csv").read_text().startswith("custom_id,status,")
    code, out, err = cli_main(
        capsys, "export", job, "--status", "errored", "--format", "jsonl", "--out", "-"
    )
    assert code == 0, err
    (line,) = out.splitlines()
    assert json.loads(line)["result"]["type"] == "errored"


def test_bad_config_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("refresh_interval_s = 'soon'\n")
    monkeypatch.setenv("BATCHTOP_CONFIG", str(bad))
    code, _out, err = cli_main(capsys, "ls", "--offline")
    assert code == 1
    assert err.count("\n") == 1
    assert "refresh_interval_s" in err
    assert str(bad) in err


def test_asyncio_noise_stays_off_stderr_unless_debugging(tmp_path: Path) -> None:
    """What asyncio logs while Ctrl-C stops a run ("Exception in callback … Traceback") is
    not shown; with BATCHTOP_DEBUG it is."""
    code = (
        "import logging\n"
        "from batchtop.tui.cli.entry import setup_logging\n"
        "setup_logging()\n"
        "logging.getLogger('asyncio').error('Exception in callback x')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BATCHTOP_DEBUG"}
    quiet = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    loud = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "BATCHTOP_DEBUG": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Exception in callback x" in loud.stderr


FAKE_KEY = "sk-ant-" + "fake-for-redaction"  # the key's shape, built: nothing like a real one


def test_the_dashboards_debug_log_goes_to_a_private_file_not_the_screen(tmp_path: Path) -> None:
    """With BATCHTOP_DEBUG the dashboard logs to `<log dir>/debug.log` (0600, key redacted):
    a line on stderr would be drawn over the screen."""
    code = (
        "import logging\n"
        "from batchtop.tui.cli.entry import debug_log_to_file, setup_logging\n"
        "setup_logging()\n"
        "path = debug_log_to_file()\n"
        f"logging.getLogger('batchtop.poller').warning('refresh failed for {FAKE_KEY}')\n"
        "logging.getLogger('asyncio').error('Exception in callback y')\n"
        "print(path)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BATCHTOP_DEBUG"}
    env["BATCHTOP_HOME"] = str(tmp_path / "home")
    (tmp_path / "home" / "log").mkdir(parents=True)
    (tmp_path / "home" / "log" / "debug.log").write_text("an older run's lines\n")
    (tmp_path / "home" / "log" / "debug.log").chmod(0o644)  # made readable by someone
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "BATCHTOP_DEBUG": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing drawn over the dashboard
    log = Path(done.stdout.strip())
    assert log == tmp_path / "home" / "log" / "debug.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "batchtop.poller: WARNING: refresh failed for" in text
    assert "Exception in callback y" in text
    assert FAKE_KEY not in text
    assert text.startswith("an older run's lines\n")  # appended to
    off = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert off.stdout.strip() == "None"  # without BATCHTOP_DEBUG: no file

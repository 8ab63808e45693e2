"""Hostile-user findings on the command line, run as real subprocesses against the emulator."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from cli_support import config_env, run


def no_retries(tmp_path: Path) -> dict[str, str]:
    return config_env(tmp_path, "max_retries = 0\n")


def test_ls_and_show_say_when_synced_and_fail_when_the_refresh_fails(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    env = no_retries(tmp_path)
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    sent = run("submit", "p.txt", "--json", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    (bid,) = json.loads(sent.stdout)["batch_ids"]
    fresh = run("ls", "--json", cwd=tmp_path, env=env)
    assert fresh.returncode == 0, fresh.stderr
    (row,) = json.loads(fresh.stdout)
    synced = datetime.fromisoformat(row["synced_at"])
    assert "synced " in fresh.stderr

    emulator_env.stop()  # the API is unreachable from now on
    for args in (("ls",), ("ls", "--json"), ("show", bid), ("show", bid, "--json")):
        proc = run(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 3, (args, proc.stderr)  # the refresh failed: stale data
        assert "Traceback" not in proc.stderr
        assert "showing cached state" in proc.stderr
        assert f"last synced {synced:%Y-%m-%d %H:%M:%S} UTC" in proc.stderr, proc.stderr
        assert bid in proc.stdout
        if "--json" in args:
            data = json.loads(proc.stdout)
            data = data[0] if isinstance(data, list) else data
            assert datetime.fromisoformat(data["synced_at"]) == synced
            assert data["seen_at"] is not None
    # the local store asked for explicitly: no call, exit 0, still dated
    for args in (("ls", "--offline", "--json"), ("show", bid, "--offline")):
        proc = run(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "showing cached state" not in proc.stderr
        assert re.search(r"last synced \S+ \S+ UTC \(\S+ ago\)", proc.stderr), proc.stderr


def _old_endpoint_dir_name(base_url: str) -> str:
    """How the stores' directory of an endpoint was named with the URL's credentials in it."""
    import hashlib
    from urllib.parse import urlsplit

    url = base_url.rstrip("/")
    host = urlsplit(url).netloc
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', host)[:60]}-{digest}"


def test_a_password_in_the_base_url_is_never_shown_nor_written(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import sqlite3

    secret = "pa55-w0rd-XYZ"
    port = emulator.base_url.rsplit(":", 1)[1]
    url = f"http://alice:{secret}@127.0.0.1:{port}"
    env = dict(no_retries(tmp_path), ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY="sk-test-key")
    data = Path(os.environ["XDG_DATA_HOME"])

    def written() -> list[str]:
        return [str(p) for p in data.rglob("*") if secret in str(p)]

    for args in (("locate",), ("locate", "--json"), ("ls", "--offline"), ("ls",)):
        proc = run(*args, cwd=tmp_path, env=env)
        assert "Traceback" not in proc.stderr
        assert secret not in proc.stdout + proc.stderr, args
    located = json.loads(run("locate", "--json", cwd=tmp_path, env=env).stdout)
    assert located["endpoint"] == f"http://[redacted]@127.0.0.1:{port}"
    assert secret not in located["store"]
    assert written() == []

    # another password, same endpoint: the same store (the scope does not depend on it)
    other = dict(env, ANTHROPIC_BASE_URL=url.replace(secret, "another-one"))
    assert (
        json.loads(run("locate", "--json", cwd=tmp_path, env=other).stdout)["store"]
        == (located["store"])
    )

    # a store kept where the password named its directory moves, nothing lost
    store_file = Path(located["store"])
    with sqlite3.connect(store_file) as conn:
        conn.execute("INSERT INTO store_meta (key, value) VALUES ('marker', 'kept')")
    conn.close()
    new_dir = store_file.parent.parent
    old_dir = new_dir.parent / _old_endpoint_dir_name(url)
    new_dir.rename(old_dir)
    assert written() != []
    proc = run("ls", "--offline", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert written() == []
    assert not old_dir.exists()
    with sqlite3.connect(store_file) as conn:
        assert conn.execute("SELECT value FROM store_meta WHERE key = 'marker'").fetchone() == (
            "kept",
        )
    conn.close()


def test_redact_masks_the_credentials_of_every_url() -> None:
    from batchtop.core.redact import redact

    line = "Cannot reach http://bob:hunter2hunter2@proxy:8080/v1 (or https://tok3n@h/)"
    assert redact(line) == "Cannot reach http://[redacted]@proxy:8080/v1 (or https://[redacted]@h/)"
    assert redact("write to ops@example.com") == "write to ops@example.com"


def test_reconcile_deletes_only_orphaned_files_older_than_the_minimum_age(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import openai

    env = dict(
        no_retries(tmp_path),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_emulator.base_url,
    )
    client = openai.OpenAI(api_key="test-key", base_url=openai_emulator.base_url)
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    sent = run(
        "submit",
        "--provider",
        "openai",
        "p.txt",
        "--model",
        "gpt-4o-mini",
        "--yes",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert sent.returncode == 0, sent.stderr
    job = json.loads(sent.stdout)["job_id"]
    used = {f.id for f in client.files.list(purpose="batch")}
    # another process of this data directory between its upload and its create (or a
    # crash between the two): a file named after this store's job, no batch using it
    upload = client.files.create(
        file=(f"batchtop-{job}_2_99.jsonl", b'{"custom_id": "a"}\n'), purpose="batch"
    )

    def ours() -> set[str]:
        return {f.id for f in client.files.list(purpose="batch")} - used

    proc = run(
        "reconcile", "--provider", "openai", "--delete-orphans", "--json", cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)
    assert (entry["file_id"], entry["state"]) == (upload.id, "too recent to delete")
    assert ours() == {upload.id}
    text = run("reconcile", "--provider", "openai", "--delete-orphans", cwd=tmp_path, env=env)
    assert "too recent to delete" in text.stdout, text.stderr

    openai_emulator.advance(3601)  # server time: the upload is now over an hour old
    proc = run(
        "reconcile", "--provider", "openai", "--delete-orphans", "--json", cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)
    assert entry["state"] == "deleted"
    assert ours() == set()


def test_a_batch_of_a_model_without_a_price_costs_unknown_not_zero(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    dry = run("submit", "p.txt", "--model", "claude-mythos-preview", "--dry-run", cwd=tmp_path)
    assert "estimated cost: unknown (no price for: claude-mythos-preview)" in dry.stdout
    assert "$0.00" not in dry.stdout
    sent = run(
        "submit", "p.txt", "--model", "claude-mythos-preview", "--yes", "--json", cwd=tmp_path
    )
    assert sent.returncode == 0, sent.stderr
    (bid,) = json.loads(sent.stdout)["batch_ids"]
    (row,) = json.loads(run("ls", "--offline", "--json", cwd=tmp_path).stdout)
    assert (row["cost_usd"], row["cost_unknown"]) == (None, True)
    table = run("ls", "--offline", cwd=tmp_path).stdout
    assert "unknown" in table
    assert "$0.00" not in table
    shown = run("show", bid, "--offline", cwd=tmp_path).stdout
    assert re.search(r"^cost\s+unknown\s*$", shown, re.M), shown


def test_one_valid_request_is_said_in_the_singular(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    good = {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    }
    lines = [
        json.dumps({"custom_id": "ok-1", "params": good}),
        json.dumps({"custom_id": "bad-1", "params": {**good, "max_tokens": 0}}),
    ]
    (tmp_path / "one.jsonl").write_text("\n".join(lines) + "\n")
    proc = run("submit", "one.jsonl", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "batchtop: error: 1 error in one.jsonl: nothing was submitted"
        " (--skip-invalid sends its 1 valid request alone)."
    )


def test_a_prompt_beyond_the_models_context_window_is_warned_on_its_line(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    from batchtop.core.model_catalog import builtin_catalog

    info = builtin_catalog().lookup("claude-haiku-4-5")
    assert info is not None
    assert info.max_input_tokens is not None
    window = info.max_input_tokens  # from the catalogue, as batchtop reads it
    long_text = "word " * (window + 1000)  # about 1.25 tokens per word: over the window
    (tmp_path / "p.txt").write_text(f"short one\n{long_text}\n")
    params = {"model": "claude-haiku-4-5", "max_tokens": 8}
    lines = [
        json.dumps(
            {
                "custom_id": "a",
                "params": {**params, "messages": [{"role": "user", "content": "hi"}]},
            }
        ),
        json.dumps(
            {
                "custom_id": "b",
                "params": {**params, "messages": [{"role": "user", "content": long_text}]},
            }
        ),
    ]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    for name, args in (("p.txt", ("--model", "claude-haiku-4-5")), ("p.jsonl", ())):
        proc = run("submit", name, *args, "--dry-run", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        warned = [line for line in proc.stdout.splitlines() if "context window" in line]
        assert len(warned) == 1, proc.stdout
        assert warned[0].startswith(f"warning: {name}:2: This prompt is about "), warned
        assert f"context window of 'claude-haiku-4-5' ({window:,} tokens)" in warned[0]

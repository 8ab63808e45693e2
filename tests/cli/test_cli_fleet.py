"""The command line over every provider whose key is set, as real `batchtop` processes against
both emulators (Anthropic and OpenAI) on 127.0.0.1: `ls` and `watch` show both, a command
given an id finds the provider that owns it, `--provider` restricts to one."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import run
from test_cli import assert_one_line_error

pytest.importorskip("openai")


@dataclass
class Both:
    env: dict[str, str]
    cwd: Path
    anthropic: EmulatorHandle
    openai: EmulatorHandle
    anthropic_id: str
    openai_id: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(*args, cwd=self.cwd, env=self.env)

    def advance(self, seconds: float) -> None:
        self.anthropic.advance(seconds)
        self.openai.advance(seconds)


@pytest.fixture
def both(emulator: EmulatorHandle, openai_emulator: EmulatorHandle, tmp_path: Path) -> Both:
    """Both keys set (the provider setting is the default, anthropic), one batch submitted
    to each provider."""
    env = dict(os.environ)
    env |= {
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": emulator.base_url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": openai_emulator.base_url,
    }
    (tmp_path / "prompts.txt").write_text("Name a colour.\nName a fruit.\nName a tree.\n")
    ids = []
    for provider, model in (("anthropic", "claude-haiku-4-5"), ("openai", "gpt-4o-mini")):
        proc = run(
            "submit",
            "--provider",
            provider,
            "prompts.txt",
            "--model",
            model,
            "--label",
            f"{provider} prompts",
            "--yes",
            "--json",
            cwd=tmp_path,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        (batch_id,) = json.loads(proc.stdout)["batch_ids"]
        ids.append(batch_id)
    return Both(env, tmp_path, emulator, openai_emulator, *ids)


def test_ls_shows_every_provider_with_a_key(both: Both) -> None:
    proc = both.run("ls", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["id"]: row["provider"] for row in json.loads(proc.stdout)}
    assert rows == {both.anthropic_id: "anthropic", both.openai_id: "openai"}

    proc = both.run("ls")
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[1]
    assert "Provider" in header
    lines = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines()[3:-1]}
    assert "OpenAI" in lines[both.openai_id]
    assert "Anthropic" in lines[both.anthropic_id]
    # where each provider's batches come from, on stderr
    assert re.search(
        r"batches of Anthropic: http://127\.0\.0\.1.* \+ OpenAI: http://127\.0\.0\.1", proc.stderr
    )
    assert "2 shown" in proc.stderr

    proc = both.run("ls", "--provider", "openai", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [row["id"] for row in json.loads(proc.stdout)] == [both.openai_id]
    proc = both.run("ls", "--provider", "anthropic")
    assert proc.returncode == 0, proc.stderr
    assert "Provider" not in proc.stdout  # one provider: the table as it always was
    assert both.anthropic_id in proc.stdout
    assert both.openai_id not in proc.stdout


def test_a_command_given_an_id_finds_its_provider(both: Both) -> None:
    """show, label, cancel, results and retry route an id to the provider whose store holds
    it (the provider setting is anthropic); `--provider` restricts the search to one."""
    proc = both.run("show", both.openai_id, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["provider"] == "openai"
    proc = both.run("show", both.openai_id, "--offline", "--json")  # the stores alone
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == both.openai_id

    assert both.run("label", both.openai_id, "eval set").returncode == 0
    proc = both.run("ls", "--provider", "openai", "--json", "--offline")
    assert json.loads(proc.stdout)[0]["label"] == "eval set"

    proc = both.run("show", both.openai_id, "--provider", "anthropic")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr

    proc = both.run("cancel", both.anthropic_id, "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["provider"] == "anthropic"

    both.advance(3600)
    proc = both.run("results", both.openai_id, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 3

    proc = both.run("show", "batch_0000nothing", "--json")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("batchtop: error: No batch")


def test_an_id_unknown_locally_is_found_on_its_providers_api(both: Both) -> None:
    """A batch another client made (no store knows it yet): the stores are refreshed, and
    the one that lists it owns it."""
    from openai import OpenAI

    client = OpenAI(api_key="test-key", base_url=both.openai.base_url, max_retries=0)
    line = {
        "custom_id": "other-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    }
    upload = client.files.create(
        file=("other.jsonl", json.dumps(line).encode() + b"\n"), purpose="batch"
    )
    other = client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    proc = both.run("show", other.id, "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert (shown["id"], shown["provider"]) == (other.id, "openai")


def test_watch_covers_every_provider(both: Both) -> None:
    """`watch` without an id follows both providers' batches and downloads each one's
    results from its own provider when they end; given an id, the provider that owns it."""
    both.advance(3600)  # both ended: watch's first refresh sees it, nothing to wait for
    proc = both.run("watch", both.openai_id)
    assert proc.returncode == 0, proc.stderr
    assert f"{both.openai_id} ended: 3 results downloaded" in proc.stderr
    assert both.anthropic_id not in proc.stdout
    proc = both.run("watch")
    assert proc.returncode == 0, proc.stderr
    assert f"{both.anthropic_id} ended: 3 results downloaded" in proc.stderr
    assert "Provider" in proc.stdout


def test_without_a_key_every_providers_local_store_is_read(both: Both) -> None:
    """No key at all: `ls` and `show` read the store of every provider whose API answered
    here once (offline), not the configured provider's alone."""
    env = {k: v for k, v in both.env.items() if not k.endswith("_API_KEY")}
    proc = run("ls", "--json", cwd=both.cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = {row["id"]: row["provider"] for row in json.loads(proc.stdout)}
    assert rows == {both.anthropic_id: "anthropic", both.openai_id: "openai"}
    proc = run("show", both.openai_id, "--json", cwd=both.cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["provider"] == "openai"


def test_ls_with_one_provider_failing_shows_both_and_says_whose_is_stale(both: Both) -> None:
    """One provider's API failing: the other's batches are fresh, the failing one's come
    from its store, stderr names it, and the exit code says the data is not all current."""
    both.openai.set_faults(rate_500=1.0)
    proc = both.run("ls", "--json")
    assert proc.returncode == 3, proc.stderr
    rows = {row["id"]: row["provider"] for row in json.loads(proc.stdout)}
    assert rows == {both.anthropic_id: "anthropic", both.openai_id: "openai"}
    assert "OpenAI: showing cached state" in proc.stderr
    assert "Anthropic: showing cached state" not in proc.stderr


def test_reconcile_covers_every_provider(both: Both) -> None:
    """`reconcile` without `--provider`: an orphaned OpenAI upload and a job half-submitted to
    Anthropic are both reported, each named by its provider; resuming the job of another
    provider than the setting's names it (`submit --provider anthropic`)."""
    import openai

    config = Path(both.env["XDG_CONFIG_HOME"]) / "batchtop" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('provider = "openai"\nmax_requests_per_batch = 1\n')
    both.anthropic.server.config.max_body_bytes = 2000  # refuses the second, long part
    with (both.cwd / "input.jsonl").open("w") as fh:
        for i, text in enumerate(("short", "long " + "x" * 3000, "short")):
            params = {"model": "claude-haiku-4-5", "max_tokens": 8}
            params["messages"] = [{"role": "user", "content": text}]
            fh.write(json.dumps({"custom_id": f"r-{i}", "params": params}) + "\n")
    half = both.run("submit", "--provider", "anthropic", "input.jsonl", "--yes", "--json")
    assert half.returncode == 1, half.stderr
    assert json.loads(half.stdout)["failed_parts"] == [2]

    (row,) = json.loads(both.run("ls", "--provider", "openai", "--json").stdout)
    client = openai.OpenAI(api_key="test-key", base_url=both.openai.base_url, max_retries=0)
    upload = client.files.create(  # a crash between an upload and its create
        file=(f"batchtop-{row['job_id']}_2_99.jsonl", b'{"custom_id": "a"}\n'), purpose="batch"
    )

    proc = both.run("reconcile", "--json")
    assert proc.returncode == 0, proc.stderr
    found = {(e["provider"], e["state"]) for e in json.loads(proc.stdout)}
    assert found == {("anthropic", "partly submitted"), ("openai", "too recent to delete")}
    text = both.run("reconcile").stdout
    assert f"OpenAI: file {upload.id}" in text
    assert "Anthropic: job" in text
    assert "`batchtop submit --provider anthropic input.jsonl`" in text


def test_locate_names_each_providers_endpoint_and_store(both: Both) -> None:
    """`locate` says where every covered provider's batches live; the top-level endpoint and
    store are the first one's (with only OpenAI's key set: OpenAI's, not the Anthropic
    endpoint of the provider setting)."""
    proc = both.run("locate", "--json")
    assert proc.returncode == 0, proc.stderr
    places = json.loads(proc.stdout)
    providers = {p["provider"]: p for p in places["providers"]}
    assert providers["anthropic"]["endpoint"] == both.anthropic.base_url
    assert providers["openai"]["endpoint"] == both.openai.base_url
    assert places["store"] == providers["anthropic"]["store"]
    assert providers["openai"]["store"] != places["store"]
    assert Path(providers["openai"]["store"]).is_file()

    env = {k: v for k, v in both.env.items() if k != "ANTHROPIC_API_KEY"}
    proc = run("locate", "--json", cwd=both.cwd, env=env)
    only = json.loads(proc.stdout)
    assert (only["endpoint"], only["store"]) == (both.openai.base_url, providers["openai"]["store"])
    text = run("locate", cwd=both.cwd, env=env).stdout
    assert "provider  OpenAI" in text


def test_a_rejected_key_of_one_provider_is_an_error_while_the_other_is_served(
    both: Both,
) -> None:
    """OpenAI's key rejected: `ls` and `watch` still serve Anthropic's batches, say OpenAI's
    error on stderr and exit 1 (not 'list again', not success)."""
    keys = frozenset({"test-key"})
    both.openai.call(lambda: setattr(both.openai.config, "api_keys", keys))
    env = dict(both.env, OPENAI_API_KEY="wrong-key")
    proc = run("ls", "--json", cwd=both.cwd, env=env)
    assert proc.returncode == 1, proc.stderr
    assert {row["provider"] for row in json.loads(proc.stdout)} == {"anthropic", "openai"}
    assert proc.stderr.splitlines()[-1].startswith("batchtop: error: OpenAI: ")
    assert "again" not in proc.stderr

    both.advance(3600)
    proc = run("watch", cwd=both.cwd, env=env)
    assert proc.returncode == 1, proc.stderr
    assert f"{both.anthropic_id} ended: 3 results downloaded" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("batchtop: error: OpenAI: ")


def test_a_warning_both_providers_share_is_said_once(both: Both) -> None:
    """The data directory readable by every user: one warning, not one per provider."""
    data = Path(both.env["XDG_DATA_HOME"]) / "batchtop"
    data.chmod(0o755)
    proc = both.run("ls", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("is readable by every user") == 1


@pytest.mark.parametrize(
    ("keys", "examples"),
    [
        (("openai",), "pass one such as batch_… or job_…"),
        (("anthropic",), "pass one such as msgbatch_… or job_…"),
        (("anthropic", "openai"), "pass one such as msgbatch_… (Anthropic), batch_… (OpenAI)"),
    ],
)
def test_an_empty_id_names_the_ids_of_the_providers_with_a_key(
    emulator: EmulatorHandle,
    openai_emulator: EmulatorHandle,
    tmp_path: Path,
    keys: tuple[str, ...],
    examples: str,
) -> None:
    env = dict(os.environ)
    if "anthropic" in keys:
        env |= {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": emulator.base_url}
    if "openai" in keys:
        env |= {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": openai_emulator.base_url}
    for args in (("results", ""), ("cancel", " ", "--yes")):
        proc = run(*args, cwd=tmp_path, env=env)
        assert proc.returncode != 0
        (line,) = proc.stderr.strip().splitlines()
        assert "No batch or job id given" in line
        assert examples in line
        assert "job_…" in line
        if keys == ("openai",):
            assert "msgbatch_" not in line  # an OpenAI user is not told of Anthropic's ids


def test_with_one_providers_key_the_others_stored_batches_are_reached(both: Both) -> None:
    """One key set: a batch the other provider's local store holds is found there (never by
    its id's prefix): what reads the store works (show, label, downloaded results), and what
    needs that provider's API says which key to set, before anything is asked."""
    both.advance(3600)  # both ended; the Anthropic results downloaded while its key was set
    assert both.run("results", both.anthropic_id, "--out", "first.jsonl").returncode == 0

    def only(key: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in both.env.items() if not k.endswith("_API_KEY")}
        return run(*args, cwd=both.cwd, env=env | {key: "test-key"})

    proc = only("OPENAI_API_KEY", "show", both.anthropic_id, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["provider"] == "anthropic"
    proc = only("OPENAI_API_KEY", "label", both.anthropic_id, "kept offline")
    assert proc.returncode == 0, proc.stderr
    proc = only("OPENAI_API_KEY", "results", both.anthropic_id, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 3
    proc = only("ANTHROPIC_API_KEY", "label", both.openai_id, "named elsewhere")
    assert proc.returncode == 0, proc.stderr
    proc = run("ls", "--json", "--offline", cwd=both.cwd, env=both.env)
    labels = {row["id"]: row["label"] for row in json.loads(proc.stdout)}
    assert labels == {both.anthropic_id: "kept offline", both.openai_id: "named elsewhere"}

    needs_api = (
        ("OPENAI_API_KEY", both.anthropic_id, "Anthropic's: set ANTHROPIC_API_KEY."),
        ("ANTHROPIC_API_KEY", both.openai_id, "OpenAI's: set OPENAI_API_KEY."),
    )
    for key, batch_id, whose in needs_api:
        for args in (("cancel", "--yes"), ("delete", "--yes"), ("retry",)):
            proc = only(key, args[0], batch_id, *args[1:])
            assert_one_line_error(proc, f"Batch {batch_id} is {whose}")
    # results not downloaded yet need the API: the OpenAI batch's, with the Anthropic key
    proc = only("ANTHROPIC_API_KEY", "results", both.openai_id, "--format", "json")
    assert_one_line_error(proc, f"Batch {both.openai_id} is OpenAI's: set OPENAI_API_KEY.")
    assert proc.stdout == ""

"""A setting that cannot work is one line naming it and exit 1, before any call: a base URL
that is not one, one holding `user:password@` (the HTTP client would send them instead of
the key, and the API would then reject a key it never saw), the openai package missing, a
provider asked for by name whose key is not set. Never "showing cached state" (exit 3) nor
"run 'batchtop ls' again". `batchtop` as a process against the emulators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import run

STALE = ("cached state", "listing not finished", "again")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))}
    env.update(extra)
    return env


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("batchtop: error: "), proc.stderr
    assert not any(word in proc.stderr for word in STALE), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "args"),
    [
        ("OPENAI_BASE_URL", "not a url", ("--provider", "openai", "ls")),
        ("OPENAI_BASE_URL", "ftp://127.0.0.1/v1", ("--provider", "openai", "ls", "--json")),
        ("ANTHROPIC_BASE_URL", "127.0.0.1:8080", ("ls",)),
    ],
)
def test_a_base_url_that_is_not_one_is_a_config_error(
    variable: str, value: str, args: tuple[str, ...], tmp_path: Path
) -> None:
    key = "OPENAI_API_KEY" if variable.startswith("OPENAI") else "ANTHROPIC_API_KEY"
    proc = run(*args, cwd=tmp_path, env=clean_env(**{variable: value, key: "sk-test-key-1"}))
    line = one_error_line(proc)
    assert f"{variable} is not a URL batchtop can use: {value!r}" in line, line
    assert proc.stdout == ""


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_credentials_in_the_base_url_are_refused_before_any_call(
    provider: str,
    emulator: EmulatorHandle,
    openai_emulator: EmulatorHandle,
    tmp_path: Path,
) -> None:
    handle = openai_emulator if provider == "openai" else emulator
    secret = "hunter2-pa55"
    url = handle.base_url.replace("http://", f"http://alice:{secret}@")
    prefix = provider.upper()
    env = clean_env(**{f"{prefix}_BASE_URL": url, f"{prefix}_API_KEY": "sk-test-key-1"})
    before = handle.stats.count()
    proc = run("--provider", provider, "ls", cwd=tmp_path, env=env)
    line = one_error_line(proc)
    assert f"{prefix}_BASE_URL holds credentials (http://[redacted]@127.0.0.1:" in line, line
    assert secret not in proc.stderr + proc.stdout
    assert "rejected" not in line
    assert handle.stats.count() == before  # nothing was sent


def test_without_the_openai_package_ls_says_so(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['openai'] = None\n"
        "from batchtop.tui.cli.entry import main\n"
        "sys.exit(main(['--provider', 'openai', 'ls']))\n"
    )
    env = clean_env(OPENAI_API_KEY="sk-test-key-1", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    line = one_error_line(proc)
    assert "OpenAI batches need the openai package: pip install 'batchtop[openai]'." in line


def test_a_provider_asked_for_without_its_key_says_the_key_is_missing(tmp_path: Path) -> None:
    env = clean_env(ANTHROPIC_API_KEY="sk-test-key-1")
    line = one_error_line(run("--provider", "openai", "ls", cwd=tmp_path, env=env))
    assert "No API key: set OPENAI_API_KEY." in line, line
    # the local store, asked for as such, is still read without a key
    offline = run("--provider", "openai", "ls", "--offline", cwd=tmp_path, env=env)
    assert offline.returncode == 0, offline.stderr

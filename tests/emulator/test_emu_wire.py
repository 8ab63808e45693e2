"""Bytes on the wire: JSONL framing, headers, results_url origin, fuzzing, CLI, example mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx2
import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle, Rule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import make_request, make_requests, sdk

KEY = {"x-api-key": "k"}


def test_results_jsonl_framing_on_raw_bytes(emulator: EmulatorHandle, client: Any) -> None:
    emulator.set_rules([Rule("evil", text="line one\r\nline two\n\n\x1b[2J[red]x[/red]\u2028")])
    batch = client.messages.batches.create(
        requests=[*make_requests(300), make_request("evil"), make_request("bad", model="nope")]
    )
    emulator.advance(10)
    url = client.messages.batches.retrieve(batch.id).results_url
    with httpx2.stream("GET", url, headers={**KEY, "accept": "application/binary"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-jsonl"
        assert response.headers["request-id"].startswith("req_")
        data = response.read()
    assert data.endswith(b"\n")
    assert b"\r" not in data
    assert b"\n\n" not in data
    lines = data.split(b"\n")[:-1]
    assert len(lines) == 302
    for line in lines:
        assert line, "blank line"
        assert orjson.dumps(orjson.loads(line)) == line  # compact, canonical JSON
    parsed = {orjson.loads(line)["custom_id"]: orjson.loads(line) for line in lines}
    text = "".join(
        b["text"] for b in parsed["evil"]["result"]["message"]["content"] if b["type"] == "text"
    )
    assert text == "line one\r\nline two\n\n\x1b[2J[red]x[/red]\u2028"


def test_results_url_follows_the_request_host(emulator: EmulatorHandle, client: Any) -> None:
    batch = client.messages.batches.create(requests=make_requests(1))
    emulator.advance(1)
    port = emulator.base_url.rsplit(":", 1)[1]
    response = httpx2.get(f"http://localhost:{port}/v1/messages/batches/{batch.id}", headers=KEY)
    assert response.json()["results_url"] == (
        f"http://localhost:{port}/v1/messages/batches/{batch.id}/results"
    )


def test_batch_json_shape_and_key_order(emulator: EmulatorHandle) -> None:
    body = orjson.dumps({"requests": [make_request("a")]})
    created = httpx2.post(emulator.base_url + "/v1/messages/batches", content=body, headers=KEY)
    assert list(created.json()) == [
        "id",
        "type",
        "processing_status",
        "request_counts",
        "ended_at",
        "created_at",
        "expires_at",
        "archived_at",
        "cancel_initiated_at",
        "results_url",
    ]
    assert created.json()["created_at"] == "2026-11-25T12:00:00.000000+00:00"
    assert list(created.json()["request_counts"]) == [
        "processing",
        "succeeded",
        "errored",
        "canceled",
        "expired",
    ]


def test_hundred_thousand_requests_fast(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(rate=None)
    n = 100_000
    requests = [make_request(f"r{i}", f"Short prompt number {i}") for i in range(n)]
    body = orjson.dumps({"requests": requests})
    started = time.perf_counter()
    with httpx2.Client(base_url=handle.base_url, headers=KEY, timeout=120) as http:
        created = http.post("/v1/messages/batches", content=body)
        assert created.status_code == 200
        batch = http.get(f"/v1/messages/batches/{created.json()['id']}").json()
        assert batch["request_counts"]["succeeded"] == n
        with http.stream("GET", batch["results_url"]) as response:
            lines = sum(chunk.count(b"\n") for chunk in response.iter_bytes())
    assert lines == n
    assert time.perf_counter() - started < 60  # "well under a minute" even on a busy CI box


# --- fuzzing ---------------------------------------------------------------------------

_PATHS = st.sampled_from(
    [
        "/v1/messages/batches",
        "/v1/messages/batches/msgbatch_01x",
        "/v1/messages/batches/msgbatch_01x/cancel",
        "/v1/messages/batches/msgbatch_01x/results",
        "/v1/models",
        "/v1/models/claude-opus-5-5",
        "/v1/messages/count_tokens",
        "/",
    ]
)
_RANDOM_PATH = st.lists(st.text(min_size=1, max_size=12), max_size=4).map(
    lambda parts: "/" + "/".join(quote(p, safe="") for p in parts)
)
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_MESSAGES = st.lists(
    st.fixed_dictionaries({"role": st.just("user"), "content": st.text() | _JSON}), max_size=2
)
_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["claude-opus-5-5", "nope"]) | _JSON,
        "max_tokens": st.integers(-5, 10**7) | _JSON,
        "messages": _MESSAGES | _JSON,
        "stream": st.booleans(),
    },
)
_CUSTOM_ID = st.text(max_size=70) | st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True) | _JSON
_REQUEST = st.fixed_dictionaries({}, optional={"custom_id": _CUSTOM_ID, "params": _PARAMS | _JSON})


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()  # stdlib: also big integers and odd floats


_BODY = st.one_of(
    st.binary(max_size=300),
    _JSON.map(_dumps),
    st.lists(_REQUEST, max_size=4).map(lambda r: _dumps({"requests": r})),
    st.lists(_REQUEST, max_size=4).map(_dumps),
    _MESSAGES.map(lambda m: _dumps({"model": "claude-opus-5-5", "messages": m})),
)
_QUERY = st.dictionaries(
    st.sampled_from(["limit", "after_id", "before_id", "beta", "x"]),
    st.text(max_size=10),
    max_size=3,
)


@pytest.fixture
def http(emulator: EmulatorHandle) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emulator.base_url, timeout=30) as client:
        yield client


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"]),
    path=_PATHS | _RANDOM_PATH,
    body=_BODY,
    query=_QUERY,
    with_key=st.booleans(),
)
def test_random_requests_never_crash(
    http: httpx2.Client,
    method: str,
    path: str,
    body: bytes,
    query: dict[str, str],
    with_key: bool,
) -> None:
    headers = {"x-api-key": "k"} if with_key else {}
    response = http.request(method, path, content=body, params=query, headers=headers)
    assert response.status_code < 500, response.text
    assert response.headers["request-id"].startswith("req_")
    if response.status_code >= 400:
        envelope = response.json()
        assert envelope["type"] == "error"
        assert envelope["request_id"] == response.headers["request-id"]
        assert set(envelope["error"]) == {"type", "message", "details"}
    elif response.headers["content-type"].startswith("application/json"):
        response.json()
    # the server still answers normally afterwards
    assert http.get("/v1/models", headers=KEY).status_code == 200


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.lists(_PARAMS | st.dictionaries(st.text(max_size=8), _JSON), min_size=1, max_size=6)
)
def test_any_params_process_into_valid_result_lines(
    emulator: EmulatorHandle, http: httpx2.Client, params: list[dict[str, Any]]
) -> None:
    requests = [{"custom_id": f"p{i}", "params": p} for i, p in enumerate(params)]
    created = http.post("/v1/messages/batches", content=_dumps({"requests": requests}), headers=KEY)
    assert created.status_code == 200, created.text
    emulator.advance(60)
    batch = http.get(f"/v1/messages/batches/{created.json()['id']}", headers=KEY).json()
    assert batch["processing_status"] == "ended"
    data = http.get(batch["results_url"], headers=KEY).content
    lines = [orjson.loads(line) for line in data.split(b"\n")[:-1]]
    assert sorted(line["custom_id"] for line in lines) == sorted(r["custom_id"] for r in requests)
    for line in lines:
        assert line["result"]["type"] in ("succeeded", "errored")


# --- example mode ------------------------------------------------------------------------


def test_example_mode_answers_unknown_ids(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(example_mode=True)
    with sdk(handle) as client:
        assert client.messages.batches.retrieve("message_batch_id").id == "message_batch_id"
        assert client.messages.batches.cancel("message_batch_id").processing_status == "canceling"
        deleted = client.messages.batches.delete("message_batch_id")
        assert deleted.type == "message_batch_deleted"
        page = client.messages.batches.list(after_id="after_id", before_id="before_id", limit=1)
        assert page.data == []
        [line] = list(client.messages.batches.results("message_batch_id"))
        assert line.result.type == "canceled"
        beta = client.beta.messages.batches.retrieve("message_batch_id", betas=["string"])
        assert beta.type == "message_batch"
        real = client.messages.batches.create(requests=make_requests(1))
        assert client.messages.batches.retrieve(real.id).id == real.id


# --- command line --------------------------------------------------------------------------


def test_cli_prints_base_url_first_and_stops_on_sigint(tmp_path: Any) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchtop.core.emulator",
            "--port",
            "0",
            "--db",
            str(tmp_path / "cli.sqlite3"),
            "--fail-529",
            "1",
            "--api-key",
            "one",
            "--api-key",
            "two",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert int(base_url.rsplit(":", 1)[1]) > 0
        response = httpx2.get(base_url + "/v1/models", headers={"x-api-key": "two"})
        assert response.status_code == 529
        assert response.json()["error"]["type"] == "overloaded_error"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "cli.sqlite3").exists()


def test_cli_rejects_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "batchtop.core.emulator", "--fail-429", "2"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"probability" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("counters", ["live", "at-end"])
def test_add_arguments_builds_config(counters: str) -> None:
    import argparse

    from batchtop.core.emulator.cli import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args(
        ["--rate", "50", "--counters", counters, "--seed", "9", "--cut-results-after", "100"]
    )
    config = config_from_args(ns)
    assert config.rate == 50.0
    assert config.counters == counters
    assert config.seed == 9
    assert config.faults.cut_results_after_bytes == 100
    assert config.host == "127.0.0.1"
    assert parser.parse_args(["--rate", "instant"]).rate is None


def test_cli_reports_unusable_db_and_busy_port(tmp_path: Any) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "batchtop.core.emulator", "--db", str(tmp_path / "no/such/x.db")],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert b"cannot use database" in bad.stderr
    assert b"Traceback" not in bad.stderr
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run(
            [sys.executable, "-m", "batchtop.core.emulator", "--port", str(port)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert taken.returncode == 1
    assert b"cannot listen" in taken.stderr
    assert b"Traceback" not in taken.stderr


def test_example_mode_like_the_sdk_suite(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    """The calls the SDK's own test suite makes (literal ids, strict validation) succeed."""
    from anthropic import Anthropic

    handle = emulator_factory(example_mode=True)
    client = Anthropic(
        api_key="my-anthropic-api-key", base_url=handle.base_url, _strict_response_validation=True
    )
    with client:
        for batches in (client.messages.batches, client.beta.messages.batches):
            raw = batches.with_raw_response.retrieve("message_batch_id")
            assert raw.is_closed is True
            assert raw.http_request.headers["X-Stainless-Lang"] == "python"
            assert raw.parse().id == "message_batch_id"
            with batches.with_streaming_response.cancel("message_batch_id") as streamed:
                assert streamed.parse().processing_status == "canceling"
            assert streamed.is_closed is True
            batches.delete("message_batch_id")
            page = batches.list(after_id="after_id", before_id="before_id", limit=1)
            assert page.has_more is False
            created = batches.create(
                requests=[
                    {
                        "custom_id": "my-custom-id-1",
                        "params": {
                            "max_tokens": 1024,
                            "messages": [{"content": "Hello, world", "role": "user"}],
                            "model": "claude-opus-5-5",
                            "metadata": {"user_id": "13803d75-b4b5-4c3e-b2a2-6f21399b021b"},
                            "service_tier": "auto",
                            "stop_sequences": ["string"],
                            "system": [{"text": "x", "type": "text"}],
                            "thinking": {"type": "adaptive"},
                        },
                    }
                ],
            )
            assert created.processing_status == "in_progress"
    assert handle.stats.count(status=200) == handle.stats.total

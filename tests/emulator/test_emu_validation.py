"""Create-time 400s, deferred per-request errors, auth and HTTP-level envelopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle

from .conftest import api_status, make_request, sdk

PATTERN = "^[a-zA-Z0-9_-]{1,64}$"


def _raw(handle: EmulatorHandle, method: str, path: str, **kw: Any) -> httpx2.Response:
    headers = {"x-api-key": "k", **kw.pop("headers", {})}
    return httpx2.request(method, handle.base_url + path, headers=headers, timeout=30, **kw)


def _assert_envelope(response: httpx2.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    rid = response.headers["request-id"]
    assert rid.startswith("req_")
    body = response.json()
    assert body["type"] == "error"
    assert body["request_id"] == rid
    assert body["error"]["type"] == kind
    assert "details" in body["error"]
    assert isinstance(body["error"]["message"], str)
    return body


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "requests: List should have at least 1 item after validation, not 0"),
        ([{"params": {}}], "requests.0.custom_id: Field required"),
        (
            [make_request("ok"), make_request("x" * 65)],
            "requests.1.custom_id: String should have at most 64 characters",
        ),
        (
            [make_request("has space")],
            f"requests.0.custom_id: String should match pattern '{PATTERN}'",
        ),
        (
            [make_request("dup"), make_request("b"), make_request("dup")],
            "requests: custom_id's must be unique within a batch. Duplicate custom_id found: dup",
        ),
        ([{"custom_id": "a"}], "requests.0.params: Field required"),
    ],
)
def test_create_time_400s(client: Any, requests: list[Any], message: str) -> None:
    with api_status(400) as info:
        client.messages.batches.create(requests=requests)
    assert info.value.body["error"] == {
        "type": "invalid_request_error",
        "message": message,
        "details": None,
    }
    assert info.value.request_id is not None
    assert info.value.request_id.startswith("req_")


def test_sixty_four_char_custom_id_is_fine(client: Any) -> None:
    batch = client.messages.batches.create(requests=[make_request("x" * 64)])
    assert batch.request_counts.processing == 1


def test_too_many_requests_is_400(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(max_requests=5)
    with sdk(handle) as client, api_status(400) as info:
        client.messages.batches.create(requests=[make_request(f"r{i}") for i in range(6)])
    assert info.value.body["error"]["message"] == (
        "requests: List should have at most 5 items after validation, not 6"
    )


def test_hundred_thousand_and_one_requests_is_400(emulator: EmulatorHandle) -> None:
    line = b'{"custom_id":"a","params":{}}'
    body = b'{"requests":[' + b",".join([line] * 100_001) + b"]}"
    response = _raw(emulator, "POST", "/v1/messages/batches", content=body)
    body_json = _assert_envelope(response, 400, "invalid_request_error")
    assert body_json["error"]["message"] == (
        "requests: List should have at most 100000 items after validation, not 100001"
    )


def test_invalid_json_is_400(emulator: EmulatorHandle) -> None:
    response = _raw(emulator, "POST", "/v1/messages/batches", content=b'{"requests": [')
    body = _assert_envelope(response, 400, "invalid_request_error")
    assert body["error"]["message"].startswith("The request body is not valid JSON: ")


def test_body_over_limit_is_413(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(max_body_bytes=100_000)
    big = orjson.dumps({"requests": [make_request("a", "z" * 200_000)]})
    response = _raw(handle, "POST", "/v1/messages/batches", content=big)
    _assert_envelope(response, 413, "request_too_large")
    with sdk(handle) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.batches.create(requests=[make_request("a", "z" * 200_000)])
        assert info.value.status_code == 413
        # the server is still fine afterwards
        assert client.messages.batches.create(requests=[make_request("a")]).id


def test_unknown_params_keys_error_like_the_api(client: Any, emulator: EmulatorHandle) -> None:
    """The API validates params after the batch ends: an unknown key errors that request
    with the real message; sampling parameters are still accepted."""
    extra = make_request("extra", invented_option={"x": 1})
    sampling = make_request("sampling", temperature=0.2, top_k=3)
    batch = client.messages.batches.create(requests=[extra, sampling])
    emulator.advance(1)
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["extra"].type == "errored"
    assert results["extra"].error.error.type == "invalid_request_error"
    assert results["extra"].error.error.message == (
        "invented_option: Extra inputs are not permitted"
    )
    assert results["sampling"].type == "succeeded"


def test_deferred_per_request_errors(client: Any, emulator: EmulatorHandle) -> None:
    good = make_request("good")
    no_messages = {
        "custom_id": "no-messages",
        "params": {"model": "claude-opus-5-5", "max_tokens": 5},
    }
    no_model = make_request("no-model")
    del no_model["params"]["model"]
    no_max = make_request("no-max")
    del no_max["params"]["max_tokens"]
    requests = [
        good,
        no_messages,
        no_model,
        no_max,
        make_request("zero", max_tokens=0),
        make_request("too-many", model="claude-haiku-4-5-20251001", max_tokens=9_999_999),
        make_request("streaming", stream=True),
        make_request("bad-model", model="claude-does-not-exist-9"),
    ]
    batch = client.messages.batches.create(requests=requests)
    assert batch.request_counts.processing == len(requests)
    emulator.advance(1)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.request_counts.succeeded == 1
    assert ended.request_counts.errored == len(requests) - 1
    errors = {
        r.custom_id: (r.result.error.error.type, r.result.error.error.message)
        for r in client.messages.batches.results(batch.id)
        if r.result.type == "errored"
    }
    invalid = "invalid_request_error"
    assert errors == {
        "no-messages": (invalid, "messages: Field required"),
        "no-model": (invalid, "model: Field required"),
        "no-max": (invalid, "max_tokens: Field required"),
        "zero": (invalid, "max_tokens: must be greater than or equal to 1"),
        "too-many": (
            invalid,
            "max_tokens: 9999999 > 64000, which is the maximum allowed number of output "
            "tokens for claude-haiku-4-5-20251001",
        ),
        "streaming": (invalid, '"stream=True" is not supported in the Message Batches API'),
        "bad-model": ("not_found_error", "model: claude-does-not-exist-9"),
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": ""}, {"authorization": "Bearer"}, {"authorization": "Basic abc"}],
)
def test_missing_key_is_401(emulator: EmulatorHandle, headers: dict[str, str]) -> None:
    response = httpx2.get(emulator.base_url + "/v1/messages/batches", headers=headers)
    _assert_envelope(response, 401, "authentication_error")


def test_key_allow_list(emulator_factory: Callable[..., EmulatorHandle]) -> None:
    handle = emulator_factory(api_keys=frozenset({"good"}))
    with sdk(handle, api_key="bad") as client, api_status(401) as info:
        client.messages.batches.list()
    assert info.value.body["error"]["message"] == "API key is invalid."
    with sdk(handle, api_key="good") as client:
        assert client.messages.batches.list().data == []
    response = httpx2.get(handle.base_url + "/v1/models", headers={"x-api-key": "good"})
    assert response.status_code == 200


@pytest.mark.parametrize("version", [None, "2023-06-01", "2026-10-21"])
def test_anthropic_version_header_accepted(emulator: EmulatorHandle, version: str | None) -> None:
    headers = {"x-api-key": "k", "anthropic-beta": "message-batches-2024-09-24"}
    if version:
        headers["anthropic-version"] = version
    response = httpx2.get(emulator.base_url + "/v1/messages/batches?beta=true", headers=headers)
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")


def test_unknown_path_and_wrong_method(emulator: EmulatorHandle) -> None:
    _assert_envelope(_raw(emulator, "GET", "/v1/nothing/here"), 404, "not_found_error")
    _assert_envelope(_raw(emulator, "GET", "/"), 404, "not_found_error")
    response = _raw(emulator, "PUT", "/v1/messages/batches")
    _assert_envelope(response, 405, "invalid_request_error")
    _assert_envelope(
        _raw(emulator, "PATCH", "/v1/messages/batches/x"), 405, "invalid_request_error"
    )
    _assert_envelope(
        _raw(emulator, "GET", "/v1/messages/batches/x/cancel"), 405, "invalid_request_error"
    )


def test_error_statuses_are_counted(emulator: EmulatorHandle) -> None:
    _raw(emulator, "GET", "/v1/messages/batches/msgbatch_01missing")
    _raw(emulator, "GET", "/v1/messages/batches", headers={"x-api-key": ""})
    assert emulator.stats.count("retrieve", 404) == 1
    assert emulator.stats.count("list", 401) == 1

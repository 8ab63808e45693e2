"""The OpenAI adapter's mapping onto batchtop's neutral batches and result rows.

These check the conversions on OpenAI's documented JSON shapes (Batch object, output and
error file lines); the calls themselves run against the OpenAI emulator through the SDK.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from batchtop.core.models import ProcessingStatus, ResultFilter, ResultType
from batchtop.core.providers.openai import remote_from_openai, write_input_file
from batchtop.core.providers.openai_lines import as_neutral, neutral_result, neutral_stop
from batchtop.core.store import Store
from results_support import results_of

T0 = 1_765_000_000


def _batch(status: str, total: int, completed: int, failed: int, **extra: object) -> dict:
    return {
        "id": "batch_1",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in",
        "completion_window": "24h",
        "status": status,
        "output_file_id": extra.pop("output_file_id", None),
        "error_file_id": None,
        "created_at": T0,
        "expires_at": T0 + 86_400,
        "request_counts": {"total": total, "completed": completed, "failed": failed},
        "metadata": {"batchtop_submission": "job_1/1/7"},
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "neutral", "counts"),
    [
        ("validating", ProcessingStatus.IN_PROGRESS, (10, 0, 0, 0, 0)),
        ("in_progress", ProcessingStatus.IN_PROGRESS, (6, 3, 1, 0, 0)),
        ("finalizing", ProcessingStatus.IN_PROGRESS, (0, 9, 1, 0, 0)),
        ("cancelling", ProcessingStatus.CANCELING, (6, 3, 1, 0, 0)),
        ("completed", ProcessingStatus.ENDED, (0, 9, 1, 0, 0)),
        ("expired", ProcessingStatus.ENDED, (0, 3, 1, 0, 6)),
        ("cancelled", ProcessingStatus.ENDED, (0, 3, 1, 6, 0)),
        ("failed", ProcessingStatus.ENDED, (0, 0, 0, 0, 0)),
    ],
)
def test_status_and_counts_map_onto_the_neutral_ones(
    status: str, neutral: ProcessingStatus, counts: tuple[int, ...]
) -> None:
    done = {
        "validating": (10, 0, 0),
        "finalizing": (10, 9, 1),
        "completed": (10, 9, 1),
        "failed": (0, 0, 0),
    }.get(status, (10, 3, 1))
    ended_key = {"completed": "completed_at", "expired": "expired_at", "failed": "failed_at"}
    extra = (
        {ended_key.get(status, "cancelled_at"): T0 + 600}
        if neutral is ProcessingStatus.ENDED
        else {}
    )
    remote = remote_from_openai(_batch(status, *done, **extra))
    assert remote.processing_status is neutral
    c = remote.request_counts
    assert (c.processing, c.succeeded, c.errored, c.canceled, c.expired) == counts
    assert remote.provider == "openai"
    assert remote.provider_status == status
    assert remote.status_text == status  # validating / finalizing shown as such
    assert remote.submission_id == "job_1/1/7"
    assert remote.endpoint == "/v1/chat/completions"
    assert remote.results_url is None  # an Anthropic field: not guessed
    assert (remote.ended_at is not None) == (neutral is ProcessingStatus.ENDED)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown batch status"):
        remote_from_openai(_batch("paused", 1, 0, 0))


def test_input_file_lines(tmp_path: Path) -> None:
    part = tmp_path / "part.jsonl"
    part.write_bytes(
        b'{"custom_id":"a","params":{"model":"gpt-5-mini","messages":[{"role":"user","content":"hi"}]}}\n'
        b'{"custom_id":"b","params":{"model":"gpt-5-mini","messages":[]}}\n'
    )
    out = tmp_path / "in.jsonl"
    assert write_input_file(part, "/v1/chat/completions", out) == (2, "/v1/chat/completions")
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert lines[0] == {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    assert [line["custom_id"] for line in lines] == ["a", "b"]


CHAT_OK = {
    "id": "batch_req_1",
    "custom_id": "art-1",
    "response": {
        "status_code": 200,
        "request_id": "req_1",
        "body": {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-5-mini-2025-08-07",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "A short summary.",
                        "refusal": None,
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "total_tokens": 150,
                "prompt_tokens_details": {"cached_tokens": 20},
            },
        },
    },
    "error": None,
}
CHAT_LENGTH = {
    **CHAT_OK,
    "custom_id": "art-2",
    "response": {
        **CHAT_OK["response"],
        "body": {
            **CHAT_OK["response"]["body"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Cut"},
                    "finish_reason": "length",
                }
            ],
        },
    },
}
RESPONSES_OK = {
    "id": "batch_req_3",
    "custom_id": "art-3",
    "response": {
        "status_code": 200,
        "request_id": "req_3",
        "body": {
            "id": "resp_1",
            "object": "response",
            "status": "completed",
            "model": "gpt-5-mini",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thought."}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Answer from responses."}],
                },
            ],
            "usage": {
                "input_tokens": 50,
                "output_tokens": 10,
                "input_tokens_details": {"cached_tokens": 0},
            },
        },
    },
    "error": None,
}
EMBEDDING_OK = {
    "id": "batch_req_4",
    "custom_id": "emb-1",
    "response": {
        "status_code": 200,
        "request_id": "req_4",
        "body": {
            "object": "list",
            "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8, 0.0]}],
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        },
    },
    "error": None,
}
HTTP_ERROR = {
    "id": "batch_req_5",
    "custom_id": "art-5",
    "response": {
        "status_code": 400,
        "request_id": "req_5",
        "body": {
            "error": {
                "message": "Invalid 'messages'.",
                "type": "invalid_request_error",
                "code": None,
            }
        },
    },
    "error": None,
}
EXPIRED = {
    "id": "batch_req_6",
    "custom_id": "art-6",
    "response": None,
    "error": {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    },
}


def _neutral(obj: dict) -> dict:
    return neutral_result(orjson.loads(orjson.dumps(obj)))


def test_chat_line_becomes_a_succeeded_message() -> None:
    line = _neutral(CHAT_OK)
    assert line["custom_id"] == "art-1"
    msg = line["result"]["message"]
    assert line["result"]["type"] == "succeeded"
    assert msg["content"] == [{"type": "text", "text": "A short summary."}]
    assert msg["stop_reason"] == "stop"  # OpenAI's own finish_reason, not end_turn
    assert msg["usage"]["input_tokens"] == 100
    assert msg["usage"]["cache_read_input_tokens"] == 20
    assert msg["usage"]["output_tokens"] == 30
    assert _neutral(CHAT_LENGTH)["result"]["message"]["stop_reason"] == "length"
    # a response says its status; an embedding has no stop reason
    assert _neutral(RESPONSES_OK)["result"]["message"]["stop_reason"] == "completed"
    assert _neutral(EMBEDDING_OK)["result"]["message"]["stop_reason"] is None
    # the rules that go by a neutral stop reason read OpenAI's through one mapping
    assert neutral_stop("length") == neutral_stop("max_output_tokens") == "max_tokens"
    assert neutral_stop("content_filter") == "refusal"
    assert neutral_stop("stop") == "stop"
    assert neutral_stop("end_turn") == "end_turn"


def test_embedding_line_shows_dimension_and_norm_not_the_numbers() -> None:
    line = _neutral(EMBEDDING_OK)
    text = line["result"]["message"]["content"][0]["text"]
    assert text == "embedding: 3 dimensions, norm 1.0000"
    assert b"0.6" not in orjson.dumps(line)


def test_error_lines() -> None:
    err = _neutral(HTTP_ERROR)["result"]
    assert err == {
        "type": "errored",
        "error": {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "Invalid 'messages'."},
        },
    }
    assert _neutral(EXPIRED)["result"] == {"type": "expired"}
    neutral = {"custom_id": "a", "result": {"type": "expired"}}
    assert as_neutral(neutral) is neutral  # a neutral (Message Batches) line stays as it is


def test_openai_results_index_like_any_other(tmp_path: Path) -> None:
    """Output + error file lines → rows the viewer, filters, search and stats read."""
    raw = b"".join(
        orjson.dumps(o) + b"\n" for o in (CHAT_OK, CHAT_LENGTH, HTTP_ERROR, EXPIRED, RESPONSES_OK)
    )
    path = tmp_path / "r.jsonl"
    path.write_bytes(raw)
    with Store.open(tmp_path / "s.db") as store:
        assert results_of(store).ingest_results("batch_1", path) == 5
        page = results_of(store).query_results(["batch_1"], ResultFilter(), 0, 10)
        rows = {r.custom_id: r for r in page.rows}
        assert rows["art-1"].type is ResultType.SUCCEEDED
        assert rows["art-1"].text == "A short summary."
        assert rows["art-1"].model == "gpt-5-mini-2025-08-07"
        assert rows["art-2"].stop_reason == "length"
        # the neutral filter of cuts finds OpenAI's `length` (and a filter on it, itself)
        for stop in ("max_tokens", "length"):
            cut = results_of(store).query_results(
                ["batch_1"], ResultFilter(stop_reasons=frozenset({stop})), 0, 10
            )
            assert [r.custom_id for r in cut.rows] == ["art-2"]
        assert rows["art-3"].text == "Answer from responses."
        assert (rows["art-5"].type, rows["art-5"].error_type) == (
            ResultType.ERRORED,
            "invalid_request_error",
        )
        assert rows["art-6"].type is ResultType.EXPIRED
        found = results_of(store).query_results(
            ["batch_1"], ResultFilter(search="short summ"), 0, 10
        )
        assert [r.custom_id for r in found.rows] == ["art-1"]


def test_missing_extra_is_one_line(tmp_path: Path) -> None:
    code = (
        "import sys, asyncio\n"
        "sys.modules['openai'] = None\n"
        "from batchtop.core.providers import make_provider\n"
        "from batchtop.core.errors import ApiError\n"
        "api = make_provider('openai', api_key='sk-test-key-123456', base_url='http://127.0.0.1:9/v1',"
        " timeout_s=1, max_retries=0)\n"
        "try:\n"
        "    asyncio.run(api.retrieve('batch_1'))\n"
        "except ApiError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == "OpenAI batches need the openai package: pip install 'batchtop[openai]'."
    )


def test_building_the_openai_provider_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        "from batchtop.core.providers import make_provider\n"
        "make_provider('openai', api_key='k', base_url=None, timeout_s=1, max_retries=0)\n"
        "print('openai' in sys.modules, 'anthropic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_openai_rows_are_priced_at_batch_price(tmp_path: Path) -> None:
    """gpt-5-mini-2025-08-07: 100 fresh + 20 cached input, 30 output tokens, half price."""
    from batchtop.core import pricing

    price = pricing.price_for("gpt-5-mini-2025-08-07")
    assert price is not None
    assert "OpenAI pricing page" in price.source
    path = tmp_path / "r.jsonl"
    path.write_bytes(orjson.dumps(CHAT_OK) + b"\n")
    with Store.open(tmp_path / "s.db") as store:
        results_of(store).ingest_results("batch_1", path)
        row = results_of(store).query_results(["batch_1"], ResultFilter(), 0, 1).rows[0]
    expected = (100 * 0.25 + 20 * 0.025 + 30 * 2) / 1_000_000 * 0.5
    assert row.cost_usd == pytest.approx(expected)


def test_input_file_keeps_the_lines_endpoint(tmp_path: Path) -> None:
    """Prepared lines that name their url (an imported embeddings file) keep it, and the
    batch is created for that endpoint, not the session's default."""
    part = tmp_path / "part.jsonl"
    part.write_bytes(
        b'{"custom_id":"e","params":{"model":"text-embedding-3-small","input":"x"},'
        b'"url":"/v1/embeddings"}\n'
    )
    out = tmp_path / "in.jsonl"
    assert write_input_file(part, "/v1/chat/completions", out) == (1, "/v1/embeddings")
    assert orjson.loads(out.read_bytes())["url"] == "/v1/embeddings"


def test_viewer_blocks_read_an_openai_line_as_it_was_stored(tmp_path: Path) -> None:
    """The index keeps OpenAI's line itself (the raw line a detail and the JSONL export
    read); the viewer's blocks come from it: a response's reasoning summary, then its text."""
    from batchtop.core.result_blocks import parse_content

    path = tmp_path / "r.jsonl"
    raw = orjson.dumps(RESPONSES_OK)
    path.write_bytes(raw + b"\n")
    with Store.open(tmp_path / "s.db") as store:
        results_of(store).ingest_results("batch_1", path)
        found = results_of(store).result_detail("batch_1", "art-3")
    assert found is not None
    assert found[1] == raw.decode()
    content = parse_content(found[1])
    assert content is not None
    assert [(b.kind, b.text) for b in content.blocks] == [
        ("thinking", "Thought."),
        ("text", "Answer from responses."),
    ]

"""OpenAI emulator: whatever the input file holds, the batch ends as failed or completed
with every request accounted for; whatever a request body holds, it never answers 500."""

from __future__ import annotations

from typing import Any

import orjson
from batchtop.core.emulator import EmulatorHandle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .openai_support import CHAT, EMBEDDINGS, RESPONSES, read_lines, submit

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_BODY = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["gpt-4o-mini", "gpt-5-mini", "text-embedding-3-small", "nope"])
        | _JSON,
        "messages": _JSON | st.just([{"role": "user", "content": "hi"}]),
        "input": _JSON | st.just("hi"),
        "max_tokens": _JSON,
        "max_completion_tokens": _JSON,
        "max_output_tokens": _JSON,
        "n": st.integers(min_value=-2, max_value=3),
        "dimensions": _JSON,
        "encoding_format": st.sampled_from(["float", "base64"]) | _JSON,
    },
)
_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(
    endpoint=st.sampled_from([CHAT, RESPONSES, EMBEDDINGS]),
    bodies=st.lists(_BODY | _JSON, min_size=1, max_size=5),
)
def test_any_bodies_end_in_result_lines(
    oai: Any, openai_emulator: EmulatorHandle, endpoint: str, bodies: list[Any]
) -> None:
    lines = [
        {"custom_id": f"b{i}", "method": "POST", "url": endpoint, "body": body}
        for i, body in enumerate(bodies)
    ]
    batch = submit(oai, lines, endpoint=endpoint)
    openai_emulator.advance(60)
    done = oai.batches.retrieve(batch.id)
    assert done.status in ("completed", "failed")
    if done.status == "completed":
        out = read_lines(oai, done.output_file_id) if done.output_file_id else []
        err = read_lines(oai, done.error_file_id) if done.error_file_id else []
        assert sorted(x["custom_id"] for x in out + err) == sorted(x["custom_id"] for x in lines)
        assert all(x["response"]["status_code"] < 500 for x in out + err)


@_SETTINGS
@given(
    data=st.binary(max_size=300)
    | st.lists(_JSON, max_size=4).map(lambda xs: b"\n".join(orjson.dumps(x) for x in xs))
)
def test_any_file_fails_or_completes(
    oai: Any, openai_emulator: EmulatorHandle, data: bytes
) -> None:
    batch = submit(oai, data)
    openai_emulator.advance(60)
    done = oai.batches.retrieve(batch.id)
    assert done.status in ("completed", "failed")
    if done.status == "failed":
        assert done.errors is not None
        assert done.errors.data

"""The demo workspace shows every state a user meets, without an API key."""

from __future__ import annotations

from batchtop.core.demo import start_demo
from batchtop.core.models import ProcessingStatus


async def test_demo_seeds_every_state() -> None:
    async with start_demo() as demo:
        batches = demo.service.batches()
        by_label: dict[str | None, list] = {}
        for view in batches:
            by_label.setdefault(view.label, []).append(view)

        articles = by_label["article summaries"]
        assert len(articles) == 3  # 1,000 requests split at 400 per batch
        assert sum(v.remote.request_counts.total for v in articles) == 1000
        assert all(v.remote.processing_status is ProcessingStatus.IN_PROGRESS for v in articles)
        assert len({v.job_id for v in articles}) == 1

        [canceling] = by_label["bulk rewrite"]
        assert canceling.remote.processing_status is ProcessingStatus.CANCELING

        [errors] = by_label["translations-fr"]
        assert errors.remote.processing_status is ProcessingStatus.ENDED
        assert errors.remote.request_counts.errored > 0

        [canceled] = by_label["abandoned experiment"]
        assert canceled.remote.request_counts.canceled > 0

        [expired] = by_label["nightly eval"]
        assert expired.remote.request_counts.expired > 0

        [elsewhere] = by_label[None]
        assert elsewhere.job_id is None
        assert not elsewhere.has_manifest

        # Nothing leaves the machine: the service talks to the in-process emulator.
        assert demo.service.base_url.startswith("http://127.0.0.1:")


async def test_demo_shows_todays_result_shapes() -> None:
    """Thinking with tool calls, refusals and structured outputs, as the API returns them."""
    import orjson

    async with start_demo() as demo:
        by_label = {v.label: v for v in demo.service.batches()}
        kinds: dict[str, set[str]] = {}
        stops: dict[str, set[str]] = {}
        for label in ("support agent", "content review", "ticket triage"):
            view = by_label[label]
            assert view.remote.processing_status is ProcessingStatus.ENDED
            chunks = [c async for c, _ in demo.service._api.iter_results(view.id)]
            for line in b"".join(chunks).splitlines():
                message = orjson.loads(line)["result"]["message"]
                kinds.setdefault(label, set()).update(b["type"] for b in message["content"])
                stops.setdefault(label, set()).add(message["stop_reason"])
        assert {"thinking", "tool_use", "text"} <= kinds["support agent"]
        assert "tool_use" in stops["support agent"]
        assert "refusal" in stops["content review"]
        assert stops["ticket triage"] == {"end_turn"}

"""The demo's OpenAI side: an OpenAI emulator with batches in every Batch API state."""

from __future__ import annotations

import pytest
from batchtop.core.costs import batch_cost
from batchtop.core.demo import start_demo


async def test_demo_has_openai_batches_in_every_state() -> None:
    from openai import AsyncOpenAI

    async with start_demo() as demo:
        assert demo.openai_base_url is not None
        assert demo.openai_base_url.startswith("http://127.0.0.1:")
        assert demo.openai_base_url.endswith("/v1")
        async with AsyncOpenAI(api_key="demo", base_url=demo.openai_base_url) as oai:
            by_id = {b.id: b async for b in oai.batches.list()}
            assert set(by_id) == set(demo.openai_batches.values())
            batches = {name: by_id[i] for name, i in demo.openai_batches.items()}
            status = {name: b.status for name, b in batches.items()}
            assert status == {
                "nightly eval": "expired",
                "product embeddings": "completed",
                "faq answers": "completed",
                "broken upload": "failed",
                "abandoned rewrite": "cancelled",
                "support replies": "in_progress",
                "ticket tags": "validating",
            }
            assert {b.endpoint for b in batches.values()} == {
                "/v1/chat/completions",
                "/v1/responses",
                "/v1/embeddings",
            }
            expired = batches["nightly eval"]
            assert expired.request_counts is not None
            assert 0 < expired.request_counts.completed < expired.request_counts.total
            errors = await oai.files.content(expired.error_file_id)
            assert b"batch_expired" in errors.content
            faq = batches["faq answers"]
            assert faq.request_counts is not None
            assert faq.request_counts.failed == 3
            broken = batches["broken upload"]
            assert broken.errors is not None
            assert [e.code for e in broken.errors.data or []] == ["duplicate_custom_id"]
            cancelled = batches["abandoned rewrite"]
            assert cancelled.request_counts is not None
            assert 0 < cancelled.request_counts.completed < cancelled.request_counts.total
            # the Anthropic side is as before, on its own port
            assert demo.service.base_url != demo.openai_base_url.removesuffix("/v1")
        # the running demo adds OpenAI batches too (DemoLife), through the dashboard's service
        assert demo.life is not None
        assert demo.life.openai is demo.openai_service
        assert demo.life.openai_emulator is demo.openai_emulator
        # what the dashboard shows of the expired eval: its unrun requests as expired (Exp)
        assert demo.openai_service is not None
        shown = demo.openai_service.batch(demo.openai_batches["nightly eval"])
        assert shown is not None
        counts = shown.remote.request_counts
        assert (counts.succeeded, counts.errored, counts.expired) == (40, 0, 20)


async def test_the_demos_own_openai_batches_are_batchtops_with_inputs_and_costs() -> None:
    """The demo submits its OpenAI batches through batchtop (journal, manifest, model,
    estimate), as the Anthropic side: an ended one shows its estimated cost at OpenAI's
    prices, and only the other tool's upload is "created elsewhere"."""
    async with start_demo() as demo:
        service = demo.openai_service
        assert service is not None
        # today's models: the default OpenAI model (the cheapest current one) and one more
        models = {
            "nightly eval": "gpt-6-luna",
            "product embeddings": "text-embedding-3-small",
            "faq answers": "gpt-6-luna",
            "abandoned rewrite": "gpt-6.1-terra",
            "support replies": "gpt-6-luna",
            "ticket tags": "gpt-6-luna",
        }
        for name, model in models.items():
            view = service.batch(demo.openai_batches[name])
            assert view is not None, name
            assert (view.label, view.model, view.has_manifest) == (name, model, True)
            assert view.job_id is not None
            cost = batch_cost(view)
            assert cost.usd is not None, name
            assert cost.usd > 0, name
            # running: the estimate (~); ended: what its usage was billed, results or not
            assert cost.is_estimate == view.remote.is_active, name
            assert cost.price_source.endswith("(OpenAI pricing page)")
        # 77 of 80 succeeded: billed from the batch's usage, before any download
        faq = service.batch(demo.openai_batches["faq answers"])
        assert faq is not None
        assert not faq.results_downloaded
        billed = batch_cost(faq).usd
        assert billed is not None
        assert (await service.download_results(faq.id)).rows == 80
        faq = service.batch(faq.id)
        assert faq is not None
        assert batch_cost(faq).usd == pytest.approx(billed)  # the rows' usage says the same
        broken = service.batch(demo.openai_batches["broken upload"])
        assert broken is not None
        assert not broken.has_manifest
        assert broken.job_id is None
        assert broken.label is None
        # it failed validation: nothing ran, nothing is billed, and it says why
        assert (batch_cost(broken).usd, batch_cost(broken).is_estimate) == (0.0, False)
        assert broken.remote.has_errors
        assert broken.remote.failure is not None
        assert "duplicate_custom_id" in broken.remote.failure

"""The OpenAI side of the demo workspace: an OpenAI emulator seeded with batches in every
state the Batch API has (completed with and without errors, expired, cancelled, failed
validation, in progress, validating), over chat completions, responses and embeddings.

The demo's own batches are submitted through batchtop (a service on the demo's OpenAI store,
as the Anthropic side is seeded): each has its job, manifest, model and cost estimate, as a
team's own batchtop would have them. One is what another tool made over plain HTTP (urllib):
an upload with a duplicate custom_id, which batchtop's checks would have refused, so it
failed validation and batchtop knows nothing of its inputs. Old batches are made by moving
the demo clock into the past and forward again, as `demo.seed` does for the Anthropic ones.
"""

from __future__ import annotations

import urllib.request
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .demo import DEMO_KEY, article

if TYPE_CHECKING:
    from .emulator import EmulatorHandle
    from .service import BatchService

CHAT, RESPONSES, EMBEDDINGS = "/v1/chat/completions", "/v1/responses", "/v1/embeddings"


class OffsetClock(Protocol):
    def set_offset(self, seconds: float) -> None: ...

    def jump(self, seconds: float) -> None: ...


def _articles(i: int) -> str:
    return str(article(i)["content"])


def _cheapest() -> str:
    """The demo's model: the default OpenAI model (the cheapest current one; chosen from the
    model and price data, as an import without a model gets it)."""
    from .openai_models import default_model

    return default_model() or ""


def _chat(prefix: str, n: int, task: str, model: str | None = None) -> list[dict[str, Any]]:
    model = model or _cheapest()
    return [
        {
            "custom_id": f"{prefix}-{i:03d}",
            "method": "POST",
            "url": CHAT,
            "body": {
                "model": model,
                "max_completion_tokens": 300,
                "messages": [
                    {"role": "system", "content": "You are a concise assistant."},
                    {"role": "user", "content": f"{task}: {_articles(i)}"},
                ],
            },
        }
        for i in range(n)
    ]


def _responses(prefix: str, n: int, task: str) -> list[dict[str, Any]]:
    model = _cheapest()
    return [
        {
            "custom_id": f"{prefix}-{i:03d}",
            "method": "POST",
            "url": RESPONSES,
            "body": {"model": model, "input": f"{task}: {_articles(i)}"},
        }
        for i in range(n)
    ]


def _embeddings(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"{prefix}-{i:03d}",
            "method": "POST",
            "url": EMBEDDINGS,
            "body": {
                "model": "text-embedding-3-small",
                "input": _articles(i),
                "dimensions": 256,
            },
        }
        for i in range(n)
    ]


class _Client:
    """Just enough of the Files and Batches API over urllib."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url  # ends in /v1

    def _call(self, method: str, path: str, body: bytes | None, content_type: str) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            method=method,
            headers={"authorization": f"Bearer {DEMO_KEY}", "content-type": content_type},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return orjson.loads(response.read())

    def upload(self, lines: list[dict[str, Any]], name: str) -> str:
        boundary = uuid.uuid4().hex
        data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file";'
                f' filename="{name}"\r\nContent-Type: application/jsonl\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        answer = self._call("POST", "/files", body, f"multipart/form-data; boundary={boundary}")
        return str(answer["id"])

    def create(self, lines: list[dict[str, Any]], name: str, endpoint: str) -> str:
        file_id = self.upload(lines, f"{name.replace(' ', '-')}.jsonl")
        body = orjson.dumps(
            {
                "input_file_id": file_id,
                "endpoint": endpoint,
                "completion_window": "24h",
                "metadata": {"name": name},
            }
        )
        return str(self._call("POST", "/batches", body, "application/json")["id"])

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", f"/batches/{batch_id}", None, "application/json")
        return answer


async def _submit(service: BatchService, lines: list[dict[str, Any]], name: str) -> str:
    """Submit OpenAI-format lines through batchtop (journal, manifest, estimate), labelled."""
    requests = [{"custom_id": line["custom_id"], "params": line["body"]} for line in lines]
    outcome = await service.submit_requests(
        requests, name=name, label=name, endpoint=lines[0]["url"]
    )
    return outcome.batch_ids[0]


async def seed_openai(
    service: BatchService, emulator: EmulatorHandle, clock: OffsetClock
) -> dict[str, str]:
    """Create the OpenAI demo batches through `service` (an OpenAI one on the demo's
    emulator); leaves the clock at real time (offset 0). Returns {name: batch id}."""
    import asyncio

    from .emulator import Rule

    hour = 3600.0
    api = _Client(emulator.base_url)
    made: dict[str, str] = {}

    def rules(*new: Rule, **config: Any) -> None:
        def apply() -> None:
            emulator.server.config.rules = list(new)
            for key, value in config.items():
                setattr(emulator.server.config, key, value)

        emulator.call(apply)

    clock.set_offset(-28 * hour)
    # An eval run that hit the 24 h window: the slow part is in the error file as expired.
    rules(Rule(r"-0[4-5]\d$", delay_s=40 * hour))
    made["nightly eval"] = await _submit(
        service, _chat("oeval", 60, "Grade this answer"), "nightly eval"
    )

    clock.jump(2 * hour)
    rules()
    made["product embeddings"] = await _submit(
        service, _embeddings("emb", 120), "product embeddings"
    )

    clock.jump(1 * hour)
    rules(
        Rule(r"-0(11|47)$", "errored", "server_error", "The server had an error."),
        Rule(r"-063$", "errored", "invalid_request_error", "Invalid 'input': too long."),
    )
    made["faq answers"] = await _submit(
        service, _responses("faq", 80, "Answer this FAQ"), "faq answers"
    )

    clock.jump(0.5 * hour)
    rules()
    # Another tool's upload, over plain HTTP: a duplicate custom_id fails its validation.
    broken = _chat("dup", 30, "Summarise")
    broken[17] = {**broken[17], "custom_id": broken[3]["custom_id"]}
    made["broken upload"] = await asyncio.to_thread(api.create, broken, "broken upload", CHAT)

    clock.jump(0.5 * hour)
    rules(cancel_delay_s=30.0)
    abandoned = await _submit(
        service, _chat("rw", 150, "Rewrite this", "gpt-6.1-terra"), "abandoned rewrite"
    )
    made["abandoned rewrite"] = abandoned
    clock.jump(20.0)
    await service.cancel(abandoned)

    clock.jump(26 * hour)  # everything above ran to its end (the eval expired 4 h ago)
    for batch_id in made.values():  # settled now: its files are written with these times
        await asyncio.to_thread(api.retrieve, batch_id)

    clock.set_offset(0)
    rules(cancel_delay_s=5.0, finalize_delay_s=10.0)
    made["support replies"] = await _submit(
        service, _chat("support", 400, "Draft a reply to this customer"), "support replies"
    )
    rules(start_delay_s=20.0, finalize_delay_s=10.0)
    made["ticket tags"] = await _submit(
        service, _responses("tag", 120, "Tag this ticket"), "ticket tags"
    )
    rules(start_delay_s=0.0)
    # the store holds them as they are now (as the Anthropic seeding leaves its own): the
    # dashboard's first refresh sees no batch end, so it downloads nothing on its own
    await service.refresh()
    return made

"""The demo workspace: the emulator in-process, seeded with batches in every state.

`batchtop --demo` must show a live, realistic dashboard without an API key: the classic
"summarise 1,000 articles" job split in parts and still running, a batch being canceled, ended
batches with errors, a canceled one, an expired one and one created "elsewhere" (no local
manifest). Older batches are made by running the emulator's clock in the past and jumping it
forward, so their timestamps and outcomes are what the real API would show.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from .config import Settings
from .emulator import EmulatorConfig, EmulatorHandle, Rule, run_in_thread
from .models import ImportOptions
from .service import BatchService

DEMO_KEY = "demo-key-not-secret"
#: Requests per second each emulated batch processes: the 1,000-article job ends in ~2 min.
DEMO_RATE = 4.0

_TOPICS = [
    ("Tidal energy", "coastal turbines", "grid operators"),
    ("Urban beekeeping", "rooftop hives", "city councils"),
    ("Quantum sensors", "magnetometers", "geologists"),
    ("Sourdough science", "wild yeast cultures", "bakers"),
    ("Night trains", "sleeper routes", "rail operators"),
    ("Coral restoration", "larval seeding", "marine biologists"),
    ("Heat pumps", "cold-climate units", "homeowners"),
    ("Open-source firmware", "router updates", "maintainers"),
]


class DemoClock:
    """Real time plus an offset that seeding moves, so old batches get real-looking dates."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = timedelta(seconds=seconds)


@dataclass
class Demo:
    service: BatchService
    emulator: EmulatorHandle
    clock: DemoClock
    home: Path

    def now(self) -> datetime:
        return self.clock.now()


def article(i: int) -> dict[str, Any]:
    """A deterministic, readable fake article."""
    title, subject, audience = _TOPICS[i % len(_TOPICS)]
    return {
        "id": f"article-{i:04d}",
        "title": f"{title}, part {i // len(_TOPICS) + 1}",
        "content": (
            f"{title} is changing how {audience} think about {subject}. "
            f"This piece ({i}) looks at the costs, the early results and what comes next "
            f"for {subject} over the coming decade."
        ),
    }


def write_articles(path: Path, count: int = 1000) -> Path:
    path.write_bytes(orjson.dumps([article(i) for i in range(count)]))
    return path


def _requests(prefix: str, count: int, model: str = "claude-haiku-4-5") -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"{prefix}-{i:03d}",
            "params": {
                "model": model,
                "max_tokens": 300,
                "messages": [
                    {"role": "user", "content": f"Translate into French: {article(i)['content']}"}
                ],
            },
        }
        for i in range(count)
    ]


ORDER_TOOL = {
    "name": "lookup_order",
    "description": "Find an order by its number",
    "input_schema": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "include_items": {"type": "boolean"},
        },
        "required": ["order_id"],
    },
}
TICKET_SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "shipping", "bug", "other"]},
        "urgent": {"type": "boolean"},
        "summary": {"type": "string"},
    },
    "required": ["category", "urgent", "summary"],
    "additionalProperties": False,
}


def _shaped_batches() -> list[tuple[str, list[dict[str, Any]]]]:
    """Batches whose results show today's shapes (the emulator derives them from the
    requests): adaptive thinking with tool calls, refusals, structured JSON outputs."""

    def req(cid: str, text: str, **params: Any) -> dict[str, Any]:
        body = {"model": "claude-haiku-5-5", "max_tokens": 1024}
        body |= {"messages": [{"role": "user", "content": text}], **params}
        return {"custom_id": cid, "params": body}

    support = [
        req(
            f"support-{i:03d}",
            f"Customer {i} asks where order A{1000 + i} is"
            + (": call lookup_order." if i % 2 == 0 else "."),
            tools=[ORDER_TOOL],
        )
        for i in range(30)
    ]
    review = [
        req(
            f"review-{i:03d}",
            "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_1FAEFB6177B4672DEE07F9"
            if i % 6 == 0
            else f"Review post {i}: {article(i)['title']}",
        )
        for i in range(24)
    ]
    tickets = [
        req(
            f"ticket-{i:03d}",
            f"Classify this ticket: {article(i)['content']}",
            output_config={"format": {"type": "json_schema", "schema": TICKET_SCHEMA}},
        )
        for i in range(40)
    ]
    return [("support agent", support), ("content review", review), ("ticket triage", tickets)]


@contextmanager
def _demo_home() -> Iterator[Path]:
    """Point every batchtop path at a fresh temporary home for the demo's lifetime."""
    home = Path(tempfile.mkdtemp(prefix="batchtop-demo-"))
    previous = os.environ.get("BATCHTOP_HOME")
    os.environ["BATCHTOP_HOME"] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("BATCHTOP_HOME", None)
        else:
            os.environ["BATCHTOP_HOME"] = previous
        shutil.rmtree(home, ignore_errors=True)


def _set(emulator: EmulatorHandle, **changes: Any) -> None:
    def apply() -> None:
        for key, value in changes.items():
            setattr(emulator.server.config, key, value)

    emulator.call(apply)


async def seed(
    service: BatchService, emulator: EmulatorHandle, clock: DemoClock, home: Path
) -> None:
    """Create the demo workspace; leaves the clock at real time (offset 0)."""
    hour = 3600.0
    clock.set_offset(-30 * hour)

    # An eval run that hit the 24 h expiry: part succeeded, the slow rest expired.
    _set(emulator, rules=[Rule(r"-0[3-9]\d$", delay_s=40 * hour)])
    await service.submit_requests(
        _requests("eval", 100, "claude-sonnet-4-6"), name="nightly eval", label="nightly eval"
    )

    # Translations that ended with a few errors of different kinds.
    clock.jump(1 * hour)
    _set(
        emulator,
        rules=[
            Rule(
                r"-01[37]$",
                outcome="errored",
                error_type="overloaded_error",
                error_message="Overloaded",
            ),
            Rule(
                r"-04[25]$",
                outcome="errored",
                error_type="invalid_request_error",
                error_message="messages.0.content: Input should be a valid list",
            ),
        ],
    )
    await service.submit_requests(
        _requests("fr", 120), name="translations", label="translations-fr"
    )

    # An experiment canceled half way.
    clock.jump(1 * hour)
    _set(emulator, rules=[], cancel_delay_s=30.0)
    canceled = await service.submit_requests(
        _requests("exp", 200, "claude-opus-4-7"),
        name="prompt experiment",
        label="abandoned experiment",
    )
    clock.jump(25.0)
    await service.cancel(canceled.batch_ids[0])

    # Today's result shapes: thinking + tool calls, refusals, structured outputs.
    clock.jump(1 * hour)
    for name, requests in _shaped_batches():
        await service.submit_requests(requests, name=name, label=name)

    # Let all of the above run to their end (the eval batch expires at -6 h).
    clock.jump(25 * hour)

    # A batch another tool created: no job, no manifest, no label.
    clock.set_offset(-2 * hour)
    await asyncio.to_thread(_create_elsewhere, emulator.base_url)

    # Live work: the classic 1,000-article job (split in parts) and a batch being canceled.
    clock.set_offset(0)
    _set(
        emulator,
        rules=[
            Rule(
                r"article-0(13|77|512|808)$",
                outcome="errored",
                error_type="api_error",
                error_message="Internal server error",
            )
        ],
        cancel_delay_s=90.0,
    )
    articles = write_articles(home / "articles.json")
    report = await service.analyse(
        articles,
        ImportOptions(
            format="json",
            template="Summarise this article in two sentences.\n\n{title}\n\n{content}",
            model="claude-haiku-4-5",
            max_tokens=200,
            id_field="id",
            max_requests_per_batch=400,
        ),
    )
    await service.submit(report, name="summarise 1,000 articles", label="article summaries")
    _set(emulator, rules=[])
    stopping = await service.submit_requests(
        _requests("bulk", 300, "claude-sonnet-4-6"), name="bulk rewrite", label="bulk rewrite"
    )
    await service.cancel(stopping.batch_ids[0])
    _set(emulator, cancel_delay_s=5.0)
    await service.refresh()


def _create_elsewhere(base_url: str) -> None:
    """What a colleague's script does: a plain HTTP create, unknown to batchtop's store."""
    import urllib.request

    body = orjson.dumps({"requests": _requests("ext", 40, "claude-sonnet-4-6")})
    request = urllib.request.Request(
        f"{base_url}/v1/messages/batches",
        data=body,
        headers={"content-type": "application/json", "x-api-key": DEMO_KEY},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


@asynccontextmanager
async def start_demo(settings: Settings | None = None) -> AsyncIterator[Demo]:
    """Start the emulator, a fresh demo store and a seeded workspace; clean up on exit."""
    settings = replace(settings or Settings(), refresh_interval_s=5.0)
    clock = DemoClock()
    config = EmulatorConfig(counters="live", rate=DEMO_RATE, seed=7)
    with _demo_home() as home, run_in_thread(config, clock=clock) as emulator:
        service = await BatchService.open(
            home / "batchtop.sqlite3",
            settings,
            api_key=DEMO_KEY,
            base_url=emulator.base_url,
            now=clock.now,
        )
        try:
            await seed(service, emulator, clock, home)
            yield Demo(service, emulator, clock, home)
        finally:
            await service.close(wait_for_search_index=False)

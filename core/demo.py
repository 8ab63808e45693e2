"""The demo workspace: the emulator in-process, seeded with batches in every state, kept alive.

`batchtop --demo` must show a live, realistic dashboard without an API key: the classic
"summarise 1,000 articles" job split in parts and still running, a batch being canceled, ended
batches with errors, a canceled one, an expired one and one created "elsewhere" (no local
manifest). Older batches are made by running the emulator's clock in the past and jumping it
forward, so their timestamps and outcomes are what the real API would show.

Paint first: `open_demo` is instant (a fresh home, its store and the service, the emulator's
port reserved; the emulator and aiohttp are not even imported), so the dashboard draws its
first frame at once; `Demo.start` then starts the emulator and seeds (seconds: the SDK loads),
and `Demo.keep_alive` makes new batches arrive for as long as the demo is open (`DemoLife`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .config import Settings
from .errors import BatchtopError
from .fleet import Fleet
from .models import ImportOptions
from .processes import named_pid, pid_alive
from .service import BatchService

if TYPE_CHECKING:
    from .emulator import EmulatorHandle, Rule

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
    """Real time plus an offset that seeding moves, so old batches get real-looking dates.

    `base` stands in for real time (a fixed instant: a demo that looks the same on every
    run, for screenshots)."""

    def __init__(self, offset_s: float = 0.0, base: Callable[[], datetime] | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(seconds=offset_s)
        self._base = base or _real_now

    def now(self) -> datetime:
        with self._lock:
            return self._base() + self._offset

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = timedelta(seconds=seconds)


def _real_now() -> datetime:
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...


class Demo:
    """A demo workspace: `open_demo` builds it (instant), `start` brings it up (seconds),
    `keep_alive` keeps it moving, `close` removes everything it made."""

    def __init__(
        self,
        service: BatchService,
        clock: DemoClock,
        home: tuple[Path, str | None],
        sock: socket.socket,
        openai_sock: socket.socket | None = None,
        openai_service: BatchService | None = None,
    ) -> None:
        self.service = service
        # The OpenAI side's service (its own store in the demo's home), when the `openai`
        # SDK is installed: the dashboard shows both providers' batches (`fleet`).
        self.openai_service = openai_service
        self.fleet = Fleet([service, openai_service] if openai_service else [service])
        self.clock = clock
        self.home, self._home_before = home
        self.emulator: EmulatorHandle | None = None
        self.life: DemoLife | None = None
        self._sock: socket.socket | None = sock
        # The OpenAI emulator's port, reserved like the Anthropic one: its URL is known
        # before `start` (the OpenAI side of the demo: `demo_openai.py`).
        self._openai_sock = openai_sock
        self.openai_base_url = (
            f"http://127.0.0.1:{openai_sock.getsockname()[1]}/v1" if openai_sock else None
        )
        self.openai_emulator: EmulatorHandle | None = None
        self.openai_batches: dict[str, str] = {}
        self._stack = ExitStack()
        self.started = False

    def now(self) -> datetime:
        return self.clock.now()

    async def start(self) -> None:
        """Start the emulator on the reserved port and seed the workspace (through a service
        of its own: the front end sees the result once it is complete, not the seeding)."""
        from .emulator import EmulatorConfig, run_in_thread
        from .store import Store

        config = EmulatorConfig(counters="live", rate=DEMO_RATE, seed=7)
        # The OpenAI side first: the Anthropic seeding ends the clock at now.
        if self._openai_sock is not None and self.openai_service is not None:
            await self._start_openai(self.openai_service)
        sock, self._sock = self._sock, None
        self.emulator = await asyncio.to_thread(
            self._stack.enter_context, run_in_thread(config, clock=self.clock, sock=sock)
        )
        store = await asyncio.to_thread(lambda: Store.open(self.service.store.path, durable=False))
        seeder = BatchService(
            store,
            self.service.settings,
            api_key=DEMO_KEY,
            base_url=self.service.base_url,
            now=self.clock.now,
        )
        seeder.auto_download = False
        try:
            await seed(seeder, self.emulator, self.clock, self.home)
        finally:
            await seeder.close()
            store.close()
        if self.openai_service is not None:  # after the Anthropic seeding: the clock is now
            with contextlib.suppress(BatchtopError):  # the Anthropic side is shown anyway
                await self.openai_service.refresh()
        self.life = DemoLife(
            self.service,
            self.emulator,
            self.clock,
            openai=self.openai_service if self.openai_emulator is not None else None,
            openai_emulator=self.openai_emulator,
        )
        self.started = True

    async def _start_openai(self, shown: BatchService) -> None:
        from .demo_openai import seed_openai
        from .emulator import EmulatorConfig, run_in_thread

        config = EmulatorConfig(counters="live", rate=DEMO_RATE, seed=7)
        sock, self._openai_sock = self._openai_sock, None
        self.openai_emulator = await asyncio.to_thread(
            self._stack.enter_context,
            run_in_thread(config, clock=self.clock, sock=sock, api="openai"),
        )
        from .store import Store

        # through a service of its own on the OpenAI store, as the Anthropic side is seeded
        store = await asyncio.to_thread(lambda: Store.open(shown.store.path, durable=False))
        seeder = BatchService(
            store,
            shown.settings,
            api_key=DEMO_KEY,
            base_url=self.openai_base_url,
            now=self.clock.now,
            provider="openai",
        )
        seeder.auto_download = False
        try:
            self.openai_batches = await seed_openai(seeder, self.openai_emulator, self.clock)
        finally:
            await seeder.close()
            store.close()

    async def keep_alive(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """New batches now and then, for as long as the demo is open (cancel to stop)."""
        if self.life is None:
            raise RuntimeError("start the demo first")
        while True:
            with contextlib.suppress(BatchtopError):
                await self.life.step()
            await sleep(LIFE_TICK_S)

    async def close(self) -> None:
        """Stop the emulators, close the services and remove the demo's home."""
        try:
            await self.fleet.close(wait_for_search_index=False)
        finally:
            for sock in (self._sock, self._openai_sock):
                if sock is not None:
                    sock.close()
            self._stack.close()  # the emulator (its thread ends in milliseconds)
            _leave_home(self.home, self._home_before)


async def open_demo(settings: Settings | None = None, clock: DemoClock | None = None) -> Demo:
    """A demo ready to paint from (an empty store) with nothing started: see `Demo.start`."""
    settings = replace(settings or Settings(), refresh_interval_s=5.0)
    clock = clock or DemoClock()
    home, before = _enter_home()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # until the emulator serves it, a connection waits in the backlog
        openai_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        openai_sock.bind(("127.0.0.1", 0))
        openai_sock.listen(128)
        opening = [
            BatchService.open(
                home / "batchtop.sqlite3",
                settings,
                api_key=DEMO_KEY,
                base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
                now=clock.now,
                durable=False,  # removed on close: no fsync before the first frame
            )
        ]
        if importlib.util.find_spec("openai") is not None:  # the OpenAI side is shown too
            opening.append(
                BatchService.open(
                    home / "openai.sqlite3",
                    settings,
                    api_key=DEMO_KEY,
                    base_url=f"http://127.0.0.1:{openai_sock.getsockname()[1]}/v1",
                    now=clock.now,
                    provider="openai",
                    durable=False,
                )
            )
        # both stores are made at once (each one's creation waits on the disk, in a thread)
        service, *others = await asyncio.gather(*opening)
        openai_service = others[0] if others else None
    except BaseException:
        _leave_home(home, before)
        raise
    return Demo(service, clock, (home, before), sock, openai_sock, openai_service)


@asynccontextmanager
async def start_demo(settings: Settings | None = None) -> AsyncIterator[Demo]:
    """A started demo (emulator up, workspace seeded) for the block; cleaned up after it."""
    demo = await open_demo(settings)
    try:
        await demo.start()
        yield demo
    finally:
        await demo.close()


# --- a demo that stays alive -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """A batch the demo submits while it is open (its requests are `prefix<n>-<i>`);
    `endpoint`: an OpenAI batch's endpoint (None: a Message Batch); `model` "": the
    provider's default model (`BatchService.default_model`); `dimensions`: the embeddings
    asked for (None: the model's)."""

    name: str
    prefix: str
    count: int
    model: str
    endpoint: str | None = None
    dimensions: int | None = None


#: What arrives, in turn: a short one with a few errors, a long one that progresses for
#: minutes, one that ends with errors a retry can and cannot fix, a medium one.
ARRIVALS = (
    Arrival("inbox triage", "triage", 80, "claude-haiku-4-5"),
    Arrival("catalogue rewrite", "catalogue", 1200, "claude-sonnet-4-6"),
    Arrival("contract summaries", "contract", 150, "claude-sonnet-4-6"),
    Arrival("review sentiment", "review", 300, "claude-haiku-4-5"),
)
#: What arrives on the OpenAI side, in turn (through the demo's OpenAI emulator): one per
#: endpoint, chat with a few server errors.
OPENAI_ARRIVALS = (
    Arrival("email drafts", "omail", 240, "", "/v1/chat/completions"),
    Arrival("faq refresh", "ofaq", 90, "", "/v1/responses"),
    # 256 dimensions, as the seeded embeddings: 1,536 made each arrival's results 7 MB
    Arrival("search embeddings", "oemb", 400, "text-embedding-3-small", "/v1/embeddings", 256),
)
LIFE_TICK_S = 2.0  # how often the running demo looks whether a batch is due (real seconds)
#: Arrivals per provider whose results the emulators keep; older ones are retired once they
#: ended and the dashboard has their results (the batch stays listed, its results are kept
#: by batchtop's store): a demo open all day holds a bounded amount in its emulators.
KEEP_ARRIVALS = 6


def _life_rules() -> list[Rule]:
    from .emulator import Rule

    return [
        Rule(r"^triage\d+-\d*(17|53)$", "errored", "overloaded_error", "Overloaded"),
        Rule(
            r"^contract\d+-\d*(04|31|77)$",
            "errored",
            "invalid_request_error",
            "messages.0.content: Input should be a valid list",
        ),
        Rule(r"^contract\d+-\d*(12|58)$", "errored", "api_error", "Internal server error"),
    ]


def _openai_life_rules() -> list[Rule]:
    from .emulator import Rule

    return [Rule(r"^omail\d+-\d*(29|71)$", "errored", "server_error", "The server had an error.")]


@dataclass
class DemoLife:
    """Makes batches arrive on the emulator's clock: the first `first_after_s` after it is
    made, then one every `every_s` (at most one per `step`, however far the clock jumped).

    With `openai` (the demo's OpenAI service, on `openai_emulator`), OpenAI batches arrive
    too (`OPENAI_ARRIVALS`), on a schedule of their own half a period later, so the rows
    of both providers move.

    Each step also retires arrivals older than the newest `keep` of their provider
    (`retire`): the real APIs keep results for weeks, and the demo's emulators live in the
    dashboard's process, so without it every reply of the day would stay in its memory."""

    service: BatchService
    emulator: EmulatorHandle
    clock: Clock
    first_after_s: float = 20.0
    every_s: float = 45.0
    openai: BatchService | None = None
    openai_emulator: EmulatorHandle | None = None
    arrived: int = 0
    openai_arrived: int = 0
    keep: int = KEEP_ARRIVALS
    next_at: datetime = field(init=False)
    openai_next_at: datetime = field(init=False)
    # the arrivals whose results the emulators still hold, oldest first, per provider
    held: list[str] = field(init=False, default_factory=list)
    openai_held: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.next_at = self.clock.now() + timedelta(seconds=self.first_after_s)
        self.openai_next_at = self.next_at + timedelta(seconds=self.every_s / 2)
        _set(self.emulator, rules=_life_rules())  # matched by the arrivals' ids only
        if self.openai_emulator is not None:
            _set(self.openai_emulator, rules=_openai_life_rules())

    async def step(self) -> str | None:
        """Submit the batch that is due, if one is (the Anthropic one first when both are);
        returns its id. Arrivals past their time are retired first (`retire`)."""
        await self.retire()
        now = self.clock.now()
        if now >= self.next_at:
            self.next_at = max(self.next_at, now) + timedelta(seconds=self.every_s)
            arrival = ARRIVALS[self.arrived % len(ARRIVALS)]
            self.arrived += 1
            return _held(self.held, await self._submit(self.service, arrival, self.arrived))
        if self.openai is not None and now >= self.openai_next_at:
            self.openai_next_at = max(self.openai_next_at, now) + timedelta(seconds=self.every_s)
            arrival = OPENAI_ARRIVALS[self.openai_arrived % len(OPENAI_ARRIVALS)]
            self.openai_arrived += 1
            batch_id = await self._submit(self.openai, arrival, self.openai_arrived)
            return _held(self.openai_held, batch_id)
        return None

    async def retire(self) -> int:
        """Have the emulators drop the results of arrivals older than the newest `keep` of
        their provider, once the store shows them ended with their results downloaded (or
        with none to download); returns how many were retired. A retired batch is still
        listed: Anthropic's is archived, OpenAI's files expired, as the APIs do weeks
        after."""
        retired = 0
        sides = [(self.service, self.emulator, self.held)]
        if self.openai is not None and self.openai_emulator is not None:
            sides.append((self.openai, self.openai_emulator, self.openai_held))
        for service, emulator, held in sides:
            for batch_id in held[: max(0, len(held) - self.keep)]:
                view = await asyncio.to_thread(service.batch, batch_id)
                if view is None or view.remote.is_active:
                    continue
                if view.remote.has_results and not view.results_downloaded:
                    continue  # the dashboard is downloading it
                await asyncio.to_thread(emulator.retire, batch_id)
                held.remove(batch_id)
                retired += 1
        return retired

    @staticmethod
    async def _submit(service: BatchService, arrival: Arrival, n: int) -> str | None:
        prefix = f"{arrival.prefix}{n}"
        requests = [
            {"custom_id": f"{prefix}-{i:04d}", "params": _arrival_body(service, arrival, i)}
            for i in range(arrival.count)
        ]
        outcome = await service.submit_requests(
            requests, name=arrival.name, label=arrival.name, endpoint=arrival.endpoint
        )
        return outcome.batch_ids[0] if outcome.batch_ids else None


def _held(held: list[str], batch_id: str | None) -> str | None:
    if batch_id is not None:
        held.append(batch_id)
    return batch_id


def _arrival_body(service: BatchService, arrival: Arrival, i: int) -> dict[str, Any]:
    prompt = f"{arrival.name}: {article(i)['content']}"
    if arrival.endpoint is None:
        return {
            "model": arrival.model,
            "max_tokens": 300,
            "messages": [{"role": "user", "content": prompt}],
        }
    # the endpoint's output budget field (none for embeddings), as an import makes it
    model = arrival.model or service.default_model(arrival.endpoint)
    body = service.openai_body(prompt, model=model, max_tokens=300, endpoint=arrival.endpoint)
    if arrival.dimensions is not None:
        body["dimensions"] = arrival.dimensions
    return body


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


DEMO_HOME = "batchtop-demo-"  # + the demo's pid, "-", a random part: in the temp directory


def remove_dead_demo_homes(temp: Path) -> list[Path]:
    """Remove the homes of demos whose process is gone (a killed demo removes nothing) and
    that are this user's; a running demo's is never touched. Returns the removed."""
    removed = []
    for path in temp.glob(f"{DEMO_HOME}*"):
        field, dash, _rest = path.name.removeprefix(DEMO_HOME).partition("-")
        pid = named_pid(field)
        if not dash or pid is None or pid_alive(pid):
            continue  # a live demo's, or not named by one (not batchtop's to judge)
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _enter_home() -> tuple[Path, str | None]:
    """Point every batchtop path at a fresh temporary home for the demo's lifetime (after
    removing those killed demos left); returns it and the BATCHTOP_HOME it replaces."""
    temp = Path(tempfile.gettempdir())
    remove_dead_demo_homes(temp)
    home = Path(tempfile.mkdtemp(prefix=f"{DEMO_HOME}{os.getpid()}-", dir=temp))
    previous = os.environ.get("BATCHTOP_HOME")
    os.environ["BATCHTOP_HOME"] = str(home)
    return home, previous


def _leave_home(home: Path, previous: str | None) -> None:
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
    from .emulator import Rule

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

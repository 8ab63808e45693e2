"""OpenAI emulator, Files API, through the official `openai` SDK on a real port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batchtop.core.emulator import EmulatorHandle

from .openai_support import api_status, chat_lines, jsonl, upload

START = int(datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp())  # the fixture clock


def test_upload_retrieve_content_delete(oai: Any, openai_emulator: EmulatorHandle) -> None:
    data = jsonl(chat_lines(3))
    created = oai.files.create(file=("input.jsonl", data), purpose="batch")
    assert created.id.startswith("file-")
    assert created.object == "file"
    assert created.bytes == len(data)
    assert created.filename == "input.jsonl"
    assert created.purpose == "batch"
    assert created.created_at == START
    assert created.expires_at == START + 30 * 86_400  # batch files expire after 30 days
    assert oai.files.retrieve(created.id) == created
    assert oai.files.content(created.id).content == data
    deleted = oai.files.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "file")
    with api_status(404, match="No such File object"):
        oai.files.retrieve(created.id)
    with api_status(404):
        oai.files.content(created.id)
    assert openai_emulator.stats.count("file_upload", 200) == 1
    assert openai_emulator.stats.count("file_retrieve", 404) == 1


def test_upload_expires_after(oai: Any) -> None:
    f = oai.files.create(
        file=("x.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert f.expires_at == f.created_at + 3600
    with api_status(400, match="expires_after.seconds"):
        oai.files.create(
            file=("x.jsonl", b"{}\n"),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": 60},
        )


def test_file_expires_on_the_clock(oai: Any, openai_emulator: EmulatorHandle) -> None:
    f = oai.files.create(
        file=("x.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    openai_emulator.advance(3599)
    assert oai.files.retrieve(f.id).id == f.id
    openai_emulator.advance(1)
    with api_status(404):
        oai.files.retrieve(f.id)


def test_upload_refusals(oai: Any) -> None:
    with api_status(400, match="'nonsense'") as info:
        oai.files.create(file=("x.jsonl", b"{}\n"), purpose="nonsense")
    assert info.value.response.json()["error"]["param"] == "purpose"
    with api_status(400, match="Must be .jsonl"):
        oai.files.create(file=("x.csv", b"a,b\n"), purpose="batch")
    # other purposes take any file name
    assert oai.files.create(file=("notes.txt", b"hi"), purpose="user_data").purpose == "user_data"


def test_list_pages_with_after_and_limit(oai: Any) -> None:
    ids = [upload(oai, chat_lines(1), f"f{i}.jsonl").id for i in range(5)]
    page = oai.files.list(limit=2)
    assert [f.id for f in page.data] == ids[::-1][:2]  # newest first
    assert page.has_more is True
    assert [f.id for f in oai.files.list(limit=2)] == ids[::-1]  # auto-paging walks all
    oldest_first = oai.files.list(order="asc", limit=3)
    assert [f.id for f in oldest_first.data] == ids[:3]
    assert [f.id for f in oai.files.list(after=ids[2], order="asc")] == ids[3:]
    oai.files.create(file=("n.txt", b"x"), purpose="user_data")
    assert len(oai.files.list(purpose="batch").data) == 5


def test_wrong_key_and_no_key(openai_emulator: EmulatorHandle) -> None:
    from openai import OpenAI

    openai_emulator.call(lambda: setattr(openai_emulator.config, "api_keys", frozenset({"k1"})))
    bad = OpenAI(api_key="not-k1", base_url=openai_emulator.base_url, max_retries=0)
    with api_status(401, match="Incorrect API key") as info:
        bad.files.list()
    assert "not-k1" not in info.value.response.text  # the key is never echoed
    good = OpenAI(api_key="k1", base_url=openai_emulator.base_url, max_retries=0)
    assert good.files.list().data == []


async def test_async_client_files(aoai: Any) -> None:
    data = jsonl(chat_lines(2))
    f = await aoai.files.create(file=("a.jsonl", data), purpose="batch")
    assert (await aoai.files.retrieve(f.id)).bytes == len(data)
    assert (await aoai.files.content(f.id)).content == data
    assert [x.id async for x in aoai.files.list()] == [f.id]
    assert (await aoai.files.delete(f.id)).deleted is True


def test_keys_belong_to_projects(openai_emulator: EmulatorHandle) -> None:
    """A key sees its project's files and batches only; every answer names the organization
    and the project, as OpenAI's `openai-organization` / `openai-project` headers do."""
    from openai import OpenAI

    from .openai_support import submit

    openai_emulator.call(
        lambda: setattr(openai_emulator.config, "key_workspaces", {"k2": "proj_second"})
    )
    one = OpenAI(api_key="k1", base_url=openai_emulator.base_url, max_retries=0)
    two = OpenAI(api_key="k2", base_url=openai_emulator.base_url, max_retries=0)
    batch = submit(one, chat_lines(1))
    raw = one.batches.with_raw_response.retrieve(batch.id)
    assert raw.headers["openai-project"].startswith("proj_")
    assert raw.headers["openai-project"] != "proj_second"
    assert raw.headers["openai-organization"].startswith("org-")
    assert two.files.with_raw_response.list().headers["openai-project"] == "proj_second"
    assert two.batches.list().data == []
    assert two.files.list().data == []
    with api_status(404):
        two.batches.retrieve(batch.id)
    with api_status(404):
        two.files.content(batch.input_file_id)

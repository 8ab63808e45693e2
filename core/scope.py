"""One store per (endpoint, workspace): where each lives, and which one to open first.

A batch belongs to the workspace of the key that created it, and an endpoint (the base URL)
may be another server altogether, so the store of one must never show another's batches.
The scope is named by what the API says about itself, never by the key: every response of
the API carries `anthropic-workspace-id` and `anthropic-organization-id`. A server that sends
neither (a proxy, an emulator of old) is one scope per base URL: batchtop says so.

Layout under the data directory:

    stores/<host>-<hash of the base URL>/
        workspace                the workspace seen last at this endpoint (no secret in it)
        <workspace id>/batchtop.sqlite3
        unscoped/batchtop.sqlite3   the store of a server that names no workspace, and where
                                    a store from before scoping waits to be claimed

Before its first answer, the store of the workspace seen last at the endpoint is shown
(offline start, first frame); the first answer confirms it or switches to the right one
(`BatchService` does that). A store from before scoping (`batchtop.sqlite3` in the data
directory) moves to the `unscoped` store of its endpoint, read from the results URLs it
holds (the current base URL when it holds none); the first workspace at that endpoint that
can retrieve its newest batch claims it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import paths
from .api import DEFAULT_BASE_URL
from .providers.env import provider_base_url
from .redact import url_without_password

if TYPE_CHECKING:
    from .config import Settings

DB_FILENAME = "batchtop.sqlite3"
UNSCOPED = "unscoped"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def scope_name(workspace_id: str | None, organization_id: str | None) -> str:
    """The directory name of a workspace's store: its id, else the organization's, else
    `unscoped` (the server names neither)."""
    if workspace_id:
        return _safe(workspace_id)
    if organization_id:
        return "org-" + _safe(organization_id)
    return UNSCOPED


def _safe(text: str) -> str:
    cleaned = _SAFE.sub("_", text).strip("._")[:80]
    if cleaned == text and cleaned:
        return cleaned
    return f"{cleaned or 'id'}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def endpoint_dir(base_url: str) -> Path:
    """The directory of an endpoint's stores: readable host and port, plus a hash of the
    whole base URL (scheme, user name and path included; a password never: it may change
    and must not be written anywhere, a directory name included)."""
    url = url_without_password(base_url.rstrip("/"))
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1] or url
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return paths.data_dir() / "stores" / f"{_SAFE.sub('_', host)[:60]}-{digest}"


def _endpoint_dir_with_credentials(base_url: str) -> Path:
    """Where batchtop kept an endpoint's stores when the URL's credentials named the
    directory (the password in its readable part and its hash)."""
    url = base_url.rstrip("/")
    parts = urlsplit(url)
    host = parts.netloc or url
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return paths.data_dir() / "stores" / f"{_SAFE.sub('_', host)[:60]}-{digest}"


def move_credential_named_stores(base_url: str) -> Path | None:
    """Move the stores of an endpoint whose directory was named with the URL's credentials
    to the directory named without them (each workspace's store that is not there yet;
    the old directory goes once empty). Returns the new directory when anything moved."""
    if "@" not in base_url:
        return None
    old = _endpoint_dir_with_credentials(base_url)
    new = endpoint_dir(base_url)
    if old == new or not old.is_dir():
        return None
    paths.ensure_private_dir(new)
    moved = False
    for entry in sorted(old.iterdir()):
        target = new / entry.name
        if target.exists():
            continue  # the new place already has one: the old one stays where it is
        with contextlib.suppress(FileNotFoundError):  # another batchtop moved it first
            os.replace(entry, target)
            moved = True
    with contextlib.suppress(OSError):
        old.rmdir()  # only when empty
    return new if moved else None


def store_endpoint(provider: str, settings: Settings, base_url: str | None = None) -> str:
    """The base URL whose stores hold a provider's batches (`base_url`: one given instead
    of the provider's own)."""
    return (base_url or provider_base_url(provider, settings) or DEFAULT_BASE_URL).rstrip("/")


def has_local_store(provider: str, settings: Settings) -> bool:
    """A provider's endpoint has a store its API answered for once (the workspace it named
    is remembered); known without a key or a call."""
    return last_scope(store_endpoint(provider, settings)) is not None


def store_path(base_url: str, name: str) -> Path:
    return endpoint_dir(base_url) / name / DB_FILENAME


def last_scope(base_url: str) -> str | None:
    try:
        text = (endpoint_dir(base_url) / "workspace").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if text and _SAFE.search(text) is None else None


def remember_scope(base_url: str, name: str) -> None:
    """Record the scope seen last at this endpoint (atomically)."""
    directory = paths.ensure_private_dir(endpoint_dir(base_url))
    if last_scope(base_url) == name:
        return
    tmp = directory / f".workspace.{os.getpid()}.tmp"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, directory / "workspace")


def first_store_path(base_url: str) -> Path:
    """The store to open before the API has said which workspace the key is in."""
    move_credential_named_stores(base_url)
    migrate_legacy_store(base_url)
    return store_path(base_url, last_scope(base_url) or UNSCOPED)


def legacy_store_path() -> Path:
    return paths.data_dir() / DB_FILENAME


def recorded_base_url(db: Path) -> str | None:
    """The base URL a store's batches came from, read from their results URLs."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(
            "SELECT results_url FROM batches WHERE results_url IS NOT NULL"
            " ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    url = str(row[0])
    cut = url.find("/v1/messages/batches/")
    return url[:cut] if cut > 0 else None


def migrate_legacy_store(current_base_url: str) -> Path | None:
    """Move a store from before scoping into the `unscoped` store of its endpoint; return
    where it went (None: nothing to move, or its place is taken)."""
    legacy = legacy_store_path()
    if not legacy.is_file():
        return None
    with contextlib.suppress(sqlite3.Error):  # fold the WAL into the file before moving it
        conn = sqlite3.connect(legacy)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    base_url = recorded_base_url(legacy) or current_base_url
    target = store_path(base_url, UNSCOPED)
    if target.exists():
        return None
    paths.ensure_private_dir(target.parent)
    try:
        os.replace(legacy, target)
    except FileNotFoundError:
        return None  # another batchtop starting at the same moment moved it first
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{legacy}{suffix}", f"{target}{suffix}")
    return target

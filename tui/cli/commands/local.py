"""Commands that need no service: `locate`, `emulator`, and the dashboard itself.

Kept free of heavy imports at module level: `batchtop` (the dashboard) starts from here."""

from __future__ import annotations

import argparse
import sys


def cmd_locate(ns: argparse.Namespace) -> int:
    """Where config and data live, and each provider's endpoint, workspace and store: every
    provider a command without `--provider` covers (core's `covered_providers`), the first
    also as the top-level `endpoint` / `workspace` / `store`."""
    import os

    from batchtop.core import paths, scope
    from batchtop.core.config import load_settings
    from batchtop.core.fleet import covered_providers
    from batchtop.core.models import provider_name
    from batchtop.core.redact import url_for_display
    from batchtop.tui.cli.render import print_json
    from batchtop.tui.safe_text import clean

    settings = load_settings()
    covered = covered_providers(
        settings.provider, None, os.environ, lambda p: scope.has_local_store(p, settings)
    )
    stores = []
    for provider in covered.providers:
        base_url = scope.store_endpoint(provider, settings)
        scope.move_credential_named_stores(base_url)  # the store's path: no password in it
        name = scope.last_scope(base_url)
        stores.append(
            {
                "provider": provider,
                "endpoint": url_for_display(base_url),  # a password in the URL is never shown
                "workspace": name or "not known yet (the first answer of the API names it)",
                "store": str(scope.store_path(base_url, name or scope.UNSCOPED)),
            }
        )
    common = {
        "config": str(paths.config_file()),
        "data": str(paths.data_dir()),
        "results": str(paths.results_dir()),
        "imports": str(paths.imports_dir()),
    }
    if ns.json:
        first = {k: v for k, v in stores[0].items() if k != "provider"}
        print_json(
            {"config": common["config"], "data": common["data"]}
            | first
            | {"results": common["results"], "imports": common["imports"], "providers": stores}
        )
        return 0
    rows = [("config", common["config"]), ("data", common["data"])]
    for place in stores:
        rows.append(("provider", provider_name(place["provider"])))
        rows += [(key, place[key]) for key in ("endpoint", "workspace", "store")]
    rows += [("results", common["results"]), ("imports", common["imports"])]
    for key, value in rows:
        sys.stdout.write(f"{key:9} {clean(value, keep_newlines=False)}\n")
    return 0


def cmd_emulator(ns: argparse.Namespace) -> int:
    from batchtop.core import emulator

    return int(emulator.run_from_args(ns))


def cmd_tui(ns: argparse.Namespace) -> int:
    import gc
    import importlib

    # Importing Textual and batchtop and building the first screen allocate a lot and free
    # nothing, yet the cyclic GC keeps walking it all (~14 ms of a ~260 ms start). It is
    # off until the dashboard's first frame, which freezes what exists and turns it back on.
    from batchtop.tui.cli.entry import debug_log_to_file

    log = debug_log_to_file()  # (before the demo points the data directory elsewhere)
    gc.disable()
    try:
        run_app = importlib.import_module("batchtop.tui.app").run_app
        provider = getattr(ns, "provider", None)  # --provider given: whose batches
        chosen = {"provider": provider} if provider else {}
        return int(run_app(demo=bool(ns.demo), **chosen) or 0)
    finally:
        gc.enable()
        if log is not None:
            sys.stderr.write(f"batchtop: debug log: {log}\n")

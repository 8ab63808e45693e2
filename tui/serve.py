"""`batchtop serve`: the dashboard in a browser, through textual-serve.

textual-serve starts one `batchtop` process per browser connection and relays its terminal
over a websocket. It has no access control of its own, so this adds one: the server prints
one URL carrying a random token; the first request with that token gets a session cookie
(HttpOnly, SameSite=Strict) and is redirected to the bare page, and the token is spent.
Everything but the static assets needs that cookie, so another local user who can reach the
port (or reads the URL later) cannot open a session. It listens on 127.0.0.1 unless told
otherwise; `--port 0` takes a free port, and the URL printed is the one actually bound.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from rich.console import Console
from textual_serve.server import Server

COOKIE = "batchtop_session"
LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(*, demo: bool) -> str:
    """The command textual-serve runs for each browser session: this batchtop, this Python."""
    argv = [sys.executable, "-m", "batchtop.tui.cli"] + (["--demo"] if demo else [])
    return shlex.join(argv)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenServer(Server):
    """textual-serve's server behind a one-time token and a session cookie."""

    def __init__(self, command: str, host: str, port: int, *, title: str = "batchtop") -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.console = Console(stderr=True)  # stdout carries the URL only
        self.token = secrets.token_urlsafe(24)
        self._token_spent = False
        self._sessions: set[str] = set()
        self.url = ""

    # --- access control ---------------------------------------------------------------------

    def _has_session(self, request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return any(hmac.compare_digest(cookie, s) for s in self._sessions)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/static/"):
            return await handler(request)  # the page's scripts, styles and fonts
        if self._has_session(request):
            return await handler(request)
        offered = request.query.get("token", "")
        if (
            request.path == "/"
            and offered
            and not self._token_spent
            and hmac.compare_digest(offered, self.token)
        ):
            self._token_spent = True
            session = secrets.token_urlsafe(32)
            self._sessions.add(session)
            response = web.HTTPFound("/")  # the token leaves the address bar and history
            response.set_cookie(COOKIE, session, httponly=True, samesite="Strict", path="/")
            raise response
        raise web.HTTPForbidden(
            text="batchtop serve: open the URL printed when the server started"
            " (its token works once, in one browser).\n"
        )

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner to stdout here; stdout is the URL's alone."""

    # --- running ------------------------------------------------------------------------

    async def run(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM; `ready(url)` once the port is bound."""
        self.initialize_logging()
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None)  # no tokens in logs
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            from batchtop.core.errors import UserError

            raise UserError(
                f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}."
            ) from exc
        port = int(runner.addresses[0][1])
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.public_url = f"http://{shown}:{port}"
        self.url = f"{self.public_url}/?token={self.token}"
        if ready is not None:
            ready(self.url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await runner.cleanup()


def serve(*, demo: bool, host: str, port: int, out: Any = None, err: Any = None) -> int:
    """Print the URL as the first line of stdout, then serve until interrupted."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not is_loopback(host):
        err.write(
            f"batchtop serve: warning: listening on {host}, not on this machine only: anyone"
            " who can reach it and learns the URL before you open it gets your dashboard"
            " (and the API key's powers). Traffic is not encrypted.\n"
        )
    server = TokenServer(app_command(demo=demo), host, port)

    def ready(url: str) -> None:
        out.write(url + "\n")
        out.flush()
        err.write(
            "batchtop serve: open the URL above in your browser (its token works once);"
            " Ctrl-C stops.\n"
        )
        err.flush()

    asyncio.run(server.run(ready))
    return 0

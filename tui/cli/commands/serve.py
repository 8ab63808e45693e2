"""`batchtop serve [--demo] [--port N] [--host ADDR]`: the dashboard in a browser."""

from __future__ import annotations

import argparse


def cmd_serve(ns: argparse.Namespace) -> int:
    from batchtop.tui.serve import serve

    return serve(demo=ns.demo, host=ns.host, port=ns.port)

"""Command-line front end: `batchtop` and its subcommands."""

from __future__ import annotations

import argparse
import sys

from batchtop.core import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchtop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"batchtop {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures of the reliability tests (faults, kills, hostile input and output, secrets)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # reliability_support, imported by the tests

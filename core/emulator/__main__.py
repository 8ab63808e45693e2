"""`python -m batchtop.core.emulator`: the same server as `batchtop emulator`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())

"""`python -m batchtop.tui.cli`: the same as the `batchtop` command."""

import sys

from batchtop.tui.cli.entry import main

sys.exit(main())

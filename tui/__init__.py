"""batchtop.tui: the front ends (Textual app and command line) on batchtop.core."""

"""One module per measure; each exposes `NAME`, `TITLE` and `run(ctx) -> list[Measure]`."""

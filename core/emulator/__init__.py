"""A faithful local Message Batches API server (aiohttp, SQLite-backed)."""

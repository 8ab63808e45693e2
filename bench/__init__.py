"""batchtop's benchmarks: every figure is a ratio against a baseline measured in the same run.

Run `python -m bench` (full, several minutes), `python -m bench --quick` (about a minute) or
`python -m bench --only search`. Results are printed and written to `bench/RESULTS.md`.
"""

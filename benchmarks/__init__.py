"""Benchmarks of lowformer-nas, each run from the repository root: python -m benchmarks.NAME."""

"""Benchmarks: each script prints its figures next to their targets."""

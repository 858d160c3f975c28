"""Benchmarks against a throwaway database: ``python -m benchmarks`` (``make bench``)."""

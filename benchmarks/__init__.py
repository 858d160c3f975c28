"""Benchmarks against a throwaway database: ``python -m bench`` (``make bench``)."""

"""Benchmarks: ``make bench`` runs them all and writes BENCHMARKS.md plus plots."""

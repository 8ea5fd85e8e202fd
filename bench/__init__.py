"""Benchmarks: `make bench` runs them and rewrites bench/RESULTS.md with the measured figures."""

"""Peer benchmarks: opsapp measured against other systems that track long-running work.

Not part of `make test` nor of `make bench`'s default list: each peer installs the other system
into a virtual environment of its own under bench/out/peers/ on demand (never into opsapp's).
Run one with `.venv/bin/python -m bench.peers.<name>`, e.g. `bench.peers.prefect_start`.
"""

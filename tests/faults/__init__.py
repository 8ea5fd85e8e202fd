"""The fault suite: real worker processes (`python -m opsapp.worker.runner`), a private
redis-server per test, the test PostgreSQL database; Redis outages and empty restarts, SIGTERM /
SIGKILL / SIGSTOP of workers, terminated PostgreSQL backends, SIGTERM of the scheduler; and
a real `policy.sync` against the demo Graph (its own HTTP process) through a Redis outage.

    .venv/bin/python -m pytest tests/faults -q -s

Each test prints `RECOVERY <name>: <seconds>` and appends it to $OPSAPP_FAULT_RESULTS (default
<tmp>/opsapp-faults/recovery.jsonl); `python -m bench.recovery` tabulates repeated runs."""

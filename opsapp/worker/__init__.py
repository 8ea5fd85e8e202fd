"""Running operations: the broker (in-process or Redis), the run-tracking middleware, the task
body registry, dispatch, maintenance (lost-run reaper, retention) and the scheduler."""

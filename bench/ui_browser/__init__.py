"""The served production app measured in headless Chromium (`python -m bench.ui_browser`).

Starts what `make run` starts (`scripts/run-embedded.sh`: production bundle, embedded worker) and a
demo Graph server over HTTP, drives Debian's Chromium with Playwright and measures in the page
(`performance.now()` / `Date.now()` and MutationObservers), each figure beside a floor taken in the
same process, interleaved with it:

1. click a start button ("Sync now") → its toast in the DOM: the friendly repeat-click answer, the
   reuse of an active run through the service, and a new run per click. Floor: `fetch('/ping')`.
2. run detail: a database commit → the new count on the page (the page polls every 1000 ms).
   Floor: the UPDATE + COMMIT itself.
3. Operations list with 1 M runs on PostgreSQL: sidebar click → fresh rows, and the State filter
   set to Failed → fresh rows. Floor: `list_runs_page()` on the same database, in this process.
4. memory: RSS (and PSS) of the app's process group idle, with 20 signed-in browser contexts on
   the Operations page, and after closing them.

App (SQLite) for 1–2, app (PostgreSQL, 1 M runs) for 3–4. Every process is started in its own
process group and killed on exit. Logs stay in a /tmp directory printed at the start.

Layout: `__main__` runs the whole thing; `sqlite_app` (sections 1–2) and `postgres_app`
(sections 3–4) each start their app and call the measurements (`toast`, `toast_new_runs`,
`run_detail`, `operations_list`, `memory`); `serving`, `browser`, `page_timers`, `procfs` and
`stats` are what those share; `report` writes this benchmark's section of RESULTS.md.
"""

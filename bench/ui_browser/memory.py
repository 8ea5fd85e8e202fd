"""Section 4: memory of the app's process group idle, with signed-in sessions, and after.

Each moment is sampled over a while (max RSS/PSS) rather than read once, because the bell's
3 s poll makes the app's memory move between reads.
"""

from __future__ import annotations

import time

from .browser import new_context, sign_in
from .config import SESSIONS
from .procfs import group_memory
from .serving import Server


def sample_memory(pgid: int, seconds: float, every: float = 2.0) -> dict:
    """Max RSS/PSS over `seconds` and the group's CPU use (cores) over that time."""
    first = last = group_memory(pgid)
    peak_rss, peak_pss = first["rss"], first["pss"]
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(every)
        last = group_memory(pgid)
        peak_rss, peak_pss = max(peak_rss, last["rss"]), max(peak_pss, last["pss"])
    cores = (last["cpu_s"] - first["cpu_s"]) / max(time.monotonic() - t0, 1e-6)
    return {**last, "peak_rss": peak_rss, "peak_pss": peak_pss, "cores": cores}


def _signed_in_sample(browser, app: Server, log) -> tuple[dict, float]:
    """Sign in SESSIONS contexts on Operations, one after another, then sample with them open;
    (memory sample, seconds the sign-ins took). The contexts are closed on the way out."""
    contexts, t0 = [], time.monotonic()
    try:
        for _ in range(SESSIONS):
            context = new_context(browser, log)
            contexts.append(context)
            page = sign_in(context, app.base_url, "owner", "/t/contoso/operations")
            page.locator("tbody tr").first.wait_for()
        signed_in_s = time.monotonic() - t0
        return sample_memory(app.process.pid, 30), signed_in_s
    finally:
        for context in contexts:
            context.close()


def memory_sessions(browser, app: Server, log) -> tuple[list[str], dict]:
    """(report lines, raw samples) for idle → SESSIONS signed in → 20 s after closing them."""
    pgid = app.process.pid
    idle = sample_memory(pgid, 6)
    busy, signed_in_s = _signed_in_sample(browser, app, log)
    after = sample_memory(pgid, 20)
    lines = [
        "| moment | RSS sum | PSS sum | processes | app CPU (cores) |",
        "|---|---|---|---|---|",
        _mem_row("idle after start (6 s)", idle),
        _mem_row(f"{SESSIONS} contexts signed in on Operations (30 s, bell polls every 3 s)", busy),
        _mem_row("20 s after closing them", after),
        "",
        f"Signing in {SESSIONS} contexts one after another and opening the page took "
        f"{signed_in_s:.0f} s. Growth with the sessions: {busy['peak_rss'] - idle['rss']:+.0f} MiB "
        f"RSS; after closing: {after['rss'] - idle['rss']:+.0f} MiB over idle.",
    ]
    return lines, {"idle": idle, "busy": busy, "after": after}


def _mem_row(name: str, m: dict) -> str:
    return (
        f"| {name} | {m['rss']:.0f} MiB (peak {m['peak_rss']:.0f}) | {m['pss']:.0f} MiB "
        f"(peak {m['peak_pss']:.0f}) | {m['procs']} | {m['cores']:.2f} |"
    )

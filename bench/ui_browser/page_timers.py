"""Timers that run inside the page, so a latency is `performance.now()` / `Date.now()` between a
trigger and a MutationObserver armed before it — never Python sleeps or Playwright round trips.
"""

from __future__ import annotations

# The floor of a click → toast: one HTTP round trip to the app from the same tab.
PING_JS = """async () => {
  const t0 = performance.now();
  const r = await fetch('/ping', {cache: 'no-store'});
  await r.text();
  return performance.now() - t0;
}"""

# The observer is armed before the click; only a toast that was not there before counts, and
# only a start answer (not a run-completed notification popping at the same moment).
CLICK_JS = """async (timeoutMs) => {
  const btn = document.querySelector('[data-testid=start-button]');
  if (!btn || btn.disabled) return {error: btn ? 'button disabled' : 'no start button'};
  const before = new Set(document.querySelectorAll('[data-sonner-toast]'));
  const wanted = /queued|already running|not started|could not be queued|Not allowed|Not found/;
  const title = (el) => ((el.querySelector('[data-title]') || el).textContent || '');
  let t0 = 0, found = false, timer = null;
  return await new Promise((resolve) => {
    const check = () => {
      if (found) return;
      for (const el of document.querySelectorAll('[data-sonner-toast]')) {
        if (before.has(el) || !wanted.test(title(el))) continue;
        found = true; obs.disconnect(); clearTimeout(timer);
        const inDom = performance.now() - t0;
        requestAnimationFrame(() => resolve({ms: inDom, frameMs: performance.now() - t0,
                                            text: title(el)}));
        return;
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document.body, {childList: true, subtree: true, characterData: true});
    timer = setTimeout(() => { obs.disconnect(); resolve({error: 'no toast', text: ''}); },
                       timeoutMs);
    t0 = performance.now();
    btn.click();
  });
}"""

# Wall-clock time (comparable with the committing Python process) of every new processed count.
WATCH_PROCESSED_JS = """() => {
  window.__seen = [];
  let last = null;
  const read = () => {
    const el = document.querySelector('[data-count=processed]');
    const m = el && el.textContent.match(/(\\d+)\\s*$/);
    return m ? Number(m[1]) : null;
  };
  const check = () => {
    const v = read();
    if (v !== null && v !== last) { last = v; window.__seen.push([v, Date.now()]); }
  };
  new MutationObserver(check).observe(document.body,
    {childList: true, subtree: true, characterData: true});
  check();
}"""

# Armed before the trigger: t0 = the trigger's own event in the page (capture phase), t1 = the
# first moment the table's first row is the expected run (stale rows of the previous view differ).
ARM_JS = """([sel, type, expectId]) => {
  const b = window.__nav = {t0: null, t1: null};
  const onEvent = (e) => {
    if (b.t0 === null && e.target.closest && e.target.closest(sel)) b.t0 = performance.now();
  };
  document.addEventListener(type, onEvent, true);
  const check = () => {
    if (b.t0 === null || b.t1 !== null) return;
    const first = document.querySelector('tbody tr[data-run-id]');
    if (first && first.getAttribute('data-run-id') === String(expectId)) {
      b.t1 = performance.now(); obs.disconnect();
      document.removeEventListener(type, onEvent, true);
    }
  };
  const obs = new MutationObserver(check);
  obs.observe(document.body, {childList: true, subtree: true, characterData: true,
                              attributes: true, attributeFilter: ['data-run-id']});
}"""


def ping_ms(page) -> float:
    return page.evaluate(PING_JS)


def click_start_button(page, timeout_ms: int = 30_000) -> dict:
    """{ms, frameMs, text} of the start answer's toast, or {error, …} (no button, no toast)."""
    return page.evaluate(CLICK_JS, timeout_ms)


def watch_processed(page) -> None:
    page.evaluate(WATCH_PROCESSED_JS)


def processed_shown_at(page, n: int) -> float:
    """Wall-clock ms at which the page first showed processed count `n` (waits for it)."""
    page.wait_for_function(f"() => window.__seen.some(s => s[0] === {n})")
    return page.evaluate(f"() => window.__seen.find(s => s[0] === {n})[1]")


def first_row_ms(page, sel: str, event: str, expect_id: int, action) -> float:
    """ms from `event` on `sel` (fired by `action`) until run `expect_id` is the first row."""
    page.evaluate(ARM_JS, [sel, event, expect_id])
    action()
    page.wait_for_function("() => window.__nav.t1 !== null")
    return page.evaluate("() => window.__nav.t1 - window.__nav.t0")

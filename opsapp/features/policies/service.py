"""Policy sync: capture every supported policy with its assignments (and settings-catalog
settings) as an immutable version; unchanged content captures nothing new.

One policy type at a time, as a pipeline: the listing is read ahead in a background task;
objects go on in batches of `BATCH` (one SELECT finds the stored rows among them, none on a
type's first sync but for repeats, see `KeyFilter`); their
assignments and settings are read 20 per `$batch`, `FETCHES` `$batch`es at a time; a batch is
written (a few statements, `store_snapshots`) in a thread while the next one is read from
Graph. What a sync keeps per object is one bit (`IdSet`: the rows it observed); rows not
observed are found afterwards by an ordered scan of the scope."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from opsapp.features.common import graph_failure
from opsapp.features.policies.snapshots import Snapshot, Stored, lookup_known, store_snapshots
from opsapp.features.reconcile import (
    IdSet,
    KeyFilter,
    Known,
    Tally,
    last_id,
    refresh_statistics,
    scope_is_empty,
    sweep_unseen,
)
from opsapp.graph import MAX_BATCH_REQUESTS, GraphClient, GraphError
from opsapp.models import Policy
from opsapp.models.types import utcnow
from opsapp.operations.results import RunResult
from opsapp.policy_types import POLICY_TYPES_BY_KEY

SETTINGS_CATALOG = "settingsCatalogPolicy"
BATCH = 250  # objects per database batch (one statement for new ones; progress advances per batch)
FETCHES = 4  # Graph $batch round trips in flight at once (the pacer still meters each unit)
READ_AHEAD = 2  # listing batches buffered ahead of the one being completed
# A sync that created this many rows refreshes the table's statistics (`refresh_statistics`):
# the next sync looks every object up. Below it, a stale plan costs little (small scopes).
ANALYZE_AFTER = 10_000


async def _complete(
    graph: GraphClient, policy_type: str, items: list[dict], failures: list[dict]
) -> list[Snapshot]:
    """Fetch assignments (one $batch for the chunk) and settings (another); failed items are
    reported and left out."""
    snaps = [Snapshot(policy_type, str(item["id"]), item) for item in items]
    if POLICY_TYPES_BY_KEY[policy_type].has_assignments:
        answers = await graph.list_assignments_many(policy_type, [s.graph_id for s in snaps])
        for snap in snaps:
            answer = answers.get(snap.graph_id, [])
            if isinstance(answer, GraphError):
                failures.append(graph_failure(answer, item=f"{policy_type}/{snap.graph_id}"))
                snap.assignments = None  # type: ignore[assignment]
            else:
                snap.assignments = sorted(answer, key=lambda a: str(a.get("id", "")))
    if policy_type == SETTINGS_CATALOG:
        wanted = [s.graph_id for s in snaps if s.assignments is not None]
        try:
            settings = await graph.list_policy_settings_many(wanted) if wanted else {}
        except GraphError as exc:  # the $batch itself failed: each of its policies fails
            settings = dict.fromkeys(wanted, exc)
        for snap in snaps:
            if snap.assignments is None:
                continue
            answer = settings.get(snap.graph_id, [])
            if isinstance(answer, GraphError):
                failures.append(graph_failure(answer, item=f"{policy_type}/{snap.graph_id}"))
                snap.assignments = None  # type: ignore[assignment]
            else:
                snap.settings = answer
    return [s for s in snaps if s.assignments is not None]


async def _complete_all(
    graph: GraphClient, policy_type: str, items: list[dict], failures: list[dict]
) -> list[Snapshot]:
    """`_complete` for every chunk of 20, up to FETCHES chunks at once; failures in order."""
    chunks = [items[i : i + MAX_BATCH_REQUESTS] for i in range(0, len(items), MAX_BATCH_REQUESTS)]
    limit = asyncio.Semaphore(FETCHES)
    chunk_failures: list[list[dict]] = [[] for _ in chunks]

    async def one(n: int) -> list[Snapshot]:
        async with limit:
            return await _complete(graph, policy_type, chunks[n], chunk_failures[n])

    done = await asyncio.gather(*(one(n) for n in range(len(chunks))))
    for found in chunk_failures:
        failures.extend(found)
    return [snap for snaps in done for snap in snaps]


_END = object()


@dataclass
class _Crash:
    error: Exception


async def _read_ahead(
    listing: AsyncIterator[dict],
    queue: asyncio.Queue,
    pending: set[str],
    skip: set[str],
    lookup,
) -> None:
    """Put batches of listed objects not met yet on `queue`, each with its stored rows
    (`lookup`, one SELECT, done here so that it overlaps the batch before); last comes
    (_END, error). A repeat whose first occurrence is still pending is dropped here; one whose
    row was written since is looked up after that write (it leaves `pending` once written)."""
    batch: list[dict] = []
    error: GraphError | None = None
    try:
        try:
            async for item in listing:
                gid = str(item["id"])
                if gid in pending or gid in skip:
                    continue  # Graph paging can repeat an item; count it once
                pending.add(gid)
                batch.append(item)
                if len(batch) >= BATCH:
                    await queue.put((batch, await lookup(batch)))
                    batch = []
        except GraphError as exc:
            error = exc  # what was listed before the failure is still stored
        if batch:
            await queue.put((batch, await lookup(batch)))
    except Exception as exc:  # a database error: the consumer raises it
        await queue.put((_END, _Crash(exc)))
        return
    await queue.put((_END, error))


async def sync_policies(
    *,
    engine: Engine,
    graph: GraphClient,
    tenant_id: int,
    inputs: dict[str, Any],
    run_id: int | None,
    report_progress,
) -> RunResult:
    tally, failures = Tally(), []
    for policy_type in inputs["policy_types"]:
        await _sync_type(
            engine, graph, policy_type, tenant_id, run_id, tally, failures, report_progress
        )
        await report_progress(tally.counts)
    if tally.counts["created"] >= ANALYZE_AFTER:
        await asyncio.to_thread(refresh_statistics, engine, Policy)
    return RunResult(counts=tally.counts, item_failures=failures)


async def _sync_type(
    engine, graph, policy_type, tenant_id, run_id, tally, failures, report_progress
) -> None:
    t = Policy.__table__
    scope = [t.c.tenant_id == tenant_id, t.c.policy_type == policy_type]
    upto = await asyncio.to_thread(last_id, engine, Policy)  # rows the removal sweep considers
    # First sync of this type: nothing to look up but what this sync writes (a repeat in the
    # listing) or a concurrent one does (the INSERT meets it, ON CONFLICT).
    empty = await asyncio.to_thread(scope_is_empty, engine, Policy, scope)
    written_ids = KeyFilter() if empty else None
    seen = IdSet()  # rows observed by this listing
    pending: set[str] = set()  # listed, not yet resolved to a row (bounded by the pipeline)
    failed: set[str] = set()  # listed and failed (kept so a repeat is not counted again)
    queue: asyncio.Queue = asyncio.Queue(maxsize=READ_AHEAD)

    async def lookup(batch: list[dict]) -> dict[str, Known]:
        ids = [str(item["id"]) for item in batch]
        if written_ids is not None:
            ids = [gid for gid in ids if gid in written_ids]
            if not ids:
                return {}
        return await asyncio.to_thread(
            lookup_known, engine, tenant_id=tenant_id, policy_type=policy_type, graph_ids=ids
        )

    reader = asyncio.create_task(
        _read_ahead(graph.list_policies(policy_type), queue, pending, failed, lookup)
    )
    writing: asyncio.Task | None = None
    listing_failed = False

    async def written(task: asyncio.Task, size: int, new_ids: list[str]) -> None:
        result: Stored = await task
        for key, n in result.counts.items():
            tally.add(key, n)
        for gid in new_ids:
            pending.discard(gid)
            row_id = result.row_ids.get(gid)
            if row_id is not None:
                seen.add(row_id)
                if written_ids is not None:
                    written_ids.add(gid)
        tally.add("processed", size)
        await report_progress(tally.counts)

    try:
        while True:
            batch, known = await queue.get()
            if batch is _END:
                if isinstance(known, _Crash):
                    raise known.error
                if known is not None:  # the listing failed part-way
                    failures.append(graph_failure(known, item=policy_type))
                    tally.add("failed")
                    listing_failed = True
                break
            ids = [str(item["id"]) for item in batch]
            items, new_ids = [], []
            for gid, item in zip(ids, batch, strict=True):
                row = known.get(gid)
                if row is None:
                    new_ids.append(gid)  # stays pending until its row is written
                else:
                    pending.discard(gid)
                    if row.id in seen:
                        continue  # a repeat of an object this listing already met
                    seen.add(row.id)
                items.append(item)
            del batch
            tally.add("total", len(items))
            snaps = await _complete_all(graph, policy_type, items, failures)
            complete = {s.graph_id for s in snaps}
            for gid in new_ids:
                if gid not in complete:
                    pending.discard(gid)
                    failed.add(gid)
            tally.add("failed", len(items) - len(snaps))
            if writing is not None:
                await written(*writing)
                writing = None
            task = asyncio.create_task(
                asyncio.to_thread(
                    store_snapshots,
                    engine,
                    tenant_id=tenant_id,
                    policy_type=policy_type,
                    snapshots=snaps,
                    known=known,
                    now=utcnow(),
                    run_id=run_id,
                )
            )
            writing = (task, len(items), [g for g in new_ids if g in complete])
            del snaps, items, known
        if writing is not None:
            await written(*writing)
            writing = None
    finally:
        if not reader.done():
            reader.cancel()
        if writing is not None and not writing[0].done():
            await asyncio.wait([writing[0]])  # never leave a write running behind a failure
    await reader
    if not listing_failed:  # an unreadable listing must not look like deletions
        gone = await asyncio.to_thread(
            sweep_unseen, engine, Policy, where=scope, seen=seen, upto=upto, now=utcnow()
        )
        tally.add("removed", gone)

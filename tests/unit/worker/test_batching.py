"""opsapp.worker.batching.Coalescer: one batch in flight, everything submitted meanwhile goes
together in the next one; results and errors reach the callers of their own batch."""

import asyncio
import threading

import pytest

from opsapp.worker.batching import Coalescer


class _Batches:
    """run_batch that records each batch and can be held inside the database call."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.fail_on: set[int] = set()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.release.wait(5)
        if self.fail_on & set(items):
            raise RuntimeError("database refused")
        return [item * 10 for item in items]


async def _first_batch_in_flight():
    """A coalescer whose first batch ([1]) is held inside the database call."""
    batches = _Batches()
    coalescer = Coalescer(batches)
    batches.release.clear()
    first = asyncio.create_task(coalescer.submit(1))
    while not batches.batches:
        await asyncio.sleep(0.001)
    return batches, coalescer, first


async def test_an_idle_call_goes_alone_at_once():
    batches = _Batches()
    coalescer = Coalescer(batches)
    assert await coalescer.submit(1) == 10
    assert await coalescer.submit(2) == 20
    assert batches.batches == [[1], [2]]


async def test_calls_made_while_a_batch_is_in_flight_go_together_in_the_next():
    batches, coalescer, first = await _first_batch_in_flight()
    rest = [asyncio.create_task(coalescer.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0.01)
    batches.release.set()
    assert await first == 10
    assert await asyncio.gather(*rest) == [20, 30, 40]
    assert batches.batches == [[1], [2, 3, 4]]


async def test_a_failed_batch_is_tried_item_by_item_so_an_error_reaches_only_its_caller():
    batches, coalescer, first = await _first_batch_in_flight()
    batches.fail_on = {3}
    fine, doomed = (asyncio.create_task(coalescer.submit(n)) for n in (2, 3))
    await asyncio.sleep(0.01)
    batches.release.set()
    assert await first == 10
    assert await fine == 20
    with pytest.raises(RuntimeError, match="database refused"):
        await doomed
    assert batches.batches == [[1], [2, 3], [2], [3]]
    batches.fail_on = set()
    assert await coalescer.submit(3) == 30  # a retry simply joins a later batch


async def test_a_batch_with_a_wrong_number_of_results_is_an_error_not_a_mix_up():
    coalescer = Coalescer(lambda items: [])
    results = await asyncio.gather(coalescer.submit(1), coalescer.submit(2), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)


async def test_a_cancelled_caller_does_not_stop_the_others():
    batches, coalescer, first = await _first_batch_in_flight()
    gone, kept = (asyncio.create_task(coalescer.submit(n)) for n in (2, 3))
    await asyncio.sleep(0.01)
    gone.cancel()
    batches.release.set()
    assert await first == 10 and await kept == 30
    assert batches.batches == [[1], [3]]


async def test_a_coroutine_batch_function_is_awaited_on_the_loop_and_coalesces_the_same():
    """The worker's claims: awaited on the event loop's own thread, never in a thread; calls
    made while one batch is awaited go together in the next; a failing batch is tried item by
    item as for a blocking function."""
    batches: list[list[int]] = []
    threads: set[int] = set()
    gate = asyncio.Event()

    async def run_batch(items: list[int]) -> list[int]:
        batches.append(list(items))
        threads.add(threading.get_ident())
        await gate.wait()
        if 3 in items:
            raise RuntimeError("database refused")
        return [item * 10 for item in items]

    coalescer = Coalescer(run_batch)
    first = asyncio.create_task(coalescer.submit(1))
    while not batches:
        await asyncio.sleep(0)
    rest = [asyncio.create_task(coalescer.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == 10
    results = await asyncio.gather(*rest, return_exceptions=True)
    assert results[0] == 20 and results[2] == 40
    assert isinstance(results[1], RuntimeError)
    assert batches == [[1], [2, 3, 4], [2], [3], [4]]
    assert threads == {threading.get_ident()}

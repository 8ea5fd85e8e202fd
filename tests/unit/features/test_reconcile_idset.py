"""The compact set of observed row ids the syncs keep instead of a set of graph ids."""

import random

from opsapp.features.reconcile import IdSet


def test_ids_in_any_order_are_found_and_others_are_not():
    rng = random.Random(7)
    ids = rng.sample(range(1_000, 50_000), 3_000)
    seen = IdSet()
    for i in ids:
        seen.add(i)
    assert all(i in seen for i in ids)
    others = set(range(0, 60_000)) - set(ids)
    assert not any(i in seen for i in others)


def test_grows_downwards_and_upwards():
    seen = IdSet()
    assert 5 not in seen
    seen.add(1_000)
    seen.add(3)  # below the first id
    seen.add(100_000)
    assert {i for i in range(0, 100_010) if i in seen} == {3, 1_000, 100_000}


def test_memory_is_a_bit_per_id_of_the_range():
    seen = IdSet()
    for i in range(500_000, 700_000):
        seen.add(i)
    assert len(seen._bits) <= 200_000 // 8 + 1

"""canonical_text (orjson) must write exactly canonical_json's text: the digest of every stored
policy version is computed from it, so one differing byte would turn an unchanged policy into a
new version. Checked on values where orjson and json.dumps disagree unless handled."""

import json
import math
import random

import pytest

from opsapp.features.common import canonical_text
from opsapp.graph.payloads import loads
from opsapp.operations.identity import canonical_json


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": {"é": 1, "z": 2, "A": 3, "\U0001f600": 4, "\uff01": 5}},  # key order
        {"s": 'a\x00\x01\x1f\x7f\u2028\u2029"\\/é✓\b\f\n\r\t'},  # escapes
        {"small": [1e-5, 9.99e-5, 1e-6, 1.5e-7, 1e-9, 1e-4, 1e-10, 1.25e-12]},  # floats differ
        {
            "floats": [
                0.0,
                -0.0,
                1.0,
                0.1,
                1e16,
                1e22,
                123456789.123,
                5e-324,
                1.7976931348623157e308,
            ]
        },
        {"ints": [2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**30]},  # past 64 bits
        {1: "non-string key"},
        {"lone": "\ud800"},  # lone surrogate: orjson refuses it, json.dumps writes it
        {"nested": [[[{"x": None, "t": True, "f": False}]]], "empty": [{}, []]},
        [0.5],
        -1.0,
        3e-06,
        "type-5 phase-6x 0.00001",  # the fallback's patterns inside a string
        None,
    ],
)
def test_the_text_is_canonical_json(value):
    assert canonical_text(value) == canonical_json(value)


def test_random_floats_of_every_magnitude_are_written_as_json_dumps_does():
    rng = random.Random(7)
    values = []
    for exponent in range(-320, 308, 3):
        for _ in range(20):
            x = rng.uniform(1, 10) * 10.0**exponent
            if math.isfinite(x):
                values += [x, -x, float(f"{x:.2g}")]
    assert canonical_text({"v": values}) == canonical_json({"v": values})


def test_generated_documents_round_trip_through_the_graph_parser():
    rng = random.Random(11)

    def value(depth: int):
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randrange(-(2**70), 2**70) if rng.random() < 0.1 else rng.randrange(1000)
        if kind == 2:
            return rng.uniform(-1e6, 1e6) * 10.0 ** rng.randrange(-12, 12)
        if kind in (3, 4):
            return "".join(rng.choice('aZ0-.e5 é"\\\n\u2028✓') for _ in range(rng.randrange(12)))
        if kind in (5, 6):
            return {f"k{rng.randrange(50)}é": value(depth + 1) for _ in range(rng.randrange(5))}
        return [value(depth + 1) for _ in range(rng.randrange(5))]

    for _ in range(500):
        document = {"id": "x", "v": value(0)}
        parsed = loads(json.dumps(document).encode())
        assert parsed == json.loads(json.dumps(document))
        assert canonical_text(parsed) == canonical_json(parsed)


def test_values_json_dumps_refuses_are_refused():
    from datetime import datetime

    with pytest.raises(TypeError):
        canonical_text({"at": datetime(2026, 1, 1)})

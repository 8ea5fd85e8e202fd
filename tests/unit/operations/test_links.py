"""Run page links come from the catalog: every existing link stays as it was, and a link that
cannot work (an unknown name, a placeholder naming no input) fails when the type is built."""

from __future__ import annotations

import dataclasses

import pytest

from opsapp.operations import catalog
from opsapp.operations.access import Capability
from opsapp.operations.catalog import (
    OPERATION_TYPES,
    InvalidRelatedLink,
    OperationType,
    RelatedLink,
    get_type,
)
from opsapp.operations.identity import IdentityField, IdentitySchema
from opsapp.operations.links import related_links

INPUTS = {
    "inventory.sync": {},
    "policy.sync": {"policy_types": ["deviceConfiguration"]},
    "directory_groups.sync": {},
    "drift.generate": {"baseline_id": 12},
    "backup_set.add_policies": {"backup_set_id": 4, "policy_ids": [1]},
    "backup_set.remove_policies": {"backup_set_id": 4, "item_ids": [9]},
    "backup_schedule.run_now": {"schedule_id": 9},
    "backup_schedule.retry": {"schedule_id": 9, "retried_run_id": 12},
    "backup_schedule.scheduled": {
        "schedule_id": 9,
        "scheduled_for": "2026-11-26T09:00:00+02:00",
    },
    "restore.execute": {"restore_run_id": 3},
}
ALL = ("All operations", "/operations")
MADE = ("Backup set made by this run", "/backup-sets/5")
# What the run page showed before the links moved into the catalog (recorded from that code).
EXPECTED = {
    "inventory.sync": [("Inventory", "/inventory"), ALL],
    "policy.sync": [("Policies", "/policies"), ALL],
    "directory_groups.sync": [("Directory groups", "/directory/groups"), ALL],
    "drift.generate": [("Drift findings", "/drift?baseline=12"), ALL],
    "backup_set.add_policies": [("Backup set", "/backup-sets/4"), ALL],
    "backup_set.remove_policies": [("Backup set", "/backup-sets/4"), ALL],
    "backup_schedule.run_now": [("Backup schedule", "/backup-schedules/9"), ALL],
    "backup_schedule.retry": [
        ("Backup schedule", "/backup-schedules/9"),
        ALL,
        ("Retried run", "/operations/12"),
    ],
    "backup_schedule.scheduled": [("Backup schedule", "/backup-schedules/9"), ALL],
    "restore.execute": [("Restore run", "/restore/3"), ALL],
}
WITHOUT_INPUTS = {  # a context without inputs (never stored, but the page must not break)
    "inventory.sync": [("Inventory", "/inventory"), ALL],
    "policy.sync": [("Policies", "/policies"), ALL],
    "directory_groups.sync": [("Directory groups", "/directory/groups"), ALL],
    "drift.generate": [("Drift findings", "/drift"), ALL],
}


def _links(run_type, context, slug="acme"):
    return [
        (link["label"], link["url"].removeprefix(f"/t/{slug}"))
        for link in related_links(tenant_slug=slug, run_type=run_type, context=context)
    ]


@pytest.mark.parametrize("run_type", sorted(EXPECTED))
def test_every_existing_link_is_unchanged(run_type):
    inputs = get_type(run_type).identity.normalise(INPUTS[run_type])
    assert _links(run_type, {"inputs": inputs}) == EXPECTED[run_type]
    assert _links(run_type, {}) == WITHOUT_INPUTS.get(run_type, [ALL])


def test_every_catalog_type_is_covered():
    # Test suites register their own "test.*" types while pytest collects them.
    product_types = {key for key in OPERATION_TYPES if not key.startswith("test.")}
    assert set(EXPECTED) == product_types


@pytest.mark.parametrize(
    "run_type", ["backup_schedule.run_now", "backup_schedule.retry", "backup_schedule.scheduled"]
)
def test_the_backup_set_a_schedule_run_made_is_linked_after_its_page(run_type):
    inputs = get_type(run_type).identity.normalise(INPUTS[run_type])
    links = _links(run_type, {"inputs": inputs, "produced": {"backup_set_id": 5}})
    expected = list(EXPECTED[run_type])
    expected.insert(1, MADE)
    assert links == expected
    assert get_type(run_type).produced_keys == {"backup_set_id"}


def test_types_that_make_nothing_declare_no_produced_links():
    makers = {k for k, op in OPERATION_TYPES.items() if op.produced_keys}
    assert makers == {
        "backup_schedule.run_now",
        "backup_schedule.retry",
        "backup_schedule.scheduled",
    }
    links = _links("backup_set.add_policies", {"inputs": {"backup_set_id": 4}, "produced": {}})
    assert MADE not in links


def _type(key="test.links", *, related="inventory", fields=(), **kwargs):
    return OperationType(
        key,
        "Links test",
        IdentitySchema(tuple(fields)),
        ("total",),
        Capability.start_operations,
        related=related,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"related": "backup_sets"}, "unknown related link 'backup_sets'; known: .*backup_set,"),
        ({"related": "Inventory"}, "unknown related link 'Inventory'"),
        ({"see_also": ("retried_runs",)}, "unknown related link 'retried_runs'"),
        ({"produces": ("made_backup_sets",)}, "unknown related link 'made_backup_sets'"),
        ({"related": "backup_set"}, "names backup_set_id, which is not an identity input"),
        ({"see_also": ("retried_run",)}, "names retried_run_id, which is not an identity input"),
        ({"produces": "made_backup_set"}, "tuples of links"),
    ],
)
def test_a_link_that_cannot_work_fails_when_the_type_is_declared(kwargs, message):
    with pytest.raises(InvalidRelatedLink, match=message):
        _type(**kwargs)


@pytest.mark.parametrize(
    ("path", "query"),
    [(("sets", "{set_id"), ()), (("sets", "id-{set_id}"), ()), (("x",), (("q", "{a}{b}"),))],
)
def test_a_placeholder_is_a_whole_part(path, query):
    with pytest.raises(InvalidRelatedLink, match="a placeholder is a whole part"):
        RelatedLink("Broken", path, query)


def test_a_new_type_declares_its_own_links_inline():
    op = _type(
        related=RelatedLink("Report", ("reports", "{report_key}"), (("view", "{view}"),)),
        fields=(IdentityField("report_key", "str"), IdentityField("view", "str", default=None)),
        produces=(RelatedLink("Export made by this run", ("exports", "{export_id}")),),
    )
    catalog.register_type(op)
    try:
        context = {"inputs": {"report_key": "a b/c", "view": None}, "produced": {"export_id": 3}}
        assert _links(op.key, context) == [
            ("Report", "/reports/a%20b%2Fc"),
            ("Export made by this run", "/exports/3"),
            ALL,
        ]
        context["inputs"]["view"] = "by owner"
        assert _links(op.key, context)[0] == ("Report", "/reports/a%20b%2Fc?view=by+owner")
        assert op.produced_keys == {"export_id"}
    finally:
        OPERATION_TYPES.pop(op.key, None)


def test_shared_links_are_registered_once():
    link = RelatedLink("Reports", ("reports",))
    catalog.register_related("test_reports", link)
    try:
        catalog.register_related("test_reports", link)  # the same again: harmless
        with pytest.raises(InvalidRelatedLink, match="already registered differently"):
            catalog.register_related("test_reports", RelatedLink("Other", ("other",)))
        with pytest.raises(InvalidRelatedLink, match="a RelatedLink is needed"):
            catalog.register_related("test_bad", "reports")
        assert _type(related="test_reports").related_link == link
    finally:
        catalog.RELATED_LINKS.pop("test_reports", None)


def test_replacing_a_type_checks_its_links_again():
    op = get_type("backup_schedule.retry")
    with pytest.raises(InvalidRelatedLink, match="unknown related link"):
        dataclasses.replace(op, see_also=("retried",))


def test_the_same_page_is_linked_once():
    op = _type(
        related="backup_set",
        fields=(IdentityField("backup_set_id", "id"),),
        produces=("made_backup_set",),
    )
    catalog.register_type(op)
    try:
        context = {"inputs": {"backup_set_id": 4}, "produced": {"backup_set_id": 4}}
        assert _links(op.key, context) == [("Backup set", "/backup-sets/4"), ALL]
    finally:
        OPERATION_TYPES.pop(op.key, None)


def test_an_unknown_run_type_still_links_all_operations():
    assert _links("gone.type", {"inputs": {"backup_set_id": 4}}) == [ALL]

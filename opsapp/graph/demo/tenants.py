"""The seeded demo tenants: the same constants drive the demo Graph and opsapp's demo seeding.

The credentials are public demo values that only open the local demo Graph; they deliberately
look like real Entra client secrets so secret-sanitizing can be proven end to end.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoTenant:
    """A deterministic demo tenant; ``size`` is its number of policy objects."""

    slug: str
    name: str
    entra_tenant_id: str
    client_id: str
    client_secret: str
    size: int  # policy objects across all types; Entra groups are half as many (min 20)
    seed: int  # same seed, same objects, on every machine


CONTOSO = DemoTenant(
    slug="contoso",
    name="Contoso (demo)",
    entra_tenant_id="5b0f6c1e-8a43-4d2e-9c6b-2f7a1d9e4c01",
    client_id="0d6f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a51",
    client_secret="cTo8Q~demoContosoSecret.Xk2vLr9WnB7pZs4Tf",
    size=400,
    seed=1001,
)
FABRIKAM = DemoTenant(
    slug="fabrikam",
    name="Fabrikam (demo)",
    entra_tenant_id="9d3e7a52-1f0b-4c8d-a6e4-7b2c9f1d0e02",
    client_id="1e7a2b3c-4d5e-4f6a-9b0c-1d2e3f4a5b62",
    client_secret="fAb3Q~demoFabrikamSecret.Pq7sMn2XcV5bHj8Kd",
    size=5000,
    seed=1002,
)
WOODGROVE = DemoTenant(
    slug="woodgrove",
    name="Woodgrove Bank (demo)",
    entra_tenant_id="2c8b4e19-7d6a-4f3e-b1c5-8e9d0a2f3b03",
    client_id="2f8b3c4d-5e6f-4a7b-8c9d-2e3f4a5b6c73",
    client_secret="wGr5Q~demoWoodgroveSecret.Lz4tRy8UiO1pAs6",
    size=50000,
    seed=1003,
)

DEMO_TENANTS: tuple[DemoTenant, ...] = (CONTOSO, FABRIKAM, WOODGROVE)


def find_demo_tenant(key: str, tenants: tuple[DemoTenant, ...] = DEMO_TENANTS) -> DemoTenant | None:
    """The demo tenant whose slug or Entra tenant id is ``key`` (case-insensitive)."""
    key = key.lower()
    for tenant in tenants:
        if key in (tenant.slug, tenant.entra_tenant_id.lower()):
            return tenant
    return None

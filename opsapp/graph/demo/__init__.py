"""The demo Microsoft Graph: seeded tenants served over the same HTTP shapes as Graph.

Start it standalone with ``python -m opsapp.graph.demo`` (or ``serve(...)``), in a
background thread with ``BackgroundDemoServer``, or in-process with ``make_demo_graph_client``.
"""

from opsapp.graph.demo.app import create_demo_app
from opsapp.graph.demo.faults import Faults
from opsapp.graph.demo.server import (
    IN_PROCESS_BASE_URL,
    BackgroundDemoServer,
    demo_transport,
    make_demo_graph_client,
    serve,
    shared_demo_app,
)
from opsapp.graph.demo.state import DemoGraph
from opsapp.graph.demo.tenants import (
    CONTOSO,
    DEMO_TENANTS,
    FABRIKAM,
    WOODGROVE,
    DemoTenant,
    find_demo_tenant,
)

__all__ = [
    "CONTOSO",
    "DEMO_TENANTS",
    "FABRIKAM",
    "IN_PROCESS_BASE_URL",
    "WOODGROVE",
    "BackgroundDemoServer",
    "DemoGraph",
    "DemoTenant",
    "Faults",
    "create_demo_app",
    "demo_transport",
    "find_demo_tenant",
    "make_demo_graph_client",
    "serve",
    "shared_demo_app",
]

"""Microsoft Graph access: one client interface, a live HTTP implementation, a demo Graph.

Services depend on ``GraphClient`` and catch ``GraphError``; composition code builds a client
with ``make_graph_client`` (live tenants) or ``opsapp.graph.demo.make_demo_graph_client``.
"""

from opsapp.graph.client import MAX_BATCH_REQUESTS, GraphClient
from opsapp.graph.errors import ERROR_CODES, GraphError
from opsapp.graph.http_client import HttpGraphClient, make_graph_client

__all__ = [
    "ERROR_CODES",
    "MAX_BATCH_REQUESTS",
    "GraphClient",
    "GraphError",
    "HttpGraphClient",
    "make_graph_client",
]

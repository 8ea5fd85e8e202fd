"""Shared by the sync tests of this folder: an in-process demo Graph and a client for Contoso."""

import pytest

from opsapp.graph.demo import CONTOSO, create_demo_app, make_demo_graph_client


class Progress:
    """A report_progress callback that keeps every report."""

    def __init__(self):
        self.reports = []

    async def __call__(self, counts, final=False):
        self.reports.append(dict(counts))


@pytest.fixture
def demo_app():
    return create_demo_app()


@pytest.fixture
async def graph(demo_app):
    client = make_demo_graph_client(CONTOSO, app=demo_app, max_sleep=0.01, backoff_base=0.001)
    yield client
    await client.aclose()

"""``python -m opsapp.graph.demo [--host H] [--port P]``: serve the demo Graph."""

from opsapp.graph.demo.server import main

main()

"""One module per page; each exposes its page function and registers nothing by itself."""

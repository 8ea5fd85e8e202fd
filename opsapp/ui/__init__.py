"""Reflex UI: pages, layout and navigation. Nothing outside this package imports it."""

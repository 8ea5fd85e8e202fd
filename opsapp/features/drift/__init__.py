"""Drift detection core: normalize a captured policy version into flat setting paths and diff two."""

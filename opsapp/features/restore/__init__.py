"""Restore: write a backup set's items back to the live tenant (draft → preview → execute)."""

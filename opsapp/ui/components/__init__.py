"""Reusable UI pieces: badges, times, progress, the data table, page frames and empty states."""

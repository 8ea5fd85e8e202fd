"""Backups: backup sets, their items (captured policy versions), and backup schedules."""

"""Membership roles (one per user and tenant). A plain enum with no database imports, so the
command line can offer the choices without loading the models (0.7 s per process)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    owner = "owner"
    manager = "manager"
    operator = "operator"
    readonly = "readonly"

"""Shared UI state: the signed-in session, the current tenant, the list mixin, the bell.

Page states subclass TenantState (one small state per page, named after the page); states hold
plain dicts from the read models, never ORM objects, and do their database work in threads.
"""

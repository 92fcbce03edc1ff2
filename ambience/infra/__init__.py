"""Plumbing with no domain decisions: the broker connection, the store, the job store."""

"""Test doubles for the ingest service's ports (the quarantine lives with the shared fakes)."""

from __future__ import annotations

from tests.fakes import InMemoryQuarantine

__all__ = ["InMemoryQuarantine"]

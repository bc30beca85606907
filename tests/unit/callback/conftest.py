"""The store tests run on SQLite and on a real PostgreSQL, with the very fixtures the other
store tests use (tests/unit/services/conftest.py: a throwaway cluster per session, a schema per
test; no PostgreSQL binaries fails the run, never skips it)."""

from __future__ import annotations

from ..services.conftest import db, db_url, pg_server

__all__ = ["db", "db_url", "pg_server"]

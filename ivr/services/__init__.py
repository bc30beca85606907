"""Layer 4: the services flows call through actions (accounts) and the records calls leave.

Depends on `ari`, `media` and `flow` only; the app (layer 5) wires them in. Everything stored
goes through `db.Database` (SQLite or PostgreSQL, same schema, migrations in the repo).
"""

from __future__ import annotations

from .db import Database, DatabaseError, connect
from .records import OUTCOMES, CallRecord, CallRecordStore

__all__ = ["OUTCOMES", "CallRecord", "CallRecordStore", "Database", "DatabaseError", "connect"]

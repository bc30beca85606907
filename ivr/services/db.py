"""One small async query API over SQLite (the embedded default) and PostgreSQL (production).

The services write their SQL once, with `?` placeholders and the common subset of both
dialects (`INSERT ... ON CONFLICT`, `RETURNING`, TRUE/FALSE); this module translates the
placeholders to PostgreSQL's `$1..` and smooths over the type differences, so the account store
and the call records run unchanged on either. Migrations are numbered SQL files per dialect
(`migrations/<dialect>/NNNN_name.sql`), applied in order, each in its own transaction, and
recorded in `schema_migrations`.

SQLite never blocks the event loop: its one connection lives in one worker thread and every
statement runs there. An asyncio lock keeps a transaction's statements together. Inside
`async with db.transaction()`, calls on the Database itself join that transaction (a
contextvar tracks it), so helpers need not pass the transaction object around.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from .migrations import migrations

Row = dict[str, Any]
T = TypeVar("T")



class DatabaseError(Exception):
    """The database cannot be reached or configured (the message never holds a password)."""


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def as_datetime(value: Any) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite hands back text for expressions)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def to_pg_placeholders(sql: str) -> str:
    """`?` -> `$1, $2...`, leaving quoted text and identifiers alone."""
    out: list[str] = []
    n = 0
    quote: str | None = None
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


class Queries(ABC):
    """What both a Database and a transaction answer to."""

    @abstractmethod
    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement; returns the number of rows it changed."""

    @abstractmethod
    async def fetch_all(self, sql: str, *params: Any) -> list[Row]: ...

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement over many parameter rows (a bulk import); the rows it changed."""
        return sum([await self.execute(sql, *row) for row in rows])

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        rows = await self.fetch_all(sql, *params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        row = await self.fetch_one(sql, *params)
        return None if row is None else next(iter(row.values()))

    @abstractmethod
    async def run_script(self, sql: str) -> None:
        """Run several statements (a migration file)."""

    @abstractmethod
    async def lock(self, key: str) -> None:
        """Serialize transactions on `key` until this transaction ends (check-then-insert)."""


_CURRENT: ContextVar[tuple[Database, Queries] | None] = ContextVar("ivr_db_tx", default=None)


class Database(Queries):
    """A connection (pool) to one database. Make one with `connect(url)`."""

    dialect: str
    url: str
    """The URL with the password redacted."""

    def _joined(self) -> Queries | None:
        current = _CURRENT.get()
        return current[1] if current is not None and current[0] is self else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        """All or nothing. Nested use joins the outer transaction."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        async with self._begin() as tx:
            token = _CURRENT.set((self, tx))
            try:
                yield tx
            finally:
                _CURRENT.reset(token)

    @abstractmethod
    def _begin(self) -> Any:
        """An async context manager: a new transaction's Queries."""

    @abstractmethod
    def _outside(self) -> Any:
        """An async context manager: Queries for one statement outside any transaction."""

    @asynccontextmanager
    async def _queries(self) -> AsyncIterator[Queries]:
        joined = self._joined()
        if joined is not None:
            yield joined
        else:
            async with self._outside() as queries:
                yield queries

    async def execute(self, sql: str, *params: Any) -> int:
        async with self._queries() as q:
            return await q.execute(sql, *params)

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        async with self._queries() as q:
            return await q.fetch_all(sql, *params)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        async with self._queries() as q:
            return await q.execute_many(sql, rows)

    async def run_script(self, sql: str) -> None:
        async with self.transaction() as tx:
            await tx.run_script(sql)

    async def lock(self, key: str) -> None:
        """Inside a transaction, the transaction's lock; outside, nothing to hold it for."""
        if (tx := self._joined()) is not None:
            await tx.lock(key)

    @abstractmethod
    async def close(self) -> None: ...

    async def migrate(self) -> list[str]:
        """Apply the pending migrations in order; returns the ones applied (idempotent)."""
        applied: list[str] = []
        for m in migrations(self.dialect):
            async with self.transaction() as tx:
                await tx.lock("schema_migrations")
                await tx.run_script(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at TIMESTAMPTZ NOT NULL)"
                )
                if await tx.fetch_one(
                    "SELECT version FROM schema_migrations WHERE version = ?", m.version
                ):
                    continue
                await tx.run_script(m.sql)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    m.version, m.name, dt.datetime.now(dt.UTC),
                )
                applied.append(f"{m.version:04d}_{m.name}")
        return applied

    async def applied_migrations(self) -> list[int]:
        rows = await self.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
        return [int(r["version"]) for r in rows]

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Database {self.url}>"


# --- SQLite -------------------------------------------------------------------------------------

def _sqlite_param(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# Converters apply only to connections opened with PARSE_DECLTYPES (ours); the names are the
# column types our migrations declare. DATE does what Python's deprecated default did.
sqlite3.register_converter("TIMESTAMPTZ", lambda b: as_datetime(b.decode()))
sqlite3.register_converter("DATE", lambda b: dt.date.fromisoformat(b.decode()))
sqlite3.register_converter("BOOLEAN", lambda b: b not in (b"0", b""))


class _SqliteQueries(Queries):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, *params: Any) -> int:
        return await self._db._run(self._db._execute_sync, sql, params)

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        return await self._db._run(self._db._fetch_sync, sql, params)

    async def run_script(self, sql: str) -> None:
        await self._db._run(self._db._script_sync, sql)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One hop to the database thread for the whole batch, not one per row."""
        return await self._db._run(self._db._execute_many_sync, sql, rows)

    async def lock(self, key: str) -> None:
        """BEGIN IMMEDIATE already holds SQLite's one write lock for the whole transaction."""


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ivr-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._tx = _SqliteQueries(self)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args))

    def _open_sync(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                               detect_types=sqlite3.PARSE_DECLTYPES, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._conn = conn

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise DatabaseError(f"{self.url} is closed")
        return self._conn

    def _execute_sync(self, sql: str, params: Sequence[Any]) -> int:
        cur = self._c().execute(sql, [_sqlite_param(p) for p in params])
        try:
            return cur.rowcount
        finally:
            cur.close()

    def _execute_many_sync(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        cur = self._c().executemany(sql, ([_sqlite_param(p) for p in row] for row in rows))
        try:
            return cur.rowcount
        finally:
            cur.close()

    def _fetch_sync(self, sql: str, params: Sequence[Any]) -> list[Row]:
        cur = self._c().execute(sql, [_sqlite_param(p) for p in params])
        try:
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            cur.close()

    def _rollback_sync(self) -> None:
        if self._conn is not None and self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _script_sync(self, sql: str) -> None:
        """Statement by statement: executescript() would COMMIT the open transaction."""
        pending = ""
        for line in sql.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                self._c().execute(pending)
                pending = ""
        if any(ln.strip() and not ln.strip().startswith("--") for ln in pending.splitlines()):
            self._c().execute(pending)  # the last statement, without its semicolon

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[Queries]:
        async with self._lock:
            await self._run(self._execute_sync, "BEGIN IMMEDIATE", ())
            try:
                yield self._tx
                await self._run(self._execute_sync, "COMMIT", ())
            except BaseException:  # the body or the COMMIT failed: never leave it open
                await asyncio.shield(self._run(self._rollback_sync))
                raise

    @asynccontextmanager
    async def _outside(self) -> AsyncIterator[Queries]:
        async with self._lock:  # wait for a transaction in progress to finish
            yield self._tx

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                await self._run(self._c().close)
                self._conn = None
        self._thread.shutdown(wait=False)


# --- PostgreSQL ---------------------------------------------------------------------------------

def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgQueries(Queries):
    def __init__(self, conn: Any) -> None:
        self._conn = conn  # a connection, or the pool (same methods, one statement each)

    async def execute(self, sql: str, *params: Any) -> int:
        return _rowcount(await self._conn.execute(to_pg_placeholders(sql), *params))

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        rows = await self._conn.fetch(to_pg_placeholders(sql), *params)
        return [dict(r.items()) for r in rows]

    async def run_script(self, sql: str) -> None:
        await self._conn.execute(sql)  # no arguments: the simple protocol runs many statements

    async def lock(self, key: str) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = redact_url(url)

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[Queries]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgQueries(conn)

    @asynccontextmanager
    async def _outside(self) -> AsyncIterator[Queries]:
        yield _PgQueries(self._pool)

    async def close(self) -> None:
        await self._pool.close()


async def connect(url: str, *, min_size: int = 1, max_size: int = 10) -> Database:
    """`sqlite:///abs/path.db` (`sqlite:////abs/path.db` and `sqlite:///:memory:` too) or
    `postgresql://user:pass@host:port/db`.

    PostgreSQL query parameters other than libpq's are server settings
    (`?search_path=tenant1`). The pool sizes apply to PostgreSQL only.
    """
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if path == "/:memory:":
            path = ":memory:"
        elif path.startswith("/"):
            path = "/" + path.lstrip("/")  # sqlite:////abs/path.db (SQLAlchemy's form) too
        else:
            raise DatabaseError("a SQLite URL takes an absolute path: sqlite:///abs/path.db")
        db = SqliteDatabase(path)
        try:
            await db._run(db._open_sync)
        except (sqlite3.Error, OSError) as exc:
            await db.close()
            raise DatabaseError(f"cannot open {db.url}: {exc}") from exc
        return db
    if url.startswith(("postgresql://", "postgres://")):
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size,
                                             timeout=10.0, command_timeout=30.0)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseError(
                f"cannot connect to {redact_url(url)}: {type(exc).__name__}"
            ) from None  # asyncpg's own messages may quote the DSN
        return PostgresDatabase(pool, url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise DatabaseError(f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgresql://")

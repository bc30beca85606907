"""Fixtures for the unit tests.

The ARI ones serve the tests that talk to a fake Asterisk: a module defines `fake` (its
FakeAri) and gets a started `client` and the `unclaimed` events it saw.

The database ones serve every store test (tests/unit/services, tests/unit/callback): `db_url`
and `db` come once per dialect, SQLite and a real PostgreSQL. The PostgreSQL is a throwaway
cluster for the test session (`pg_server`, started the first time a test asks for it):
`initdb` into a temporary folder (as the `postgres` OS user when the tests run as root, since
PostgreSQL refuses to run as root), started on a free port on 127.0.0.1 with password
authentication, stopped and removed at the end. Each test gets its own schema
(`?search_path=`), so tests never see each other's rows and no database has to be created per
test. Without the PostgreSQL binaries the fixture fails, never skips: `make test` installs
them (Debian package `postgresql`). Defined here, the common parent of the folders that use
them, so the whole run shares one cluster.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.ari import AriClient, Event
from ivr.services.db import Database, connect
from tests.fakeari import FakeAri


@pytest.fixture(autouse=True)
def _no_e2e_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test sees the defaults, not the Asterisk instance of the xdist worker it runs on
    (tests/e2e/conftest.py puts that in the worker's environment)."""
    monkeypatch.delenv("IVR_ASTERISK_INSTANCE", raising=False)
    monkeypatch.delenv("IVR_SIP_HOST", raising=False)


@pytest.fixture
async def client(fake: FakeAri) -> AsyncIterator[AriClient]:
    ari = AriClient(fake.config())
    await ari.start(wait=2.0)
    yield ari
    await ari.close()


@pytest.fixture
def unclaimed(client: AriClient) -> list[Event]:
    seen: list[Event] = []
    client.on_unclaimed(seen.append)
    return seen


# -- databases -------------------------------------------------------------------------------

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "ivr_test"
PG_DB = "ivr_test"


@dataclass(frozen=True)
class PgServer:
    bin_dir: Path
    data_dir: Path
    port: int
    password: str
    started_in: float

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{PG_DB}"

    def psql(self, sql: str) -> None:
        subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", PG_USER, "-d", PG_DB, "-c", sql],
            check=True, capture_output=True, env={**os.environ, "PGPASSWORD": self.password},
        )


def _bin_dir() -> Path:
    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.parent.name))

    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=version)
    if not found:
        pytest.fail(
            f"PostgreSQL server binaries not found under {PG_ROOT}/<version>/bin: the account "
            "and call-record tests need a real PostgreSQL. Install the Debian package "
            "`postgresql` (`make test` does), e.g. apt-get install -y postgresql",
            pytrace=False,
        )
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _bin_dir()
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, but there is no `postgres` OS user to run "
                        "PostgreSQL as (install the Debian package `postgresql`)", pytrace=False)
        prefix = ["runuser", "-u", "postgres", "--"]
    began = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
    if as_root:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, sockets, log = base / "data", base / "sock", base / "server.log"
    password = secrets.token_hex(12)
    (base / "pw").write_text(password)
    if as_root:
        os.chown(base / "pw", owner.pw_uid, owner.pw_gid)

    def run(*cmd: str) -> None:
        done = subprocess.run([*prefix, *cmd], cwd=base, capture_output=True, text=True)
        if done.returncode:
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()}\n{tail}",
                        pytrace=False)

    port = _free_port()
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={base / 'pw'}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
        "--no-sync")
    if as_root:
        run("mkdir", "-p", str(sockets))
    else:
        sockets.mkdir()
    options = (f"-k {sockets} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30",
        "-o", options, "start")
    server = PgServer(bin_dir, data, port, password, 0.0)
    try:
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER,
             PG_DB], check=True, capture_output=True, env={**os.environ, "PGPASSWORD": password},
        )
        server = PgServer(bin_dir, data, port, password, time.monotonic() - began)
        yield server
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], cwd=base, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty database of each dialect (a fresh schema on the session's PG)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'ivr.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    schema = f"t_{secrets.token_hex(6)}"
    server.psql(f"CREATE SCHEMA {schema}")
    return f"{server.url}?search_path={schema}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database of each dialect."""
    database = await connect(db_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()

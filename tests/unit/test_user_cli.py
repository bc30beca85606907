"""`ivr user ...` and the first admin of `ivr run`, on a real SQLite database."""

from __future__ import annotations

import asyncio
import io
import stat
from pathlib import Path

import pytest

from ivr.app.cli import main
from ivr.app.user_cli import first_admin
from ivr.services.db import connect
from ivr.services.users import LoginResult, UserStore


def ivr_user(monkeypatch: pytest.MonkeyPatch, url: str, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["user", *args, "--url", url])


async def login(url: str, name: str, password: str) -> LoginResult:
    async with await connect(url) as db:
        return (await UserStore(db).login(name, password, "test"))[0]


def test_add_list_passwd_token_disable(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ivr.db"
    assert ivr_user(monkeypatch, url, "add", "ana", "--role", "agent", "--agent", "a1",
                    "--password", "-", stdin="first password\n") == 0
    assert ivr_user(monkeypatch, url, "add", "sam", "--role", "supervisor", "--queues",
                    "general, vip", "--password", "-", stdin="second password\n") == 0
    capsys.readouterr()
    assert ivr_user(monkeypatch, url, "list") == 0
    assert capsys.readouterr().out.splitlines() == ["ana  agent  a1",
                                                    "sam  supervisor  general,vip"]
    assert asyncio.run(login(url, "ana", "first password")) is LoginResult.OK
    assert ivr_user(monkeypatch, url, "passwd", "ana", "--password", "-",
                    stdin="a new password\n") == 0
    assert asyncio.run(login(url, "ana", "a new password")) is LoginResult.OK
    capsys.readouterr()
    assert ivr_user(monkeypatch, url, "token", "ana", "--label", "ci") == 0
    assert capsys.readouterr().out.strip().startswith("ivr_")
    assert ivr_user(monkeypatch, url, "disable", "ana") == 0
    assert asyncio.run(login(url, "ana", "a new password")) is LoginResult.INVALID


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("add", "ana", "--role", "agent", "--password", "-"), "long enough pw", "agent id"),
    (("add", "ana", "--role", "admin", "--password", "-"), "short", "at least 10"),
    (("add", "ana", "--role", "admin", "--password", "in-the-history"), "", "only '-'"),
    (("add", "ana", "--password", "-"), "long enough pw", "--role"),
    (("passwd", "nobody", "--password", "-"), "long enough pw", "no user 'nobody'"),
    (("token",), "", "name the user"),
])
def test_bad_commands_say_what_is_wrong(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        args: tuple[str, ...], stdin: str,
                                        message: str) -> None:
    assert ivr_user(monkeypatch, f"sqlite:///{tmp_path}/ivr.db", *args, stdin=stdin) == 2
    assert message in capsys.readouterr().err


def test_the_first_admin_gets_a_random_password_in_a_private_file(tmp_path: Path) -> None:
    url, secret = f"sqlite:///{tmp_path}/ivr.db", tmp_path / "state" / "admin-password"
    assert asyncio.run(first_admin(url, secret))
    password = secret.read_text().strip()
    assert len(password) >= 20 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert asyncio.run(login(url, "admin", password)) is LoginResult.OK
    assert not asyncio.run(first_admin(url, secret))  # never again once there are users
    assert secret.read_text().strip() == password

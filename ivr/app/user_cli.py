"""`ivr user add | passwd | list | token | revoke | disable | enable`: the console's users.

    ivr user add admin --role admin                 # asks for the password twice
    ivr user add ana --role agent --agent agent1001
    ivr user add sam --role supervisor --queues sales,support
    echo "$PASSWORD" | ivr user passwd ana --password -
    ivr user token ci-reporting --label nightly      # printed once; only its hash is kept

Passwords are read from the terminal (or stdin with `--password -`), never from an argument:
arguments are in the shell's history and in every process listing.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from pathlib import Path

from ..services.db import DatabaseError, connect
from ..services.users import UserError, UserStore
from .config import database_url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("user", help="users of the web console and the REST API")
    p.add_argument("action", choices=["add", "passwd", "list", "token", "revoke", "disable",
                                      "enable"])
    p.add_argument("name", nargs="?", help="the user (1-64 of a-z 0-9 . _ @ -)")
    p.add_argument("--role", choices=["agent", "supervisor", "reporting", "admin"])
    p.add_argument("--agent", default="", help="an agent user's ACD agent id")
    p.add_argument("--queues", default="", help="a supervisor's queues, comma-separated")
    p.add_argument("--password", help="'-' reads it from stdin (default: asked twice)")
    p.add_argument("--label", default="", help="what a token is for (ivr user token)")
    p.add_argument("--url", help="database URL (default: IVR_DATABASE_URL or the state folder)")
    p.set_defaults(func=run)


def _password(args: argparse.Namespace) -> str:
    if args.password == "-":
        return sys.stdin.readline().rstrip("\n")
    if args.password is not None:
        raise UserError("--password takes only '-' (stdin): an argument would be in the "
                        "shell's history")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ")
    return first


async def _run(args: argparse.Namespace) -> int:
    async with await connect(args.url or database_url()) as db:
        await db.migrate()
        users = UserStore(db)
        if args.action == "list":
            for user in await users.all():
                scope = user.agent_id or ",".join(user.queues)
                print(f"{user.name}  {user.role.value}{'  ' + scope if scope else ''}"
                      f"{'  (disabled)' if user.disabled else ''}")
            return 0
        if not args.name:
            raise UserError(f"ivr user {args.action}: name the user")
        if args.action == "add":
            if not args.role:
                raise UserError("ivr user add: --role agent|supervisor|reporting|admin")
            queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
            user = await users.add(args.name, args.role, _password(args),
                                   agent_id=args.agent, queues=queues)
            print(f"user {user.name} added ({user.role.value})")
        elif args.action == "passwd":
            if not await users.set_password(args.name, _password(args)):
                raise UserError(f"no user {args.name!r}")
            print(f"user {args.name}: new password; its browser sessions ended")
        elif args.action == "token":
            print(await users.new_token(args.name, args.label))
        elif args.action == "revoke":
            print(f"user {args.name}: {await users.revoke_tokens(args.name)} token(s) revoked")
        else:
            if not await users.set_disabled(args.name, args.action == "disable"):
                raise UserError(f"no user {args.name!r}")
            print(f"user {args.name}: {args.action}d")
    return 0


async def first_admin(url: str, password_file: Path) -> bool:
    """On a database with no user at all (a first `ivr run`): an `admin` with a random password,
    written to `password_file` (mode 0600), never printed. False when there are users already."""
    async with await connect(url) as db:
        await db.migrate()
        users = UserStore(db)
        if await users.all():
            return False
        password = secrets.token_urlsafe(15)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        await users.add("admin", "admin", password)
        return True


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except UserError as exc:
        print(f"ivr user: {exc}", file=sys.stderr)
        return 2
    except (DatabaseError, OSError) as exc:
        print(f"ivr user: {exc}", file=sys.stderr)
        return 1

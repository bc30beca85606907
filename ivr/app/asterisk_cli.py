"""`ivr asterisk up | down | status | cli`: the provisioning module's commands for people."""

from __future__ import annotations

import subprocess
import sys

from ivr.app import asterisk
from ivr.app.paths import agents_env_file, ari_env_file

_USAGE = 'usage: ivr asterisk up | down | status | cli "<asterisk CLI command>"'


def cli(argv: list[str]) -> int:
    """`ivr asterisk ...`: human-readable lines; exit code 0 on success."""
    if not argv or argv[0] not in ("up", "down", "status", "cli"):
        print(_USAGE, file=sys.stderr)
        return 2
    try:
        if argv[0] == "up":
            rt = asterisk.up()
            print(
                f"mode:      {rt.mode}\nari:       {rt.ari_url} (user {rt.ari_username}, "
                f"password in {ari_env_file()})\nsip:       sip:100@{rt.sip_uri_host}\n"
                f"agents:    {agents_env_file()}\nlog:       {rt.log_file}"
            )
        elif argv[0] == "down":
            asterisk.down()
            left = asterisk.status()["mounts"]
            print("asterisk: stopped" + (f"; mounts kept for the other instances: {left}"
                                         if left else ", nothing mounted"))
        elif argv[0] == "status":
            for key, value in asterisk.status().items():
                print(f"{key + ':':10} {value}")
        else:
            if len(argv) < 2:
                print(_USAGE, file=sys.stderr)
                return 2
            print(asterisk.rx(" ".join(argv[1:])), end="")
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"asterisk: error: {e}", file=sys.stderr)
        return 1
    return 0

"""Where ivr keeps things outside the clone: the Asterisk root cache and runtime state.

Both live outside the working tree so a fresh clone (CI) reuses a root bootstrapped earlier on
the same machine, and nothing generated is ever committed.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout that holds asterisk-conf/, flows/ and prompts/ (overridable for installs)."""
    env = os.environ.get("IVR_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Large, re-creatable things: the bootstrapped Debian root with Asterisk 22."""
    env = os.environ.get("IVR_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ivr"


def state_dir() -> Path:
    """Small runtime state: pid files, the generated ARI credentials (ari.env), logs."""
    env = os.environ.get("IVR_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ivr"


def ari_env_file() -> Path:
    """Written by `ivr asterisk up`: IVR_ARI_URL, IVR_ARI_USERNAME, IVR_ARI_PASSWORD lines."""
    return state_dir() / "ari.env"


def agents_env_file() -> Path:
    """Written by `ivr asterisk up`: the generated SIP passwords of the agent endpoints."""
    return state_dir() / "agents.env"

